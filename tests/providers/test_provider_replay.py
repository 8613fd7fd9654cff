"""The replay server and the kill switch themselves."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import orjson
import pytest
from provider_replay import ReplayServer, load_fixture, reframe_chunks


async def _fetch(url: str, body: bytes = b"{}") -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_serves_status_and_headers_from_meta(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/SYNTH_openai_http429_retry_after_ms.json")
    status, headers, body = await _fetch(replay.base_url + "/v1/chat/completions", b'{"a":1}')
    assert status == 429
    assert headers["retry-after-ms"] == "1500"
    assert orjson.loads(body)["error"]
    assert replay.requests[0].path == "/v1/chat/completions"
    assert replay.requests[0].json() == {"a": 1}


async def test_chunks_are_reframed_per_provider() -> None:
    line = '{"type":"message_stop"}'
    assert reframe_chunks("anthropic", line) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert reframe_chunks("openai_chat", "{}").endswith(b"data: [DONE]\n\n")
    assert reframe_chunks("gemini", "{}") == b"data: {}\r\n\r\n"


async def test_random_split_delivers_the_same_bytes(replay: ReplayServer) -> None:
    whole = load_fixture("anthropic/anthropic_haiku45_text.sse").body
    replay.enqueue("anthropic/anthropic_haiku45_text.sse", split="random", seed=3)
    status, _, body = await _fetch(replay.base_url + "/v1/messages")
    assert status == 200 and body == whole


async def test_unqueued_request_gets_418(replay: ReplayServer) -> None:
    status, _, _ = await _fetch(replay.base_url + "/x")
    assert status == 418


async def test_stall_reports_client_disconnect(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse", stall=True)
    async with aiohttp.ClientSession() as session:
        resp = await session.post(replay.base_url + "/v1/chat/completions")
        await resp.content.readany()
        resp.close()
    await asyncio.wait_for(replay.disconnected.wait(), 5)


def test_kill_switch_refuses_non_loopback() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match="network"):
        sock.connect(("192.0.2.10", 443))
    with pytest.raises(RuntimeError, match="resolve"):
        socket.getaddrinfo("example.com", 443)
