"""The loopback OpenAI-compatible server (aiohttp.web on 127.0.0.1, random port).

``POST .../v1/chat/completions`` answers with a pre-built stream or completion shaped by the
path settings (:mod:`bench.server.config`) and, in tests, by queued faults
(:mod:`bench.server.faults`). ``GET .../v1/models`` lists model ``x`` for clients that ask.
Every other path is a 404 in OpenAI's error shape. Requests can be recorded for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from bench.server import bodies
from bench.server.config import ReplyConfig, base_path, parse_path
from bench.server.faults import Fault, FaultKind


@dataclass(frozen=True, slots=True)
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class LoopbackServer:
    """See the module docstring. ``default`` applies to paths without settings segments."""

    def __init__(self, default: ReplyConfig | None = None, *, record: bool = False) -> None:
        self.default = default or ReplyConfig()
        self.record = record
        self.requests: list[SeenRequest] = []
        self.faults: deque[Fault | None] = deque()
        self.port = 0
        self.handled = 0
        self.client_gone = 0  # replies the client abandoned (cancellation reached the socket)
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> LoopbackServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", "/{tail:.*}", self._post)
        app.router.add_route("GET", "/{tail:.*}", self._get)
        # Closing does not wait for handlers still sleeping on an injected delay.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await self._runner.setup()
        # 1,000 clients connect at once in the concurrency bench: keep the accept queue deep.
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=4096)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LoopbackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, config: ReplyConfig | None = None) -> str:
        """An OpenAI ``base_url`` (ending in ``/v1``) that selects ``config``."""
        return self.url + (base_path(config) if config is not None else "/v1")

    def open_connections(self) -> int:
        """Client connections the server currently holds open (leak checks)."""
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    def script(self, *faults: Fault | None) -> None:
        """Queue what the next requests get, in order (``None`` = a normal reply)."""
        self.faults.extend(faults)

    # -- handlers ----------------------------------------------------------------------------

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/models"):
            return web.json_response({"object": "list", "data": [{"id": "x", "object": "model"}]})
        return _error(404, "not found", "invalid_request_error")

    async def _post(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.handled += 1
        if self.record:
            self.requests.append(SeenRequest(request.path, dict(request.headers), raw))
        if not request.path.endswith("/chat/completions"):
            return _error(404, f"no route {request.path}", "invalid_request_error")
        try:
            config = parse_path(request.path, self.default)
        except ValueError as exc:
            return _error(400, str(exc), "invalid_request_error")
        fault = self.faults.popleft() if self.faults else None
        delay = config.latency_ms / 1000 + (fault.delay_s if fault and fault.kind is FaultKind.SLOW else 0)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None and fault.kind is FaultKind.STATUS:
            return _status_fault(fault, request)
        wants_stream = b'"stream":true' in raw.replace(b" ", b"")
        whole = fault is None or fault.kind is FaultKind.SLOW
        if whole and (config.force_json or not wants_stream):
            return web.Response(
                body=bodies.completion_body(config.chunks, config.size), content_type="application/json"
            )
        return await self._stream(request, config, fault)

    async def _stream(
        self, request: web.Request, config: ReplyConfig, fault: Fault | None
    ) -> web.StreamResponse:
        events = bodies.stream_events(config.chunks, config.size)
        mid_stream = fault is not None and fault.kind is not FaultKind.SLOW
        if not mid_stream and not config.interval_ms:
            body = bodies.stream_body(config.chunks, config.size)
            return web.Response(body=body, content_type="text/event-stream")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        cut = 1 + min(fault.after, config.chunks) if mid_stream and fault is not None else len(events)
        try:
            await self._write(response, events[:cut], config.interval_ms)
            if mid_stream and fault is not None:
                await self._strike(request, response, fault)
                return response
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            self.client_gone += 1
        return response

    async def _write(
        self, response: web.StreamResponse, events: tuple[bytes, ...], interval_ms: float
    ) -> None:
        if not interval_ms:
            await response.write(b"".join(events))
            return
        for event in events:
            await response.write(event)
            await asyncio.sleep(interval_ms / 1000)

    async def _strike(self, request: web.Request, response: web.StreamResponse, fault: Fault) -> None:
        kind = fault.kind
        if kind is FaultKind.ERROR_EVENT:
            await response.write(bodies.error_event(fault.message, fault.error_type))
            await response.write_eof()
        elif kind is FaultKind.TRUNCATE:
            await response.write_eof()
        elif kind is FaultKind.MALFORMED:
            await response.write(bodies.MALFORMED_EVENT)
            await response.write(bodies.chunk({}, "stop") + b"data: [DONE]\n\n")
            await response.write_eof()
        elif kind is FaultKind.RESET:
            _reset(request)
        elif kind is FaultKind.STALL:
            await _wait_until_gone(request)
            self.client_gone += 1


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=bodies.error_body(status, message, kind),
        content_type="application/json",
        headers=headers,
    )


def _status_fault(fault: Fault, request: web.Request) -> web.Response:
    message = fault.message
    if fault.echo_authorization:
        # Some gateways echo the credential they refused; the client must never show it.
        message = f"{message}: refused credential {request.headers.get('Authorization', '')}"
    return _error(fault.status, message, fault.error_type, {"x-request-id": "req_bench", **fault.headers})


def _reset(request: web.Request) -> None:
    """Close with SO_LINGER 0, so the client gets a TCP RST rather than a clean EOF."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _wait_until_gone(request: web.Request) -> None:
    # aiohttp gives a running handler no disconnect callback: poll the transport.
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(0.005)
