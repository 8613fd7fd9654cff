"""Anthropic Messages engine against recorded streams."""

from __future__ import annotations

import json

import pytest
from provider_harness import KEY, Outcome, Registry, Tool, engine_for, run_engine
from provider_replay import FIXTURES, ReplayServer, Reply

from geppetto.errors import ConfigError, ProviderError
from geppetto.turns.keys import BlockMetaKeys, DataKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

MODEL = "claude-haiku-4-5"


def delta_text(name: str, delta_type: str, field: str) -> str:
    """Independent oracle: concatenate ``delta[field]`` of ``content_block_delta`` events."""
    out = []
    for line in (FIXTURES / name).read_text().splitlines():
        payload = line[6:] if line.startswith("data: ") else line
        if not payload.startswith("{"):
            continue
        event = json.loads(payload)
        delta = event.get("delta") or {}
        if event.get("type") == "content_block_delta" and delta.get("type") == delta_type:
            out.append(delta[field])
    return "".join(out)


async def claude(replay: ReplayServer, fixture: str, **options: object) -> Outcome:
    replay.enqueue(fixture, **options)  # type: ignore[arg-type]
    return await run_engine(engine_for(replay, "claude", MODEL))


@pytest.mark.parametrize("split", ["whole", "random"])
async def test_text(replay: ReplayServer, split: str) -> None:
    out = await claude(replay, "anthropic/anthropic_haiku45_text.sse", split=split, seed=2)
    assert out.error is None and out.text == "Hello" and out.kinds() == ["llm_text"]
    assert out.types == ["start", "partial", "final"]
    assert out.usage == {"input_tokens": 10, "output_tokens": 4}
    assert out.result["stop_reason"] == "end_turn" and out.result["finish_class"] == "completed"
    assert out.result["request_id"] == "req_011CZknL2bUdgvrtea9HYSrj"
    assert out.result["response_id"] == "msg_01T8kTq7cYyYJeQ5DxcVUc6D"


async def test_thinking_with_signature_is_kept_for_the_next_turn(replay: ReplayServer) -> None:
    fixture = "anthropic/anthropic_haiku45_thinking.sse"
    out = await claude(replay, fixture)
    assert out.kinds() == ["reasoning", "llm_text"]
    [reasoning] = out.of(BlockKind.REASONING)
    assert reasoning.payload["text"] == delta_text(fixture, "thinking_delta", "thinking")
    signature = delta_text(fixture, "signature_delta", "signature")
    assert signature and BlockMetaKeys.CLAUDE_ORIGINAL_CONTENT.get(reasoning.metadata) == [
        {"type": "thinking", "thinking": reasoning.payload["text"], "signature": signature}
    ]
    assert out.text == delta_text(fixture, "text_delta", "text")
    assert "partial-thinking" in out.types
    assert out.usage == {"input_tokens": 46, "output_tokens": 133}

    # The next request echoes the thinking block verbatim before the text.
    text = out.text
    out.turn.blocks.append(Block.user("and a third?"))
    replay.enqueue("anthropic/anthropic_haiku45_text.sse")
    await run_engine(engine_for(replay, "claude", MODEL), out.turn)
    assistant = replay.requests[-1].json()["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": reasoning.payload["text"],
        "signature": signature,
    }
    assert assistant["content"][1] == {"type": "text", "text": text}


async def test_redacted_thinking_blocks_round_trip(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_sonnet45_redacted_thinking.sse")
    [reasoning] = out.of(BlockKind.REASONING)
    originals = BlockMetaKeys.CLAUDE_ORIGINAL_CONTENT.get(reasoning.metadata)
    assert originals is not None and [item["type"] for item in originals] == ["redacted_thinking"] * 2
    assert all(item["data"] for item in originals)
    assert out.text.startswith("I notice") and out.kinds() == ["reasoning", "llm_text"]


async def test_tool_use_without_arguments(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_haiku45_tool_use_no_args.sse")
    assert out.calls() == [("toolu_01CzN6riCPqw4pVSuTd9Dwn7", "pelican_name_generator", {})]
    assert out.result["stop_reason"] == "tool_use" and out.result["finish_class"] == "tool_calls_pending"
    assert out.types[-2:] == ["tool-call", "final"]


async def test_parallel_tool_use(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_haiku45_parallel_tool_use.sse")
    assert [c[0] for c in out.calls()] == ["toolu_01LtHJmixrs9NcWQkK8hu8hj", "toolu_01N8a4jWyf116qKTMqKKmjyt"]
    assert out.usage == {"input_tokens": 542, "output_tokens": 62}


async def test_stop_sequence(replay: ReplayServer) -> None:
    fixture = "anthropic/anthropic_haiku45_stop_sequence.sse"
    out = await claude(replay, fixture)
    assert out.text == delta_text(fixture, "text_delta", "text")
    assert out.result["stop_reason"] == "stop_sequence" and out.result["finish_class"] == "completed"
    assert out.result["extra"]["stop_sequence"] == "```"


@pytest.mark.parametrize("split", ["whole", "random"])
async def test_tool_input_json_fragments(replay: ReplayServer, split: str) -> None:
    fixture = "anthropic/anthropic_haiku45_tool_input_json_fragments.chunks.txt"
    out = await claude(replay, fixture, split=split, seed=4)
    [(call_id, name, args)] = out.calls()
    assert (call_id, name) == ("toolu_01KFbKqPYSuAKujiL6mTfzYA", "json")
    assert args == json.loads(delta_text(fixture, "input_json_delta", "partial_json"))
    assert args["elements"][0]["location"] == "San Francisco"


async def test_text_then_tool_without_arguments_and_pings(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_sonnet45_text_then_tool_no_args.chunks.txt")
    assert out.text == "I'll update the issue list for you."
    assert out.calls() == [("toolu_01QE1WLsSVp5hy5Q3GmGTmjP", "updateIssueList", {})]
    assert out.kinds() == ["llm_text", "tool_call"]


async def test_message_delta_usage_replaces_start_usage(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_message_delta_input_tokens.chunks.txt")
    assert out.text == "pong"
    assert out.usage == {"input_tokens": 61, "output_tokens": 2}


async def test_refusal_without_content(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_refusal_stop_details.chunks.txt")
    assert out.error is None and out.kinds() == []
    assert out.result["stop_reason"] == "refusal" and out.result["finish_class"] == "error"
    assert out.result["extra"]["stop_details"]["category"] == "cyber"
    assert out.types == ["start", "final"]


async def test_duplicate_message_start_does_not_reset(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/anthropic_duplicate_message_start.chunks.txt")
    assert out.text == "Hello, World!" and out.types.count("start") == 1
    assert out.usage == {"input_tokens": 17, "output_tokens": 227}


async def test_overloaded_error_midstream_keeps_partial_text(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/SYNTH_anthropic_overloaded_error_midstream.sse")
    assert isinstance(out.error, ProviderError) and "overloaded_error" in str(out.error)
    assert out.error.retryable is True
    assert out.text == "Hello" and out.result["finish_class"] == "error"
    assert out.types[-1] == "error"
    assert len(replay.requests) == 1  # output had started: never re-sent


async def test_overloaded_before_first_token_is_retried(replay: ReplayServer) -> None:
    error = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    body = b"event: error\ndata: " + error + b"\n\n"
    replay.enqueue(Reply(headers={"content-type": "text/event-stream"}, body=body))
    replay.enqueue("anthropic/anthropic_haiku45_text.sse")
    out = await run_engine(engine_for(replay, "claude", MODEL, max_retries=1))
    assert out.error is None and out.text == "Hello" and len(replay.requests) == 2


async def test_http_529_overloaded(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/SYNTH_anthropic_http529_overloaded.json")
    assert isinstance(out.error, ProviderError) and out.error.status == 529 and out.error.retryable
    assert out.error.request_id == "req_SYNTHETIC" and "Overloaded" in str(out.error)


async def test_http_429_then_success_through_sdk_retry(replay: ReplayServer) -> None:
    replay.enqueue("anthropic/SYNTH_anthropic_http429_rate_limit_retry_after.json")
    replay.queue[-1].headers["retry-after"] = "0.01"  # keep the test quick; the header path is the same
    replay.enqueue("anthropic/anthropic_haiku45_text.sse")
    out = await run_engine(engine_for(replay, "claude", MODEL, max_retries=1))
    assert out.error is None and out.text == "Hello" and len(replay.requests) == 2


async def test_http_429_exhausted(replay: ReplayServer) -> None:
    out = await claude(replay, "anthropic/SYNTH_anthropic_http429_rate_limit_retry_after.json")
    assert isinstance(out.error, ProviderError) and out.error.status == 429
    assert "rate limited" in str(out.error) and KEY not in str(out.error)


async def test_nonstream_200_is_rejected_as_truncated(replay: ReplayServer) -> None:
    # A 200 with a JSON body instead of a stream (and a retry-after that must be ignored).
    out = await claude(replay, "anthropic/anthropic_200_nonstream_with_retry_after_header.json")
    assert isinstance(out.error, ProviderError) and len(replay.requests) == 1


async def test_request_mapping(replay: ReplayServer) -> None:
    replay.enqueue("anthropic/anthropic_haiku45_text.sse")
    turn = Turn.builder().system("be brief").build()
    turn.blocks.append(Block.user("see", images=[{"media_type": "image/jpeg", "content": "AAAA"}]))
    turn.blocks.append(Block.reasoning("from another provider", encrypted_content="xyz"))
    turn.blocks.append(Block.assistant("Checking."))
    turn.blocks.append(Block.tool_call("toolu_1", "lookup", '{"q": "x"}'))
    turn.blocks.append(Block.tool_use("toolu_1", {"ok": True}))
    turn.blocks.append(Block.system("second system"))
    DataKeys.TOOL_CONFIG.set(turn.data, {"tool_choice": "required"})
    tools = Registry(Tool("lookup", "Find", {"type": "object", "properties": {"q": {"type": "string"}}}))
    out = await run_engine(engine_for(replay, "claude", MODEL, ai_stop="END"), turn, tools=tools)
    assert out.error is None
    body = replay.requests[0].json()
    assert body["system"] == "be brief"
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"ok":true}'},
                {"type": "text", "text": "second system"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "lookup",
            "description": "Find",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert body["stop_sequences"] == ["END"] and body["stream"] is True
    assert body["max_tokens"] == 1000 and body["temperature"] == 0.7 and "top_p" not in body
    headers = replay.requests[0].headers
    # The SDK authenticates (this version sends the key as a bearer token) and sets the version.
    assert KEY in (headers.get("x-api-key", "") + headers.get("Authorization", ""))
    assert headers["anthropic-version"]


async def test_structured_output_and_thinking_settings(replay: ReplayServer) -> None:
    replay.enqueue("anthropic/anthropic_haiku45_text.sse")
    engine = engine_for(
        replay,
        "claude",
        MODEL,
        claude_thinking_budget=2048,
        ai_structured_output_mode="json_schema",
        ai_structured_output_name="x",
        ai_structured_output_schema='{"type":"object"}',
    )
    await run_engine(engine)
    body = replay.requests[0].json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048} and "temperature" not in body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}


def test_temperature_and_top_p_together_are_refused(replay: ReplayServer) -> None:
    with pytest.raises(ConfigError, match="only one to be specified"):
        engine_for(replay, "claude", MODEL, ai_temperature=0.5, ai_top_p=0.9)
