"""The lean HTTP/1.1 client against a scripted loopback server: framing, keep-alive, failures.

What must hold: replies arrive whole and in order whatever their framing, connections are
reused only when the reply was complete and the server agreed, a broken or abandoned connection
is never handed out again, the pool never opens more than its limit, and nothing is left
running after ``aclose``.
"""

from __future__ import annotations

import asyncio
import gzip

import pytest

from geppetto.engines.providers.http1 import (
    HIGH_WATER,
    ConnectError,
    Http1Client,
    ReadTimeoutError,
    ServerDisconnectedError,
    prepare,
)

from .loopback import LoopbackServer, Request, chunked_bytes, reply_bytes


def client(**options: object) -> Http1Client:
    settings: dict[str, object] = {"connect_timeout": 5.0, "read_timeout": 5.0, **options}
    return Http1Client(**settings)  # type: ignore[arg-type]


async def post(http: Http1Client, url: str, body: bytes = b"{}") -> tuple[int, bytes]:
    async with await http.send(prepare(url, {"content-type": "application/json"}), body) as reply:
        return reply.status, await reply.read()


async def test_a_content_length_reply_and_the_request_as_written() -> None:
    async with LoopbackServer() as server:
        http = client()
        try:
            status, body = await post(http, server.url + "/v1/chat?x=1", b'{"a": 1}')
        finally:
            await http.aclose()
    assert (status, body) == (200, b'{"ok": true}')
    seen = server.requests[0]
    assert (seen.method, seen.target, seen.body) == ("POST", "/v1/chat?x=1", b'{"a": 1}')
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"
    assert seen.headers["content-type"] == "application/json"


async def test_a_chunked_reply_is_reassembled_and_headers_read_case_insensitively() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(chunked_bytes([b"alpha ", b"beta ", b"gamma"], {"X-Request-Id": "req_1"}))

    async with LoopbackServer(script) as server:
        http = client()
        try:
            async with await http.send(prepare(server.url, {}), b"") as reply:
                assert reply.headers.get("x-request-id") == "req_1"
                assert reply.headers.get("X-Request-ID") == "req_1"
                assert (b"X-Request-Id", b"req_1") in reply.raw_headers
                assert await reply.read() == b"alpha beta gamma"
        finally:
            await http.aclose()


async def test_body_bytes_are_handed_over_as_they_arrive() -> None:
    more = asyncio.Event()

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await more.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")

    async with LoopbackServer(script) as server:
        http = client()
        try:
            async with await http.send(prepare(server.url, {}), b"") as reply:
                pieces = reply.chunks()
                assert await anext(pieces) == b"first"  # before the server sent the rest
                more.set()
                assert [piece async for piece in pieces] == [b"second"]
        finally:
            await http.aclose()


async def test_a_gzip_body_is_decoded() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply_bytes(200, gzip.compress(b"x" * 1000), {"content-encoding": "gzip"}))

    async with LoopbackServer(script) as server:
        http = client()
        try:
            assert await post(http, server.url) == (200, b"x" * 1000)
        finally:
            await http.aclose()


async def test_keep_alive_reuses_one_connection() -> None:
    async with LoopbackServer() as server:
        http = client()
        try:
            for _ in range(5):
                assert (await post(http, server.url))[0] == 200
        finally:
            await http.aclose()
    assert len(server.requests) == 5 and server.connections == 1


async def test_connection_close_from_the_server_is_honoured() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply_bytes(200, b"bye", {"connection": "close"}))
        await writer.drain()
        writer.close()

    async with LoopbackServer(script) as server:
        http = client()
        try:
            assert await post(http, server.url) == (200, b"bye")
            assert await post(http, server.url) == (200, b"bye")
        finally:
            await http.aclose()
    assert server.connections == 2


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply_bytes(200, b"ok"))  # keep-alive by default, then gone anyway
        await writer.drain()
        writer.close()

    async with LoopbackServer(script) as server:
        http = client()
        try:
            assert await post(http, server.url) == (200, b"ok")
            for _ in range(50):  # until the client has seen the close
                if server.open_now == 0:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            assert await post(http, server.url) == (200, b"ok")
        finally:
            await http.aclose()
    assert server.connections == 2 and len(server.requests) == 2


async def test_a_server_dying_mid_body_fails_and_its_connection_is_not_reused() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.connection == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b")
            await writer.drain()
            writer.close()
        else:
            writer.write(reply_bytes(200, b"fine"))

    async with LoopbackServer(script) as server:
        http = client()
        try:
            with pytest.raises(ServerDisconnectedError):
                await post(http, server.url)
            assert await post(http, server.url) == (200, b"fine")
        finally:
            await http.aclose()
    assert server.connections == 2


async def test_no_reply_within_the_read_timeout_is_a_timeout() -> None:
    hold = asyncio.Event()

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        await hold.wait()

    async with LoopbackServer(script) as server:
        http = client(read_timeout=0.2)
        try:
            with pytest.raises(ReadTimeoutError):
                await post(http, server.url)
        finally:
            hold.set()
            await http.aclose()


async def test_a_stalled_body_times_out_between_bytes() -> None:
    hold = asyncio.Event()

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await writer.drain()
        await hold.wait()

    async with LoopbackServer(script) as server:
        http = client(read_timeout=0.2)
        try:
            async with await http.send(prepare(server.url, {}), b"") as reply:
                with pytest.raises(ReadTimeoutError):
                    await reply.read()
        finally:
            hold.set()
            await http.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        http = client()
        try:
            with pytest.raises(ConnectError) as info:
                await post(http, f"http://127.0.0.1:{port}")
        finally:
            await http.aclose()
    assert isinstance(info.value, ConnectionError)


async def test_the_pool_never_opens_more_than_its_limit() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.02)
        writer.write(reply_bytes(200, request.body))

    async with LoopbackServer(script) as server:
        http = client(limit=2)
        try:
            results = await asyncio.gather(*(post(http, server.url, b"%d" % n) for n in range(8)))
        finally:
            await http.aclose()
    assert results == [(200, b"%d" % n) for n in range(8)]
    assert server.most_open <= 2 and server.connections == 2


async def test_a_waiter_cancelled_for_a_slot_does_not_leak_it() -> None:
    release = asyncio.Event()

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.body == b"slow":
            await release.wait()
        writer.write(reply_bytes(200, request.body))

    async with LoopbackServer(script) as server:
        http = client(limit=1)
        try:
            slow = asyncio.create_task(post(http, server.url, b"slow"))
            await asyncio.sleep(0.05)
            waiting = asyncio.create_task(post(http, server.url, b"never"))
            await asyncio.sleep(0.02)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            release.set()
            assert await slow == (200, b"slow")
            assert await post(http, server.url, b"next") == (200, b"next")
        finally:
            await http.aclose()
    assert server.connections == 1


async def test_cancelling_mid_stream_closes_the_connection() -> None:
    hold = asyncio.Event()
    started = asyncio.Event()

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.connection == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
            await writer.drain()
            await hold.wait()
        else:
            writer.write(reply_bytes(200, b"fresh"))

    async def consume(http: Http1Client, url: str) -> None:
        async with await http.send(prepare(url, {}), b"") as reply:
            async for _ in reply.chunks():
                started.set()

    async with LoopbackServer(script) as server:
        http = client()
        try:
            task = asyncio.create_task(consume(http, server.url))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await post(http, server.url) == (200, b"fresh")
        finally:
            hold.set()
            await http.aclose()
    assert server.connections == 2


async def test_a_slow_consumer_pauses_reading_and_still_gets_every_byte() -> None:
    size = HIGH_WATER * 4

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(reply_bytes(200, b"z" * size))

    async with LoopbackServer(script) as server:
        http = client()
        paused = False
        try:
            async with await http.send(prepare(server.url, {}), b"") as reply:
                received = 0
                await asyncio.sleep(0.1)  # let the body pile up unread
                conn = reply._conn
                assert conn is not None
                paused = conn.paused
                async for piece in reply.chunks():
                    received += len(piece)
        finally:
            await http.aclose()
    assert paused and received == size


async def test_aclose_leaves_no_open_connection_or_task() -> None:
    before = asyncio.all_tasks()
    async with LoopbackServer() as server:
        http = client()
        for _ in range(3):
            await asyncio.gather(*(post(http, server.url) for _ in range(4)))
        transports = [conn.transport for pool in http._pools.values() for conn in pool.idle]
        assert transports and server.open_now == len(transports)
        await http.aclose()
        for _ in range(50):
            if server.open_now == 0:
                break
            await asyncio.sleep(0.01)
        assert server.open_now == 0
        assert all(transport is not None and transport.is_closing() for transport in transports)
    assert asyncio.all_tasks() == before
    with pytest.raises(RuntimeError):
        await post(http, "http://127.0.0.1:1")


async def test_a_malformed_reply_is_a_protocol_error_and_the_connection_is_dropped() -> None:
    from geppetto.engines.providers.http1 import ProtocolError

    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.connection == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n")
        else:
            writer.write(reply_bytes(200, b"fine"))

    async with LoopbackServer(script) as server:
        http = client()
        try:
            with pytest.raises(ProtocolError):
                await post(http, server.url)
            assert await post(http, server.url) == (200, b"fine")
        finally:
            await http.aclose()
    assert server.connections == 2


def test_the_client_runs_on_uvloop() -> None:
    import uvloop  # a test dependency (pyproject's test extra)

    async def scenario() -> tuple[list[tuple[int, bytes]], int]:
        async def script(request: Request, writer: asyncio.StreamWriter) -> None:
            writer.write(chunked_bytes([b"on ", b"uvloop"]))

        async with LoopbackServer(script) as server:
            http = client()
            try:
                replies = [await post(http, server.url) for _ in range(3)]
            finally:
                await http.aclose()
        return replies, server.connections

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        replies, connections = runner.run(scenario())
    assert replies == [(200, b"on uvloop")] * 3 and connections == 1


async def test_a_body_delimited_by_the_close_is_read_to_the_end() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")
        await writer.drain()
        writer.close()

    async with LoopbackServer(script) as server:
        http = client()
        try:
            assert await post(http, server.url) == (200, b"all of it")
            assert await post(http, server.url) == (200, b"all of it")
        finally:
            await http.aclose()
    assert server.connections == 2
