"""OpenAI Responses engine against recorded streams."""

from __future__ import annotations

import json

import pytest
from provider_harness import Outcome, Registry, Tool, engine_for, run_engine
from provider_replay import FIXTURES, ReplayServer

from geppetto.errors import ProviderError
from geppetto.turns.keys import DataKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn


def event_deltas(name: str, event_type: str) -> list[tuple[str, str]]:
    """Independent oracle: ``(item_id, delta)`` of every event of ``event_type`` in a fixture."""
    out = []
    for line in (FIXTURES / name).read_text().splitlines():
        payload = line[6:] if line.startswith("data: ") else line
        if payload.startswith("{"):
            event = json.loads(payload)
            if event.get("type") == event_type:
                out.append((event.get("item_id", ""), event.get("delta", "")))
    return out


async def responses(replay: ReplayServer, fixture: str, model: str = "gpt-5.5", **options: object) -> Outcome:
    replay.enqueue(fixture, **options)  # type: ignore[arg-type]
    return await run_engine(engine_for(replay, "openai-responses", model))


@pytest.mark.parametrize("split", ["whole", "random"])
async def test_function_call_arguments_in_tiny_deltas(replay: ReplayServer, split: str) -> None:
    out = await responses(
        replay, "openai_responses/responses_gpt55_function_call_stream.sse", split=split, seed=8
    )
    assert out.error is None
    assert out.calls() == [("call_sVidsfFJ6zlzRpelrPkTPlpd", "multiply", {"a": 1231, "b": 2331})]
    assert out.result["stop_reason"] == "tool_calls" and out.result["finish_class"] == "tool_calls_pending"
    assert out.usage == {"input_tokens": 58, "output_tokens": 23}
    assert out.result["request_id"] == "req_996657ef97514aeb93f449d57303514d"
    assert replay.requests[0].path == "/v1/responses"


async def test_text_after_tool_result(replay: ReplayServer) -> None:
    fixture = "openai_responses/responses_gpt55_text_after_tool_result.sse"
    out = await responses(replay, fixture)
    expected = "".join(delta for _, delta in event_deltas(fixture, "response.output_text.delta"))
    assert out.text == expected == "1231 \u00d7 2331 = **2,869,461**"
    assert out.result["finish_class"] == "completed"
    assert out.usage == {"input_tokens": 94, "output_tokens": 18}


async def test_reasoning_summaries_and_encrypted_item(replay: ReplayServer) -> None:
    fixture = "openai_responses/responses_o3mini_reasoning_summary_stream.sse"
    out = await responses(replay, fixture, model="o3-mini", split="random", seed=3)
    [reasoning] = out.of(BlockKind.REASONING)
    summary = reasoning.payload["text"]
    deltas = event_deltas(fixture, "response.reasoning_summary_text.delta")
    assert summary.replace("\n\n", "") == "".join(d for _, d in deltas).replace("\n\n", "")
    assert summary.count("**") >= 8 and "\n\n**" in summary  # four parts joined by blank lines
    assert reasoning.payload["encrypted_content"].startswith("gAAAAA")
    assert reasoning.payload["item_id"].startswith("rs_")
    assert out.text.startswith("I'm not a road safety professional")
    assert out.usage == {"input_tokens": 13, "output_tokens": 1680}
    assert out.types.count("partial-thinking") == len(deltas) + 3


async def test_commentary_then_function_call_round_trips(replay: ReplayServer) -> None:
    out = await responses(replay, "openai_responses/responses_gpt55_commentary_then_function_call.sse")
    assert out.kinds() == ["reasoning", "llm_text", "tool_call"]
    assert out.calls() == [("call_LabG58Uhrq9kZvR52BYKjToD", "get_capital", {"country": "PotatoLand"})]
    [reasoning] = out.of(BlockKind.REASONING)

    out.turn.blocks.append(Block.tool_use("call_LabG58Uhrq9kZvR52BYKjToD", "Potatopolis"))
    replay.enqueue("openai_responses/responses_gpt55_text_after_tool_result.sse")
    again = await run_engine(engine_for(replay, "openai-responses", "gpt-5.5"), out.turn)
    assert again.error is None
    body = replay.requests[-1].json()
    assert body["input"][1] == {
        "type": "reasoning",
        "id": reasoning.payload["item_id"],
        "encrypted_content": reasoning.payload["encrypted_content"],
        "summary": [],
    }
    assert body["input"][2]["role"] == "assistant"
    assert body["input"][3] == {
        "type": "function_call",
        "call_id": "call_LabG58Uhrq9kZvR52BYKjToD",
        "name": "get_capital",
        "arguments": '{"country":"PotatoLand"}',
    }
    assert body["input"][4] == {
        "type": "function_call_output",
        "call_id": "call_LabG58Uhrq9kZvR52BYKjToD",
        "output": "Potatopolis",
    }
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]


async def test_usage_only_on_completed(replay: ReplayServer) -> None:
    out = await responses(replay, "openai_responses/responses_function_call_usage.sse")
    assert out.calls()[0][1:] == ("final_result", {"result": 6666})
    assert out.usage == {"input_tokens": 53, "output_tokens": 469}


async def test_error_event_then_failed(replay: ReplayServer) -> None:
    out = await responses(replay, "openai_responses/responses_error_event_then_failed.chunks.txt")
    assert isinstance(out.error, ProviderError) and "insufficient_quota" in str(out.error)
    assert out.error.retryable is False and "check your plan" in str(out.error)
    assert out.types == ["start", "error"] and out.result["finish_class"] == "error"


async def test_failed_without_error_event(replay: ReplayServer) -> None:
    out = await responses(replay, "openai_responses/responses_failed_only_rate_limit.chunks.txt")
    assert isinstance(out.error, ProviderError) and "rate_limit_exceeded" in str(out.error)
    assert out.error.retryable is True and "rate limited" in str(out.error)


async def test_http_400_before_streaming_is_not_retried(replay: ReplayServer) -> None:
    replay.enqueue("openai_responses/responses_http400_invalid_temperature.json")
    out = await run_engine(engine_for(replay, "openai-responses", "gpt-5.5", max_retries=2))
    assert isinstance(out.error, ProviderError) and out.error.status == 400 and not out.error.retryable
    assert "temperature" in str(out.error) and len(replay.requests) == 1


async def test_request_mapping(replay: ReplayServer) -> None:
    replay.enqueue("openai_responses/responses_gpt55_text_after_tool_result.sse")
    turn = Turn.builder().system("be brief").build()
    turn.blocks.append(Block.user("see", images=[{"media_type": "image/png", "url": "https://x.test/a.png"}]))
    turn.blocks.append(Block.reasoning("no encrypted content: not sent"))
    turn.blocks.append(Block.assistant("ok"))
    DataKeys.TOOL_CONFIG.set(turn.data, {"tool_choice": "auto"})
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(
        turn.data, {"mode": "json_schema", "name": "r", "schema": {"type": "object"}}
    )
    out = await run_engine(
        engine_for(replay, "openai-responses", "gpt-4.1"), turn, tools=Registry(Tool("f", "d"))
    )
    assert out.error is None
    body = replay.requests[0].json()
    assert body["input"] == [
        {"role": "system", "content": [{"type": "input_text", "text": "be brief"}]},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"},
            ],
        },
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "name": "f",
            "description": "d",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]
    assert body["tool_choice"] == "auto" and body["max_output_tokens"] == 1000 and body["temperature"] == 0.7
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": True}
    }
    assert "include" not in body and "reasoning" not in body


async def test_reasoning_model_request(replay: ReplayServer) -> None:
    replay.enqueue("openai_responses/responses_gpt55_text_after_tool_result.sse")
    await run_engine(engine_for(replay, "openai-responses", "o3-mini", openai_reasoning_effort="high"))
    body = replay.requests[0].json()
    assert body["reasoning"] == {"effort": "high", "summary": "auto"} and "temperature" not in body
