"""The bench server without an HTTP library: HTTP/1.1 keep-alive on a bare ``asyncio.Protocol``.

Why: aiohttp.web costs 0.2-0.4 ms of server CPU per request on this machine, which inflates the
floor row and so squeezes every "x floor" ratio; the peer baselines used a raw-protocol server.
It serves the same bytes as :class:`bench.server.app.LoopbackServer` for the benchmark paths
(``POST .../chat/completions`` with the path settings of :mod:`bench.server.config`,
``GET .../models``, a 404 otherwise); faults and request recording stay with the aiohttp server
used by the tests. Replies carry ``Content-Length`` and are written in one ``write`` (a stream
too, as the peer baselines did), and latency is a ``loop.call_later``. :func:`event_loop_name`
says whether uvloop served.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from bench.server import bodies
from bench.server.config import ReplyConfig, parse_path

_MAX_HEAD = 64 * 1024


def _response(status: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


def _error(status: str, message: str) -> bytes:
    body = bodies.error_body(int(status.split()[0]), message, "invalid_request_error")
    return _response(status, body, "application/json")


class _Replies:
    """Whole responses (head and body) per path, built once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bool], tuple[float, bytes]] = {}

    def get(self, path: str, wants_stream: bool) -> tuple[float, bytes]:
        key = (path, wants_stream)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._build(path, wants_stream)
        return hit

    @staticmethod
    def _build(path: str, wants_stream: bool) -> tuple[float, bytes]:
        if not path.endswith("/chat/completions"):
            return 0.0, _error("404 Not Found", f"no route {path}")
        try:
            config = parse_path(path, ReplyConfig())
        except ValueError as exc:
            return 0.0, _error("400 Bad Request", str(exc))
        if config.interval_ms:
            return 0.0, _error("400 Bad Request", "the raw server does not pace streams: use the aiohttp one")
        chunks, size = config.chunks, config.size
        if config.force_json or not wants_stream:
            reply = _response("200 OK", bodies.completion_body(chunks, size), "application/json")
        else:
            reply = _response("200 OK", bodies.stream_body(chunks, size), "text/event-stream")
        return config.latency_ms / 1000, reply


_MODELS = _response("200 OK", b'{"object":"list","data":[{"id":"x","object":"model"}]}', "application/json")


class _HTTP(asyncio.Protocol):
    __slots__ = ("_buffer", "_loop", "_replies", "_transport")

    def __init__(self, replies: _Replies) -> None:
        self._replies = replies
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: an isinstance check refuses them
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    self._close()
                    return
                break
            head = buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, path = lines[0].split(" ", 2)[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(buffer) < end + 4 + length:
                break
            body = buffer[end + 4 : end + 4 + length]
            buffer = buffer[end + 4 + length :]
            self._answer(method, path.split("?", 1)[0], body)
        self._buffer = buffer

    def _answer(self, method: str, path: str, body: bytes) -> None:
        if method == "GET" and path.endswith("/models"):
            self._send(_MODELS)
            return
        wants_stream = b'"stream":true' in body.replace(b" ", b"")
        delay, reply = self._replies.get(path, wants_stream)
        if delay:
            self._loop.call_later(delay, self._send, reply)
        else:
            self._send(reply)

    def _send(self, reply: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(reply)

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class RawServer:
    """Serve on 127.0.0.1 (``port`` 0 picks one); ``url`` once started."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._replies = _Replies()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> RawServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _HTTP(self._replies), "127.0.0.1", port, backlog=4096)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def __aenter__(self) -> RawServer:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def event_loop_name() -> str:
    """``uvloop`` when it is installed (the raw server then runs on it), else ``asyncio``."""
    import importlib.util

    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
