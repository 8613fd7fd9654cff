"""A turn's ``inference_config`` (and its Claude/OpenAI companions) override the engine's settings
for that run only, in the request each provider receives."""

from __future__ import annotations

from typing import Any

import pytest
from provider_harness import engine_for, run_engine
from provider_replay import ReplayServer

from geppetto.engines.turn_settings import settings_for_turn
from geppetto.errors import ConfigError
from geppetto.settings import Settings
from geppetto.turns.keys import DataKeys
from geppetto.turns.model import Block, Turn


def turn_with(**data: dict[str, Any]) -> Turn:
    turn = Turn([Block.user("hi")])
    for name, value in data.items():
        getattr(DataKeys, name.upper()).set(turn.data, value)
    return turn


async def test_openai_chat_request_takes_the_turn_overrides(replay: ReplayServer) -> None:
    engine = engine_for(replay, "openai", "gpt-4o-mini", **{"ai-temperature": 0.2})
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    overridden = turn_with(
        inference_config={"temperature": 0.9, "max_response_tokens": 50, "stop": ["END"], "seed": 7},
        openai_inference_config={"presence_penalty": 0.5},
    )
    first = await run_engine(engine, overridden, close=False)
    second = await run_engine(engine, Turn([Block.user("hi")]))
    assert first.error is None and second.error is None
    body = replay.requests[0].json()
    assert (body["temperature"], body["max_tokens"], body["stop"], body["seed"]) == (0.9, 50, ["END"], 7)
    assert body["presence_penalty"] == 0.5
    plain = replay.requests[1].json()  # the next turn has no overrides: the engine's settings again
    assert plain["temperature"] == 0.2 and "seed" not in plain and "presence_penalty" not in plain


async def test_claude_request_takes_thinking_budget_and_its_own_config(replay: ReplayServer) -> None:
    engine = engine_for(replay, "claude", "claude-haiku-4-5")
    replay.enqueue("anthropic/anthropic_haiku45_text.sse")
    turn = turn_with(
        inference_config={"thinking_budget": 2048, "max_response_tokens": 4096},
        claude_inference_config={"user_id": "u-1"},
    )
    out = await run_engine(engine, turn)
    assert out.error is None
    body = replay.requests[0].json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 4096 and body["metadata"] == {"user_id": "u-1"}


def test_no_overrides_keep_the_settings_object() -> None:
    settings = Settings()
    assert settings_for_turn(settings, Turn([Block.user("hi")])) is settings


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inference_config": {"temperture": 1}}, "unknown field 'temperture'"),
        ({"inference_config": {"temperature": "hot"}}, "inference_config.temperature"),
        ({"inference_config": "fast"}, "inference_config must be an object"),
        ({"openai_inference_config": {"store": True}}, "known: n, presence_penalty"),
    ],
)
def test_bad_overrides_are_clear_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_for_turn(Settings(), turn_with(**data))
