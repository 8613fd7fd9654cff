"""A lean keep-alive HTTP/1.1 client for the provider engines' hot path.

Why: aiohttp's client costs about three times the floor's CPU per call (its request object,
header multidicts, stream reader, timer context managers), and on 1,000 concurrent sessions
every row is CPU-bound. This client does only what the engines need: ``POST`` a prepared
request (the head is encoded once per template), parse the reply with ``httptools`` (llhttp,
in C), and hand the body over as it arrives. It runs on any asyncio loop (uvloop included).

What it does: one pool per (scheme, host, port) with a connection limit (callers wait for a
free slot), TLS through a stdlib :class:`ssl.SSLContext`, ``Content-Length``, chunked and
read-until-close bodies, ``gzip``/``deflate`` content decoding (the SDK's template asks for
them), backpressure (``pause_reading`` when the consumer lags), a connect timeout and a read
timeout between bytes, and a connection found dead before the request is written is replaced by
a fresh one. What it leaves to the caller (``transport.Carrier`` sends those through aiohttp):
proxies, redirects, ``Expect``, other schemes. Errors are :class:`Http1Error` subclasses whose
names and bases say what :func:`~geppetto.engines.providers.errors.map_exception` needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import httptools

# Body bytes buffered unread before reading pauses; it resumes once the consumer took them.
HIGH_WATER = 256 * 1024
# An idle connection older than this is not reused (aiohttp's keep-alive default).
IDLE_SECONDS = 15.0


class Http1Error(Exception):
    """Base of this client's failures."""


class ConnectError(Http1Error, ConnectionError):
    """The connection (TCP or TLS) could not be opened."""


class ConnectTimeoutError(Http1Error, TimeoutError):
    """Opening the connection took longer than the connect timeout."""


class ReadTimeoutError(Http1Error, TimeoutError):
    """No byte arrived for the read timeout while the reply was awaited."""


class ServerDisconnectedError(Http1Error):
    """The server closed the connection before the reply was complete."""


class ProtocolError(Http1Error):
    """The server's bytes are not a valid HTTP/1.1 reply."""


_MISSING: Any = object()


class Headers(dict[str, str]):
    """Reply headers by lower-case name (the last of repeated ones; ``raw`` keeps them all)."""

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)  # callers mostly ask in lower case already
        if value is _MISSING:
            return dict.get(self, key.lower(), default) if not key.islower() else default
        return value

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.lower() if isinstance(key, str) else key)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request head encoded once: where it goes and every header but the body length."""

    key: tuple[str, str, int]  # (scheme, host, port)
    head: bytes


def prepare(url: str, headers: Mapping[str, str], method: str = "POST") -> Prepared:
    """Encode ``method url`` with ``headers`` (Host, Content-Length and Connection are ours)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown += f":{port}"
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"host: {shown}"]
    own = ("host", "content-length", "connection", "transfer-encoding")
    for name, value in headers.items():
        if name.lower() in own:
            continue
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    return Prepared(key=(scheme, host, port), head=("\r\n".join(lines) + "\r\n").encode("latin-1"))


class _Chunks:
    """``Response.chunks()``: an async iterator object, not an async generator. Why: a generator
    its reader leaves early (an SSE stream ends at ``[DONE]`` before the body does) is closed
    by asyncio's finalizer hook, which schedules a task and wakes the loop through its self-pipe
    once per request."""

    __slots__ = ("_response",)

    def __init__(self, response: Response) -> None:
        self._response = response

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        data = await self._response.next_chunk()
        if not data:
            raise StopAsyncIteration
        return data


class Response:
    """An HTTP reply: status and headers on arrival, the body as it comes.

    Use it as an async context manager (or call :meth:`release`): a complete keep-alive reply
    returns its connection to the pool, anything else (an unread body, a failure, a
    cancellation) closes it.
    """

    __slots__ = (
        "_conn",
        "_decoder",
        "_exc",
        "_pending",
        "_size",
        "_waiter",
        "complete",
        "headers",
        "raw_headers",
        "reason",
        "status",
    )

    def __init__(self, conn: _Connection) -> None:
        self._conn: _Connection | None = conn
        self.status = 0
        self.reason = ""
        self.headers = Headers()
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self._pending: deque[bytes] = deque()
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._exc: BaseException | None = None
        self._decoder: Any = None

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (decoded when the server compressed them)."""
        return _Chunks(self)

    async def next_chunk(self) -> bytes:
        """The bytes that arrived since the last call (waiting for some); ``b""`` at the end."""
        pending = self._pending
        while True:
            if pending:
                data = pending.popleft() if len(pending) == 1 else b"".join(pending)
                if len(pending) > 1:
                    pending.clear()
                self._drained()
                if data:
                    return data
                continue
            if self.complete:
                return b""
            if self._exc is not None:
                raise self._exc
            await self._wait()

    async def read(self) -> bytes:
        if self.complete:  # the usual JSON reply: whole before the caller asked
            data = b"".join(self._pending)
            self._pending.clear()
            self._drained()
            return data
        parts = [chunk async for chunk in self.chunks()]
        return b"".join(parts)

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.finish(self)

    # -- fed by the connection ---------------------------------------------------------------

    def _wait(self) -> asyncio.Future[None]:
        conn = self._conn
        if conn is None:
            raise ServerDisconnectedError("the response was released")
        waiter = self._waiter = conn.loop.create_future()
        conn.arm_timer()
        return waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        if self._decoder is not None:
            data = self._decoder.decompress(data)
            if not data:
                return
        self._pending.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _drained(self) -> None:
        self._size = 0
        if self._conn is not None and self._conn.paused:
            self._conn.resume()

    def _finish_body(self) -> None:
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._pending.append(rest)
        self.complete = True
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if not self.complete and self._exc is None:
            self._exc = exc
        self._wake()


def _decoder_for(encoding: str) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    return None


class _Deflate:
    """``deflate`` is zlib-wrapped by the standard and raw by some servers: sniff the first bytes."""

    __slots__ = ("_obj",)

    def __init__(self) -> None:
        self._obj: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self._obj is None:
            wrapped = len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return bytes(self._obj.decompress(data))

    def flush(self) -> bytes:
        return bytes(self._obj.flush()) if self._obj is not None else b""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: the protocol, the parser and the reply in progress."""

    def __init__(self, pool: _HostPool, loop: asyncio.AbstractEventLoop, read_timeout: float | None) -> None:
        self.pool = pool
        self.loop = loop
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.closed = False
        self.idle = False
        self.paused = False
        self.until_eof = False
        self.keep_alive = False
        self.idle_since = 0.0
        self.last_read = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, so no isinstance check.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None or response.complete:
            self.close()  # bytes nobody asked for: the connection's framing cannot be trusted
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # also a callback's error (a corrupt gzip body)
            response._fail(ProtocolError(f"invalid HTTP reply: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        self._lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)

    # -- httptools callbacks ------------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        if self.response is not None:
            self.response.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        response = self.response
        if response is None:
            return
        status = self.parser.get_status_code()
        if status < 200:  # an interim reply (100 Continue, 103 Early Hints): the real one follows
            response.raw_headers.clear()
            return
        response.status = status
        headers = response.headers
        for name, value in response.raw_headers:
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        self.keep_alive = self.parser.should_keep_alive()
        framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
        self.until_eof = not framed and status >= 200 and status not in (204, 304)
        encoding = headers.get("content-encoding")
        if encoding:
            response._decoder = _decoder_for(encoding.strip().lower())
        response._wake()

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        response = self.response
        if response is not None and response.status:
            self.cancel_timer()
            response._finish_body()

    # -- used by Response and the pool ---------------------------------------------------------

    def send(self, data: bytes, response: Response) -> None:
        self.response = response
        self.idle = False
        self.last_read = self.loop.time()
        assert self.transport is not None
        self.transport.write(data)

    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    def arm_timer(self) -> None:
        if self.timer is None and self.read_timeout is not None:
            self.timer = self.loop.call_at(self.last_read + self.read_timeout, self._on_timer)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _on_timer(self) -> None:
        self.timer = None
        response = self.response
        if response is None or response.complete or self.read_timeout is None:
            return
        waiting = response._waiter is not None and not self.paused
        due = self.last_read + self.read_timeout
        if waiting and self.loop.time() >= due:
            response._fail(ReadTimeoutError(f"no data for {self.read_timeout:g}s"))
            self.close()
        elif waiting:
            self.timer = self.loop.call_at(due, self._on_timer)

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.last_read = self.loop.time()
            self.transport.resume_reading()

    def finish(self, response: Response) -> None:
        """The caller is done with ``response``: back to the pool or closed."""
        self.cancel_timer()
        reusable = response.complete and self.keep_alive and not self.until_eof and self.usable()
        self.response = None
        if self.paused and reusable:
            self.resume()
        if not reusable:
            self.close()
        self.pool.release(self, reusable)

    def close(self) -> None:
        self.closed = True
        self.cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def _lost(self, exc: BaseException | None) -> None:
        was_closed = self.closed
        self.closed = True
        self.cancel_timer()
        response = self.response
        if response is not None and not response.complete:
            if self.until_eof and response.status and exc is None:
                response._finish_body()
            else:
                what = f": {exc}" if exc else ""
                response._fail(ServerDisconnectedError(f"the server closed the connection{what}"))
        if self.idle and not was_closed:
            self.pool.forget(self)


class _HostPool:
    """Connections to one (scheme, host, port): idle ones (most recent last), a limit, waiters."""

    def __init__(self, client: Http1Client, key: tuple[str, str, int]) -> None:
        self.client = client
        self.key = key
        self.idle: list[_Connection] = []
        self.open = 0
        self.waiters: deque[asyncio.Future[_Connection | None]] = deque()

    async def acquire(self) -> _Connection:
        idle = self.idle
        while True:
            while idle:
                conn = idle.pop()
                if conn.usable() and conn.loop.time() - conn.idle_since < IDLE_SECONDS:
                    conn.idle = False
                    return conn
                self._drop(conn)
            if self.open < self.client.limit:
                break
            handed = await self._wait()
            if handed is not None:
                return handed
        self.open += 1
        try:
            return await self.client.connect(self)
        except BaseException:
            self.open -= 1
            self._wake_one()
            raise

    async def _wait(self) -> _Connection | None:
        """Wait for a released connection (handed over) or a freed slot (``None``)."""
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                handed = waiter.result()
                if handed is not None:
                    self.release(handed, True)
                else:
                    self._wake_one()
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            raise

    def release(self, conn: _Connection, reusable: bool) -> None:
        if not reusable or not conn.usable():
            self.open -= 1
            self._wake_one()
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conn.idle = True
        conn.idle_since = conn.loop.time()
        self.idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        """An idle connection the server closed: out of the pool, its slot freed."""
        try:
            self.idle.remove(conn)
        except ValueError:
            return
        conn.idle = False
        self.open -= 1
        self._wake_one()

    def _drop(self, conn: _Connection) -> None:
        conn.idle = False
        conn.close()
        self.open -= 1

    def _wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for conn in self.idle:
            conn.idle = False
            conn.close()
        self.open -= len(self.idle)
        self.idle.clear()


class Http1Client:
    """Keep-alive HTTP/1.1 connections, pooled per (scheme, host, port); one per event loop."""

    def __init__(
        self,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
        limit: int = 1000,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.limit = max(1, limit)
        self._ssl = ssl_context
        self._pools: dict[tuple[str, str, int], _HostPool] = {}
        self._closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = default_ssl_context()
        return self._ssl

    async def send(self, prepared: Prepared, body: bytes) -> Response:
        """Write the request and return the reply once its headers arrived."""
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        pool = self._pools.get(prepared.key)
        if pool is None:
            pool = self._pools[prepared.key] = _HostPool(self, prepared.key)
        data = b"%scontent-length: %d\r\n\r\n%s" % (prepared.head, len(body), body)
        conn = await pool.acquire()
        while not conn.usable():  # closed between the hand-over and now: nothing was sent yet
            pool.release(conn, False)
            conn = await pool.acquire()
        response = Response(conn)
        try:
            conn.send(data, response)
            while not response.status:
                if response._exc is not None:
                    raise response._exc
                await response._wait()
        except BaseException:
            response.release()
            raise
        return response

    async def connect(self, pool: _HostPool) -> _Connection:
        scheme, host, port = pool.key
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(pool, loop, self.read_timeout),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError:
            raise ConnectTimeoutError(
                f"connecting to {host}:{port} took over {self.connect_timeout:g}s"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    async def aclose(self) -> None:
        """Close every idle connection; replies still held close theirs on release."""
        self._closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost


def default_ssl_context() -> ssl.SSLContext:
    """What aiohttp would verify with: the system's default trust store, ALPN http/1.1."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context
