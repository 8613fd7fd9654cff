"""The OpenAI chat engine's transport: requests the SDK prepares, carried by aiohttp.

What must hold: the wire request is the one the SDK would send (its headers, auth, body), the
SDK still decides retries and errors, and an SDK without the hooks is refused with a fix.
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest
from provider_harness import KEY, engine_for, run_engine
from provider_replay import ReplayServer, Reply

from geppetto.engines.providers.common import ProviderConfig
from geppetto.engines.providers.openai_direct import DirectOpenAIClient, check_sdk
from geppetto.errors import ConfigError, ProviderError
from geppetto.settings.apitypes import spec_for


async def test_the_wire_request_carries_the_sdk_headers_and_the_chat_body(replay: ReplayServer) -> None:
    import openai

    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"))
    assert out.error is None
    seen = replay.requests[0]
    assert seen.method == "POST" and seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["user-agent"] == f"AsyncOpenAI/Python {openai.__version__}"
    assert seen.headers["x-stainless-retry-count"] == "0"
    assert seen.headers["content-type"] == "application/json"
    assert int(seen.headers["content-length"]) == len(seen.body)
    body = seen.json()
    assert body["model"] == "gpt-4o-mini" and body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_a_compressed_error_body_is_read_once(replay: ReplayServer) -> None:
    """aiohttp decodes the body; the SDK's response object must not try to decode it again."""
    error = {"error": {"message": "model is overloaded", "type": "server_error"}}
    replay.enqueue(
        Reply(
            status=503,
            headers={"content-type": "application/json", "content-encoding": "gzip", "x-request-id": "req_9"},
            body=gzip.compress(orjson.dumps(error)),
        )
    )
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"))
    assert isinstance(out.error, ProviderError)
    assert out.error.status == 503 and out.error.request_id == "req_9"
    assert "model is overloaded" in str(out.error) and out.error.retryable


async def test_proxy_variables_apply_like_they_do_for_the_sdk(
    replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY routes the request through the proxy; the API host itself is never resolved."""
    monkeypatch.setenv("HTTP_PROXY", replay.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    config = ProviderConfig(spec=spec_for("openai"), model="x", base_url="http://api.example.invalid/v1")
    client = DirectOpenAIClient(config)
    try:
        response = await client.post("/chat/completions", b"{}")
        response.release()
    finally:
        await client.close()
    assert response.status == 200
    assert replay.requests[0].headers["host"] == "api.example.invalid"


async def test_connection_failures_wait_the_sdk_delay_before_each_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays: list[tuple[int, Any]] = []

    def record(self: Any, remaining: int, options: Any, headers: Any = None) -> float:
        delays.append((remaining, headers))
        return 0.0

    import openai

    monkeypatch.setattr(openai.AsyncOpenAI, "_calculate_retry_timeout", record)
    # Port 9 (discard) on loopback is closed here: every attempt is refused before any headers.
    config = ProviderConfig(spec=spec_for("openai"), model="x", base_url="http://127.0.0.1:9/v1")
    config.settings.client.max_retries = 2
    client = DirectOpenAIClient(config)
    try:
        with pytest.raises(OSError):
            await client.post("/chat/completions", b"{}")
    finally:
        await client.close()
    assert delays == [(2, None), (1, None)]


async def test_template_omits_authorization_without_a_key_and_keeps_a_custom_user_agent() -> None:
    config = ProviderConfig(spec=spec_for("openai"), model="x", base_url="http://127.0.0.1:1/v1")
    config.settings.client.user_agent = "my-app/1.0"
    client = DirectOpenAIClient(config)
    try:
        template = client.template("/chat/completions")
    finally:
        await client.close()
    names = {name.lower() for name in template.headers}
    assert "authorization" not in names
    assert template.headers["user-agent"] == "my-app/1.0"
    assert template.url == "http://127.0.0.1:1/v1/chat/completions"
    assert not names & {"host", "content-length", "connection"}


def test_an_sdk_without_the_hooks_is_refused_with_the_fix() -> None:
    class OldSDK:
        def _build_request(self) -> None: ...

    with pytest.raises(ConfigError) as info:
        check_sdk(OldSDK())
    message = str(info.value)
    assert "_should_retry" in message and "_make_status_error_from_response" in message
    assert "pip install 'openai[aiohttp]" in message


def test_env_proxy_follows_the_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from geppetto.engines.providers.transport import env_proxy

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://api.openai.com/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain.corp:8080")
    assert env_proxy("https://api.openai.com/v1") == "http://proxy.corp:3128"
    assert env_proxy("http://localhost:11434") == "http://plain.corp:8080"
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    assert env_proxy("http://localhost:11434") is None
    assert env_proxy("https://llm.internal/v1") is None
    assert env_proxy("https://api.openai.com/v1") == "http://proxy.corp:3128"
