"""``count_tokens``: Anthropic's and Gemini's count endpoints against the loopback replay server,
and the documented estimate for engines without one.

Response shapes: Anthropic ``{"input_tokens": N}`` (docs.anthropic.com, "Count Message tokens"),
Gemini ``{"totalTokens": N, "promptTokensDetails": [...]}`` (ai.google.dev, "models.countTokens").
"""

from __future__ import annotations

import orjson
import pytest
from provider_harness import KEY, Registry, Tool, engine_for
from provider_replay import ReplayServer, Reply

from geppetto.engines import SettingsEngine
from geppetto.engines.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    TokenCount,
    acount_tokens,
    count_tokens,
    estimate_tokens,
    text_tokens,
)
from geppetto.errors import ProviderError
from geppetto.profiles import InferenceSettings
from geppetto.turns import Turn
from geppetto.turns.images import image_bytes

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def json_reply(body: object, status: int = 200) -> Reply:
    return Reply(status=status, headers={"content-type": "application/json"}, body=orjson.dumps(body))


def prompt() -> Turn:
    return Turn.builder().system("be brief").user("how many tokens is this?").build()


async def test_anthropic_sends_the_inference_body_to_its_count_endpoint(replay: ReplayServer) -> None:
    replay.enqueue(json_reply({"input_tokens": 2095}))
    engine = engine_for(replay, "claude", "claude-haiku-4-5")
    tools = Registry(Tool("clock", "the time"))
    try:
        result = await acount_tokens(engine, prompt(), tools=tools)
    finally:
        await engine.aclose()
    assert result == TokenCount(2095, "provider", "claude", "claude-haiku-4-5")
    (request,) = replay.requests
    assert (request.method, request.path) == ("POST", "/v1/messages/count_tokens")
    body = request.json()
    assert body["model"] == "claude-haiku-4-5"
    (message,) = body["messages"]
    assert message["role"] == "user" and "how many tokens is this?" in orjson.dumps(message).decode()
    assert "be brief" in orjson.dumps(body["system"]).decode()
    assert [tool["name"] for tool in body["tools"]] == ["clock"]
    assert "max_tokens" not in body and "stream" not in body
    assert KEY in request.headers.get("x-api-key", "") + request.headers.get("Authorization", "")


async def test_gemini_counts_the_whole_generate_content_request(replay: ReplayServer) -> None:
    details = [{"modality": "TEXT", "tokenCount": 31}]
    replay.enqueue(json_reply({"totalTokens": 31, "promptTokensDetails": details}))
    engine = engine_for(replay, "gemini", "gemini-2.5-flash")
    try:
        result = await acount_tokens(engine, prompt())
    finally:
        await engine.aclose()
    assert (result.input_tokens, result.method, result.model) == (31, "provider", "gemini-2.5-flash")
    (request,) = replay.requests
    assert request.path.endswith("/models/gemini-2.5-flash:countTokens")
    inner = request.json()["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-flash"
    assert inner["contents"][0]["parts"] == [{"text": "how many tokens is this?"}]
    assert "be brief" in orjson.dumps(inner["systemInstruction"]).decode()


async def test_count_endpoint_errors_are_typed_and_keep_no_key(replay: ReplayServer) -> None:
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    replay.enqueue(json_reply(error, 429))
    claude = engine_for(replay, "claude", "claude-haiku-4-5")
    gemini = engine_for(replay, "gemini", "gemini-2.5-flash")
    try:
        with pytest.raises(ProviderError) as caught:
            await acount_tokens(claude, prompt())
        assert caught.value.status == 429 and KEY not in str(caught.value)
        replay.enqueue(json_reply({"totalTokens": "many"}))
        with pytest.raises(ProviderError, match="no valid totalTokens"):
            await acount_tokens(gemini, prompt())
    finally:
        await claude.aclose()
        await gemini.aclose()


class Counting:
    """An engine with its own count method (what the Anthropic, Gemini and local engines define)."""

    name = "counting"

    async def run(self, turn: Turn, ctx: object) -> Turn:
        return turn

    async def count_tokens(self, turn: Turn, tools: object = None) -> TokenCount:
        return TokenCount(len(turn.blocks) * 100, "provider", "counting", "m")


def test_the_sync_call_unwraps_an_engine_built_from_settings() -> None:
    from geppetto.settings import Settings

    engine = SettingsEngine(Counting(), InferenceSettings.from_settings(Settings()))  # type: ignore[arg-type]
    assert count_tokens(engine, prompt(), timeout=30) == TokenCount(200, "provider", "counting", "m")


async def test_engines_without_a_count_endpoint_get_the_documented_estimate(replay: ReplayServer) -> None:
    engine = engine_for(replay, "openai", "gpt-4o-mini")
    turn = Turn.builder().system("abcd" * 10).user("日本語", [image_bytes(PNG, "image/png")]).build()
    result = await acount_tokens(engine, turn)
    assert (result.method, result.provider, result.model) == ("estimate", "openai", "gpt-4o-mini")
    assert result.input_tokens == 2 * MESSAGE_OVERHEAD + 10 + 3 + IMAGE_TOKENS
    assert replay.requests == []  # nothing was sent


def test_the_estimate_counts_tool_calls_results_and_definitions() -> None:
    assert text_tokens("") == 0 and text_tokens("abcde") == 2 and text_tokens("é") == 1
    turn = Turn.builder().user("hi").build()
    plain = estimate_tokens(turn)
    with_tools = estimate_tokens(turn, tools=Registry(Tool("clock", "the time now")))
    assert plain == MESSAGE_OVERHEAD + 1 and with_tools > plain
