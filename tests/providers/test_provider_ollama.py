"""Ollama native /api/chat engine against the documented NDJSON streams."""

from __future__ import annotations

import pytest
from provider_harness import Outcome, Registry, Tool, engine_for, run_engine
from provider_replay import ReplayServer, Reply, load_fixture

from geppetto.engines.providers import create_provider_engine
from geppetto.errors import ConfigError, ProviderError
from geppetto.settings import Settings, apply_fields
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

MODEL = "llama3.2"


async def ollama(replay: ReplayServer, fixture: str, **options: object) -> Outcome:
    replay.enqueue(fixture, **options)  # type: ignore[arg-type]
    return await run_engine(engine_for(replay, "ollama", MODEL))


@pytest.mark.parametrize("split", ["whole", "random"])
async def test_chat_stream_without_done_reason(replay: ReplayServer, split: str) -> None:
    out = await ollama(replay, "ollama/DOCS_ollama_chat_stream.ndjson", split=split, seed=1)
    assert out.error is None and out.text == "The" and out.kinds() == ["llm_text"]
    assert out.result["stop_reason"] == "stop" and out.result["finish_class"] == "completed"
    assert out.usage == {"input_tokens": 26, "output_tokens": 282}
    assert out.types == ["start", "partial", "final"]
    assert replay.requests[0].path == "/api/chat"


async def test_tool_call_with_object_arguments(replay: ReplayServer) -> None:
    out = await ollama(replay, "ollama/DOCS_ollama_chat_stream_tool_call.ndjson")
    [(call_id, name, args)] = out.calls()
    assert call_id and name == "get_weather" and args == {"city": "Tokyo"}
    # done_reason is "stop" even though a tool was called: the finish class says what matters.
    assert out.result["stop_reason"] == "stop" and out.result["finish_class"] == "tool_calls_pending"
    assert out.usage == {"input_tokens": 169, "output_tokens": 15}


async def test_midstream_error_line(replay: ReplayServer) -> None:
    out = await ollama(replay, "ollama/DOCS_ollama_generate_midstream_error.ndjson")
    assert isinstance(out.error, ProviderError) and "an error was encountered while running the model" in str(
        out.error
    )
    assert out.result["finish_class"] == "error" and out.types[-1] == "error"


async def test_http_404_names_what_to_check(replay: ReplayServer) -> None:
    out = await ollama(replay, "ollama/DOCS_ollama_error_404.json")
    assert isinstance(out.error, ProviderError) and out.error.status == 404 and not out.error.retryable
    assert "model 'llama3.2' not found" in str(out.error) and "--ai-engine" in str(out.error)


async def test_load_reply_is_not_an_assistant_turn(replay: ReplayServer) -> None:
    out = await ollama(replay, "ollama/DOCS_ollama_chat_load_model.json")
    assert out.error is None and out.kinds() == [] and out.result["stop_reason"] == "load"


async def test_truncated_stream(replay: ReplayServer) -> None:
    first_line = load_fixture("ollama/DOCS_ollama_chat_stream.ndjson").body.index(b"\n") + 1
    out = await ollama(replay, "ollama/DOCS_ollama_chat_stream.ndjson", cut_after=first_line + 30)
    assert isinstance(out.error, ProviderError) and "ended before it was complete" in str(out.error)
    assert out.text == "The"


async def test_http_503_is_retried_before_the_stream_starts(replay: ReplayServer) -> None:
    replay.enqueue(Reply(status=503, headers={"content-type": "application/json"}, body=b'{"error":"busy"}'))
    replay.enqueue("ollama/DOCS_ollama_chat_stream.ndjson")
    out = await run_engine(engine_for(replay, "ollama", MODEL, max_retries=1))
    assert out.error is None and out.text == "The" and len(replay.requests) == 2


async def test_request_mapping(replay: ReplayServer) -> None:
    replay.enqueue("ollama/DOCS_ollama_chat_stream.ndjson")
    turn = Turn.builder().system("be brief").build()
    turn.blocks.append(
        Block.user("see", images=[{"media_type": "image/png", "url": "data:image/png;base64,AAAA"}])
    )
    turn.blocks.append(Block.assistant("Looking."))
    turn.blocks.append(Block.tool_call("call_1", "get_weather", '{"city": "Tokyo"}'))
    turn.blocks.append(Block.tool_use("call_1", {"temp": 20}))
    engine = engine_for(replay, "ollama", MODEL, ollama_think="high", ai_stop="END")
    out = await run_engine(engine, turn, tools=Registry(Tool("get_weather", "Weather")))
    assert out.error is None
    body = replay.requests[0].json()
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "see", "images": ["AAAA"]},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}
            ],
        },
        {"role": "tool", "content": '{"temp":20}', "tool_name": "get_weather", "tool_call_id": "call_1"},
    ]
    assert body["stream"] is True and body["think"] == "high"
    assert body["options"] == {"temperature": 0.7, "top_p": 1.0, "num_predict": 1000, "stop": ["END"]}
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert "Authorization" in replay.requests[0].headers  # a key was configured in this test


async def test_no_key_needed_and_image_urls_refused(replay: ReplayServer) -> None:
    settings = apply_fields(
        Settings(), {"ai-api-type": "ollama", "ai-engine": MODEL, "ollama-base-url": replay.base_url}
    )
    engine = create_provider_engine(settings, environ={})
    replay.enqueue("ollama/DOCS_ollama_chat_stream.ndjson")
    out = await run_engine(engine, close=False)
    assert out.error is None and "Authorization" not in replay.requests[0].headers
    turn = (
        Turn.builder()
        .user("x", images=[{"media_type": "image/png", "url": "https://example.com/a.png"}])
        .build()
    )
    bad = await run_engine(engine, turn)
    assert isinstance(bad.error, ConfigError) and "inline images" in str(bad.error)
    assert [b.kind for b in turn.blocks] == [BlockKind.USER]
