"""A loopback replay server for provider engine tests.

It serves recorded responses from ``tests/fixtures/providers/`` with the status and headers of
their ``.meta.json``; ``.chunks.txt`` files (payload-only JSON lines) are re-framed into the
provider's SSE framing. Every request is recorded so tests can assert what the engine sent.
Replies are queued: each incoming request takes the next one, whatever its path, which lets a
test script "429, then 200" for retry checks.

Knobs per reply: ``split`` (``whole``, ``lines`` or ``random`` byte splits, including inside
multi-byte characters and ``\\r\\n``), ``cut_after`` (truncate the body), ``abort`` (close the
socket abruptly after the body), ``stall`` (after writing the body, keep the connection open
until the client goes away; ``disconnected`` is set when it does).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"

_CONTENT_TYPES = {
    ".sse": "text/event-stream; charset=utf-8",
    ".ndjson": "application/x-ndjson",
    ".json": "application/json",
}
# Hop-by-hop or body-encoding headers that must not be replayed (bodies are stored decoded).
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection"}


@dataclass
class Reply:
    """One canned HTTP response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    split: str = "whole"  # whole | lines | random
    seed: int = 0
    cut_after: int | None = None
    abort: bool = False
    stall: bool = False
    delay_s: float = 0.0  # before the status line


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


def _provider_dir(name: str) -> str:
    return name.split("/", 1)[0]


def reframe_chunks(provider: str, text: str) -> bytes:
    """Turn payload-only JSON lines into the provider's SSE framing."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if provider in ("anthropic", "openai_responses"):
            event_type = orjson.loads(line).get("type", "message")
            out.append(f"event: {event_type}\ndata: {line}\n\n")
        elif provider == "gemini":
            out.append(f"data: {line}\r\n\r\n")
        else:
            out.append(f"data: {line}\n\n")
    if provider == "openai_chat":
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def json_to_sse(body: bytes) -> bytes:
    """Wrap a JSON response (object or array of objects) into Gemini-style SSE events."""
    value = orjson.loads(body)
    items = value if isinstance(value, list) else [value]
    return b"".join(b"data: " + orjson.dumps(item) + b"\r\n\r\n" for item in items)


def load_fixture(name: str, *, as_sse: bool = False, status: int | None = None, **knobs: Any) -> Reply:
    """Build a :class:`Reply` from ``tests/fixtures/providers/<name>``."""
    path = FIXTURES / name
    raw = path.read_bytes()
    headers: dict[str, str] = {}
    reply_status = 200
    if name.endswith(".chunks.txt"):
        body = reframe_chunks(_provider_dir(name), raw.decode())
        headers["content-type"] = _CONTENT_TYPES[".sse"]
    else:
        body = raw
        headers["content-type"] = _CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        meta_path = path.with_name(path.name[: -len(path.suffix)] + ".meta.json")
        if meta_path.exists():
            response = orjson.loads(meta_path.read_bytes()).get("response") or {}
            reply_status = int(response.get("status") or 200)
            for key, values in (response.get("headers") or {}).items():
                if key.lower() in _DROP_HEADERS:
                    continue
                headers[key.lower()] = ", ".join(values) if isinstance(values, list) else str(values)
    if as_sse:
        body = json_to_sse(body)
        headers["content-type"] = "text/event-stream"
    return Reply(status=status if status is not None else reply_status, headers=headers, body=body, **knobs)


def _pieces(reply: Reply) -> list[bytes]:
    body = reply.body if reply.cut_after is None else reply.body[: reply.cut_after]
    if reply.split == "lines":
        return body.splitlines(keepends=True)
    if reply.split == "random":
        rng = random.Random(reply.seed)
        pieces, start = [], 0
        while start < len(body):
            end = min(len(body), start + rng.randint(1, 64))
            pieces.append(body[start:end])
            start = end
        return pieces
    return [body]


class ReplayServer:
    """aiohttp server on 127.0.0.1 with a random port; see the module docstring."""

    def __init__(self) -> None:
        self.queue: list[Reply] = []
        self.requests: list[RecordedRequest] = []
        self.disconnected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def enqueue(self, reply: Reply | str, **options: Any) -> Reply:
        if isinstance(reply, str):
            reply = load_fixture(reply, **options)
        self.queue.append(reply)
        return reply

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> ReplayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                request.method, request.path, dict(request.query), CIMultiDict(request.headers), body
            )
        )
        if not self.queue:
            return web.json_response({"error": {"message": "replay server: no reply queued"}}, status=418)
        reply = self.queue.pop(0)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        await response.prepare(request)
        try:
            for piece in _pieces(reply):
                await response.write(piece)
                if reply.split != "whole":
                    await asyncio.sleep(0)
            if reply.stall:
                await self._wait_for_disconnect(request)
                return response
        except (ConnectionResetError, ConnectionError):
            self.disconnected.set()
            return response
        if reply.abort and request.transport is not None:
            request.transport.abort()
            return response
        await response.write_eof()
        return response

    async def _wait_for_disconnect(self, request: web.Request) -> None:
        # aiohttp offers no disconnect callback to a running handler; poll the transport state.
        while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        self.disconnected.set()
