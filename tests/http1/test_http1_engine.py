"""The OpenAI chat engine on the lean client: SSE through the engine, the SDK's retry decisions,
TLS, and the requests that still go through aiohttp (proxy, redirect)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import orjson
import pytest

from geppetto.engines.base import RunContext
from geppetto.engines.providers import engine_from_options
from geppetto.engines.providers.common import ProviderConfig
from geppetto.engines.providers.errors import map_exception
from geppetto.engines.providers.http1 import Response, ServerDisconnectedError
from geppetto.engines.providers.openai_direct import DirectOpenAIClient
from geppetto.errors import ProviderError
from geppetto.settings.apitypes import spec_for
from geppetto.turns.model import Block, Turn

from .loopback import LoopbackServer, Request, chunked_bytes, reply_bytes

KEY = "sk-test-HTTP1SECRET0123456789"


def sse(*texts: str) -> list[bytes]:
    events = [
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": text}}]} for text in texts
    ]
    events.append({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return [b"data: " + orjson.dumps(event) + b"\n\n" for event in events] + [b"data: [DONE]\n\n"]


async def stream_reply(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(chunked_bytes(sse("Hel", "lo"), {"content-type": "text/event-stream"}))


def engine(url: str, **options: Any) -> Any:
    return engine_from_options(
        "openai", "m", openai_base_url=url + "/v1", openai_api_key=KEY, environ={}, **options
    )


async def run(url: str, **options: Any) -> Turn:
    eng = engine(url, **options)
    try:
        return await eng.run(Turn([Block.user("hi")]), RunContext())
    finally:
        await eng.aclose()


def text_of(turn: Turn) -> str:
    return str(turn.blocks[-1].payload.get("text", ""))


def config(url: str, retries: int = 0) -> ProviderConfig:
    cfg = ProviderConfig(spec=spec_for("openai"), model="m", base_url=url + "/v1", api_key=KEY)
    cfg.settings.client.max_retries = retries
    return cfg


async def test_an_sse_stream_runs_through_the_engine_on_one_kept_alive_connection() -> None:
    async with LoopbackServer(stream_reply) as server:
        eng = engine(server.url)
        try:
            for _ in range(3):
                assert text_of(await eng.run(Turn([Block.user("hi")]), RunContext())) == "Hello"
            client = eng.client()
            assert isinstance(client, DirectOpenAIClient)
            assert client.carrier._aiohttp is None  # nothing fell back
        finally:
            await eng.aclose()
    assert server.connections == 1 and len(server.requests) == 3
    seen = server.requests[0]
    assert seen.target == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert orjson.loads(seen.body)["messages"] == [{"role": "user", "content": "hi"}]


async def test_a_server_dying_mid_body_is_a_retryable_typed_error() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 999\r\n\r\n")
        writer.write(b'data: {"id": "c1", "choices": []}\n\n')
        await writer.drain()
        writer.close()

    async with LoopbackServer(script) as server:
        with pytest.raises(ProviderError) as info:
            await run(server.url)
    assert info.value.retryable and "ServerDisconnectedError" in str(info.value)
    assert KEY not in str(info.value)


def test_the_clients_errors_map_to_what_the_engines_already_handle() -> None:
    refused = map_exception(ConnectionRefusedError(111, "refused"), provider="openai")
    from geppetto.engines.providers.http1 import ConnectError, ReadTimeoutError

    connect = map_exception(ConnectError("cannot connect to h:1: refused"), provider="openai")
    timeout = map_exception(ReadTimeoutError("no data for 1s"), provider="openai", timeout=1.0)
    cut = map_exception(ServerDisconnectedError("closed"), provider="openai")
    assert connect.retryable and "could not connect" in str(connect) and "could not connect" in str(refused)
    assert timeout.retryable and "timed out after 1s" in str(timeout)
    assert cut.retryable and "retry later" in str(cut)


async def test_a_refused_connection_gets_the_sdk_retries_then_a_typed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    import openai

    delays: list[int] = []

    def record(self: Any, remaining: int, options: Any, headers: Any = None) -> float:
        delays.append(remaining)
        return 0.0

    monkeypatch.setattr(openai.AsyncOpenAI, "_calculate_retry_timeout", record)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(ProviderError) as info:
            await run(url, max_retries=2)
    assert delays[:2] == [2, 1]
    assert "could not connect" in str(info.value) and info.value.retryable


async def test_429_with_retry_after_is_retried_by_the_sdk_rules() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if len(server.requests) == 1:
            body = orjson.dumps({"error": {"message": "slow down", "type": "rate_limit_error"}})
            writer.write(reply_bytes(429, body, {"retry-after": "0", "content-type": "application/json"}))
        else:
            await stream_reply(request, writer)

    async with LoopbackServer(script) as server:
        assert text_of(await run(server.url, max_retries=2)) == "Hello"
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


async def test_a_persistent_503_ends_in_the_sdk_typed_error() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        body = orjson.dumps({"error": {"message": "overloaded", "type": "server_error"}})
        headers = {"retry-after": "0", "content-type": "application/json", "x-request-id": "req_7"}
        writer.write(reply_bytes(503, body, headers))

    async with LoopbackServer(script) as server:
        with pytest.raises(ProviderError) as info:
            await run(server.url, max_retries=1)
    assert info.value.status == 503 and info.value.request_id == "req_7"
    assert "overloaded" in str(info.value) and len(server.requests) == 2
    assert server.connections == 1  # the error body was read: the connection was reused


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh cert for 127.0.0.1 and a client context trusting only it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


async def test_tls_to_a_server_the_clients_context_trusts(tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    async with LoopbackServer(stream_reply, tls=server_ctx) as server:
        client = DirectOpenAIClient(config(server.url), ssl_context=client_ctx)
        try:
            for _ in range(2):
                async with await client.post("/chat/completions", b"{}") as reply:
                    assert isinstance(reply, Response) and reply.status == 200
                    assert b"Hel" in await reply.read()
        finally:
            await client.close()
    assert server.connections == 1


async def test_tls_refuses_a_certificate_nobody_trusts(tmp_path: Path) -> None:
    from geppetto.engines.providers.http1 import ConnectError

    server_ctx, _ = self_signed(tmp_path)
    async with LoopbackServer(stream_reply, tls=server_ctx) as server:
        client = DirectOpenAIClient(config(server.url))  # the default trust store
        try:
            with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.post("/chat/completions", b"{}")
        finally:
            await client.close()
    assert not server.requests


async def test_a_proxy_from_the_environment_goes_through_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with LoopbackServer(stream_reply) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = DirectOpenAIClient(config("http://api.example.invalid"))
        try:
            assert client.template("/chat/completions").target.prepared is None
            async with await client.post("/chat/completions", b"{}") as reply:
                assert reply.status == 200 and not isinstance(reply, Response)
                assert b"Hel" in await reply.read()
        finally:
            await client.close()
    assert proxy.requests[0].target == "http://api.example.invalid/v1/chat/completions"


async def test_a_redirect_is_followed_through_aiohttp() -> None:
    async def script(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.target == "/v1/chat/completions":
            writer.write(reply_bytes(307, b"", {"location": "/v2/chat/completions"}))
        else:
            await stream_reply(request, writer)

    async with LoopbackServer(script) as server:
        turn = await run(server.url)
    assert text_of(turn) == "Hello"
    assert [r.target for r in server.requests] == [
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v2/chat/completions",
    ]
    assert server.requests[2].body == server.requests[0].body  # 307 keeps method and body
