"""OpenAI Chat Completions engine (and compatible servers) against recorded streams."""

from __future__ import annotations

import asyncio
import json

import pytest
from provider_harness import KEY, Outcome, Registry, Tool, engine_for, run_engine
from provider_replay import FIXTURES, ReplayServer, Reply, load_fixture

from geppetto.engines.base import RunContext
from geppetto.engines.providers import create_provider_engine
from geppetto.errors import ConfigError, ProviderError
from geppetto.events.sinks import CollectingSink
from geppetto.settings import Settings, apply_fields
from geppetto.turns.keys import DataKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn


def deltas(name: str, field: str) -> str:
    """Independent oracle: concatenate ``choices[0].delta[field]`` over a fixture's data lines."""
    text = (FIXTURES / name).read_text()
    out = []
    for line in text.splitlines():
        payload = line[6:] if line.startswith("data: ") else line
        if not payload.startswith("{"):
            continue
        for choice in json.loads(payload).get("choices") or ():
            value = (choice.get("delta") or {}).get(field)
            if isinstance(value, str):
                out.append(value)
    return "".join(out)


async def chat(replay: ReplayServer, fixture: str, model: str = "gpt-4o-mini", **options: object) -> Outcome:
    replay.enqueue(fixture, **options)  # type: ignore[arg-type]
    return await run_engine(engine_for(replay, "openai", model))


# -- one test per fixture ----------------------------------------------------------------------


@pytest.mark.parametrize("split", ["whole", "lines", "random"])
async def test_gpt5_text_with_trailing_usage_and_moderation(replay: ReplayServer, split: str) -> None:
    out = await chat(replay, "openai_chat/openai_gpt5_text_usage_moderation.sse", split=split, seed=7)
    assert out.error is None
    assert out.kinds() == ["llm_text"] and out.text == "Paris."
    assert out.types == ["start", "partial", "partial", "final"]
    assert out.sink.events[-1].text == "Paris."  # type: ignore[attr-defined]
    assert out.usage == {"input_tokens": 13, "output_tokens": 11}
    assert out.result["stop_reason"] == "stop" and out.result["finish_class"] == "completed"
    assert out.result["response_id"].startswith("chatcmpl-")


async def test_parallel_tool_calls(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/openai_gpt4o_parallel_tool_calls.sse")
    assert out.error is None
    assert out.calls() == [
        ("call_q2UyBRP7eXNTzAoR8lEhjc9Z", "get_country", {}),
        ("call_b51ijcpFkDiTQG1bQzsrmtW5", "get_product_name", {}),
    ]
    assert out.result["finish_class"] == "tool_calls_pending" and out.result["stop_reason"] == "tool_calls"
    assert out.types.count("tool-call") == 2 and out.types[-1] == "final"
    assert out.usage == {"input_tokens": 364, "output_tokens": 40}


@pytest.mark.parametrize("split", ["whole", "random"])
async def test_fragmented_tool_arguments(replay: ReplayServer, split: str) -> None:
    out = await chat(replay, "openai_chat/openai_gpt4o_tool_call_fragmented_args.sse", split=split, seed=11)
    [(call_id, name, args)] = out.calls()
    assert name == "get_weather" and args == {"city": "Mexico City"} and call_id.startswith("call_")
    tool_event = out.sink.of_type("tool-call")[0]
    assert json.loads(tool_event.tool_call.input) == {"city": "Mexico City"}  # type: ignore[attr-defined]


async def test_deepseek_reasoning_content(replay: ReplayServer) -> None:
    fixture = "openai_chat/deepseek_reasoner_reasoning_content.sse"
    out = await chat(replay, fixture, model="deepseek-reasoner")
    assert out.kinds() == ["reasoning", "llm_text"]
    assert out.of(BlockKind.REASONING)[0].payload["text"] == deltas(fixture, "reasoning_content")
    assert out.text == deltas(fixture, "content") and "😊" in out.text
    assert "partial-thinking" in out.types
    assert out.usage["input_tokens"] == 6 and out.usage["output_tokens"] == 212


async def test_openrouter_repeated_id_and_name_are_not_concatenated(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/openrouter_kimi_tool_call_variant_a.sse")
    assert out.calls() == [("0", "llm_version", {})]
    # No finish_reason "tool_calls" was sent: it is inferred from the accumulated call.
    assert out.result["stop_reason"] == "tool_calls"
    assert out.result["finish_class"] == "tool_calls_pending"


async def test_openrouter_first_fragment_without_arguments(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/openrouter_kimi_tool_call_variant_c.sse")
    assert out.calls() == [("llm_version:0", "llm_version", {})]


async def test_openrouter_null_arguments_become_empty_object(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/openrouter_tool_call_args_null_variant_d.sse")
    assert out.calls() == [("0", "llm_version", {})]


async def test_openrouter_error_inside_200_stream_keeps_usage(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/openrouter_midstream_error_with_sse_comments.sse")
    assert isinstance(out.error, ProviderError)
    assert out.error.status == 400 and out.error.retryable is False and out.error.provider == "openai"
    assert "Token limit reached" in str(out.error)
    assert out.types[0] == "start" and out.types[-1] == "error" and "partial-thinking" in out.types
    assert out.result["finish_class"] == "error" and out.result["stop_reason"] == "length"
    assert out.usage == {"input_tokens": 43, "output_tokens": 10}
    assert out.turn.blocks[0].kind is BlockKind.USER  # input intact


async def test_openrouter_http_429_without_retry_after(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/openrouter_http429_upstream_rate_limited.json")
    assert isinstance(out.error, ProviderError)
    assert out.error.status == 429 and out.error.retryable is True
    assert "rate limited" in str(out.error)
    assert len(replay.requests) == 1  # max_retries=0 in these tests
    assert out.result["finish_class"] == "error"


async def test_azure_empty_choices_first_chunk(replay: ReplayServer) -> None:
    fixture = "openai_chat/azure_model_router.chunks.txt"
    out = await chat(replay, fixture, model="model-router")
    assert out.error is None and out.text == deltas(fixture, "content") == "Capital of Denmark."
    assert out.usage == {"input_tokens": 15, "output_tokens": 78}


async def test_gateway_tool_index_starting_at_one(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/gateway_anthropic_fallback_tool_index_starts_at_1.sse")
    assert out.text == "Reading it."
    assert out.calls() == [("toolu_sanitized", "read_file", {"path": "a.txt"})]
    assert out.kinds() == ["llm_text", "tool_call"]


async def test_groq_reasoning_field(replay: ReplayServer) -> None:
    fixture = "openai_chat/groq_qwen3_reasoning.chunks.txt"
    out = await chat(replay, fixture, model="qwen/qwen3-32b")
    assert out.of(BlockKind.REASONING)[0].payload["text"] == deltas(fixture, "reasoning")
    assert out.text == deltas(fixture, "content")
    assert out.usage == {"input_tokens": 17, "output_tokens": 1107}


async def test_long_text_stream(replay: ReplayServer) -> None:
    fixture = "openai_chat/openai_gpt41nano_text_long.chunks.txt"
    out = await chat(replay, fixture, model="gpt-4.1-nano", split="random", seed=5)
    assert out.text == deltas(fixture, "content") and len(out.text) > 1000
    assert out.partial_text() == out.text
    assert out.usage == {"input_tokens": 16, "output_tokens": 300}


async def test_geppetto_text_only(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/geppetto/text_only.sse")
    assert out.text == "Hello"
    assert out.usage == {"input_tokens": 3, "output_tokens": 2, "cached_tokens": 1}


async def test_geppetto_fragmented_tool_call_keeps_its_name(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/geppetto/tool_calls_fragmented.sse")
    assert out.calls() == [("call_1", "lookup", {"q": "cats"})]
    assert out.usage == {"input_tokens": 8, "output_tokens": 4}


@pytest.mark.parametrize(
    ("fixture", "reasoning"),
    [
        ("geppetto/deepseek_reasoning_content.sse", "Think twice."),
        ("geppetto/together_reasoning.sse", "Thinking hard."),
    ],
)
async def test_geppetto_reasoning_variants(replay: ReplayServer, fixture: str, reasoning: str) -> None:
    out = await chat(replay, f"openai_chat/{fixture}")
    assert out.of(BlockKind.REASONING)[0].payload["text"] == reasoning
    assert out.text == deltas(f"openai_chat/{fixture}", "content")


async def test_truncated_stream_is_an_error_with_partial_text(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/SYNTH_openai_truncated_stream_no_done.sse")
    assert isinstance(out.error, ProviderError) and "ended before it was complete" in str(out.error)
    assert out.text == "Paris"
    [block] = out.of(BlockKind.LLM_TEXT)
    assert block.metadata["geppetto.inference_result@v1"]["finish_class"] == "error"
    assert out.types[-1] == "error"


async def test_x_should_retry_true_retries_a_400(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/SYNTH_openai_http400_x_should_retry_true.json")
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", max_retries=1))
    assert out.error is None and out.text == "Hello"
    assert [r.headers.get("x-stainless-retry-count") for r in replay.requests] == ["0", "1"]


async def test_x_should_retry_false_is_not_retried(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/SYNTH_openai_http500_x_should_retry_false.json")
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", max_retries=2))
    assert isinstance(out.error, ProviderError) and out.error.status == 500
    assert out.error.retryable is False and len(replay.requests) == 1


async def test_http_500_is_retried_by_the_sdk(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/SYNTH_openai_http500_server_error.json")
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", max_retries=1))
    assert out.error is None and out.text == "Hello" and len(replay.requests) == 2


async def test_http_429_retry_after_ms_then_success(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/SYNTH_openai_http429_retry_after_ms.json")
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", max_retries=1))
    assert out.error is None and len(replay.requests) == 2
    assert out.result["finish_class"] == "completed"


async def test_http_429_exhausted_names_the_request_id(replay: ReplayServer) -> None:
    out = await chat(replay, "openai_chat/SYNTH_openai_http429_retry_after_ms.json")
    assert isinstance(out.error, ProviderError) and out.error.request_id == "req_SYNTHETIC"


# -- request mapping ---------------------------------------------------------------------------


def _history() -> Turn:
    turn = Turn.builder().system("be brief").build()
    turn.blocks.append(Block.user("look", images=[{"media_type": "image/png", "content": "iVBORw0KGgo="}]))
    turn.blocks.append(Block.assistant("Let me check."))
    turn.blocks.append(Block.tool_call("call_a", "lookup", {"q": "x"}))
    turn.blocks.append(Block.tool_call("call_b", "lookup", '{"q": "y"}'))
    turn.blocks.append(Block.user("(interjection)"))
    turn.blocks.append(Block.tool_use("call_a", {"hits": 1}))
    turn.blocks.append(Block.tool_use("call_b", None, error="boom"))
    turn.blocks.append(Block.reasoning("hidden"))
    turn.blocks.append(Block.assistant("   "))
    return turn


async def test_request_maps_every_block_kind(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    turn = _history()
    DataKeys.TOOL_CONFIG.set(turn.data, {"enabled": True, "tool_choice": "required"})
    tools = Registry(
        Tool("lookup", "Find things", {"type": "object", "properties": {"q": {"type": "string"}}})
    )
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"), turn, tools=tools)
    assert out.error is None
    body = replay.requests[0].json()
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q":"x"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "y"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": '{"hits":1}'},
        {"role": "tool", "tool_call_id": "call_b", "content": '{"error":"boom","result":null}'},
        {"role": "user", "content": "(interjection)"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Find things",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    assert body["tool_choice"] == "required"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (1000, 0.7, 1.0)
    assert replay.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_reasoning_models_get_max_completion_tokens_and_no_sampling(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    await run_engine(engine_for(replay, "openai", "o3-mini", ai_max_response_tokens=64))
    body = replay.requests[0].json()
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert "temperature" not in body and "top_p" not in body and body["reasoning_effort"] == "medium"


async def test_structured_output_from_turn_data(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    turn = Turn.builder().user("hi").build()
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(
        turn.data, {"mode": "json_schema", "name": "answer", "schema": schema}
    )
    await run_engine(engine_for(replay, "openai", "gpt-4o-mini"), turn)
    assert replay.requests[0].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


async def test_structured_output_from_settings(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    engine = engine_for(
        replay,
        "openai",
        "gpt-4o-mini",
        ai_structured_output_mode="json_schema",
        ai_structured_output_name="person",
        ai_structured_output_schema='{"type": "object"}',
        ai_structured_output_strict="false",
    )
    await run_engine(engine)
    body = replay.requests[0].json()
    assert body["response_format"]["json_schema"] == {
        "name": "person",
        "schema": {"type": "object"},
        "strict": False,
    }


async def test_local_server_without_key_sends_no_authorization(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    settings = apply_fields(Settings(), {"ai-engine": "llama3", "openai-base-url": replay.base_url + "/v1"})
    engine = create_provider_engine(settings, environ={})
    out = await run_engine(engine)
    assert out.error is None and "Authorization" not in replay.requests[0].headers


# -- reliability -------------------------------------------------------------------------------


async def test_stream_failing_before_first_token_is_retried(replay: ReplayServer) -> None:
    head = load_fixture("openai_chat/openai_gpt5_text_usage_moderation.sse").body.split(b"\n\n")[0] + b"\n\n"
    replay.enqueue(
        Reply(headers={"content-type": "text/event-stream"}, body=head)
    )  # role chunk only, then EOF
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", max_retries=1))
    assert out.error is None and out.text == "Hello" and len(replay.requests) == 2
    assert out.types.count("start") == 1


async def test_stream_that_started_is_never_retried(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/SYNTH_openai_truncated_stream_no_done.sse")
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", max_retries=2))
    assert isinstance(out.error, ProviderError) and out.text == "Paris" and len(replay.requests) == 1


async def test_client_timeout_is_applied_to_stream_reads(replay: ReplayServer) -> None:
    replay.enqueue(Reply(headers={"content-type": "text/event-stream"}, body=b"", stall=True))
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini", timeout=0.2))
    assert isinstance(out.error, ProviderError) and "timed out" in str(out.error)


async def test_cancellation_closes_the_stream_and_keeps_partial_text(replay: ReplayServer) -> None:
    body = load_fixture("openai_chat/SYNTH_openai_truncated_stream_no_done.sse").body
    replay.enqueue(Reply(headers={"content-type": "text/event-stream"}, body=body, stall=True))
    engine = engine_for(replay, "openai", "gpt-4o-mini")
    sink = CollectingSink()
    turn = Turn.builder().user("hi").build()
    first = asyncio.Event()

    class Watch:
        def publish(self, event: object) -> None:
            sink.publish(event)  # type: ignore[arg-type]
            if getattr(event, "delta", None):
                first.set()

    task = asyncio.create_task(engine.run(turn, RunContext(sink=Watch())))
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(replay.disconnected.wait(), 5)
    await engine.aclose()
    assert [b.kind for b in turn.blocks] == [BlockKind.USER, BlockKind.LLM_TEXT]
    assert turn.blocks[1].payload["text"] == "Paris"
    assert turn.metadata["geppetto.inference_result@v1"]["finish_class"] == "interrupted"
    assert sink.events[-1].type.value == "interrupt"


async def test_errors_never_contain_the_key(replay: ReplayServer) -> None:
    body = json.dumps(
        {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
    )
    replay.enqueue(Reply(status=401, headers={"content-type": "application/json"}, body=body.encode()))
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"))
    assert isinstance(out.error, ProviderError) and out.error.status == 401
    assert KEY not in str(out.error) and "OPENAI_API_KEY" in str(out.error)
    assert all(KEY not in event.to_json() for event in out.sink.events)
    assert KEY not in repr(engine_for(replay, "openai", "gpt-4o-mini"))


async def test_invalid_tool_call_json_is_kept_raw_and_flagged(replay: ReplayServer) -> None:
    chunk = {
        "id": "c",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 0, "id": "call_bad", "function": {"name": "f", "arguments": '{"a": '}}
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    body = b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"
    replay.enqueue(Reply(headers={"content-type": "text/event-stream"}, body=body))
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"))
    assert out.error is None and out.calls() == [("call_bad", "f", '{"a":')]  # raw text, stripped
    assert out.result["extra"]["invalid_tool_arguments"] == ["call_bad"]


async def test_invalid_structured_output_config_fails_only_when_required(replay: ReplayServer) -> None:
    turn = Turn.builder().user("hi").build()
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(
        turn.data, {"mode": "json_schema", "name": "x", "require_valid": True}
    )
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"), turn)
    assert isinstance(out.error, ConfigError) and "JSON-object schema" in str(out.error)
    assert replay.requests == [] and len(turn.blocks) == 1
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    lenient = Turn.builder().user("hi").build()
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(lenient.data, {"mode": "json_schema", "name": "x"})
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"), lenient)
    assert out.error is None and "response_format" not in replay.requests[0].json()
