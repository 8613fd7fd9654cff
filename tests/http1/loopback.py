"""A scripted raw HTTP/1.1 server on loopback for the http1 client tests.

Each request is handed to ``script(request, writer)``, which writes whatever the test needs
(a normal reply, a chunked one, half a body then a close...). The server counts connections so
keep-alive reuse and the pool limit can be asserted where they happen: at the server.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which accepted connection carried it (1-based)


Script = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def reply_bytes(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chunked_bytes(pieces: list[bytes], headers: dict[str, str] | None = None) -> bytes:
    head = ["HTTP/1.1 200 OK", "transfer-encoding: chunked"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    for piece in pieces:
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


async def ok(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(reply_bytes(200, b'{"ok": true}', {"content-type": "application/json"}))


@dataclass
class LoopbackServer:
    script: Script = ok
    tls: ssl.SSLContext | None = None
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[Request] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    port: int = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self._writers.add(writer)
        try:
            while not writer.is_closing():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, target, headers, body, number)
                self.requests.append(request)
                await self.script(request, writer)
                if not writer.is_closing():
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            self.open_now -= 1
            self._writers.discard(writer)
            writer.close()
