"""Gemini engine against recorded streams (``.json`` generate responses are replayed as SSE)."""

from __future__ import annotations

import pytest
from provider_harness import KEY, Outcome, Registry, Tool, engine_for, run_engine
from provider_replay import ReplayServer

from geppetto.engines.providers.gemini_request import SIGNATURE_KEY, SYNTHETIC_ID_PREFIX
from geppetto.errors import ProviderError
from geppetto.turns.keys import DataKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

MODEL = "gemini-2.5-flash"


async def gemini(replay: ReplayServer, fixture: str, **options: object) -> Outcome:
    replay.enqueue(fixture, **options)  # type: ignore[arg-type]
    return await run_engine(engine_for(replay, "gemini", MODEL))


@pytest.mark.parametrize("split", ["whole", "random"])
async def test_text_alt_sse_with_crlf_and_replacing_usage(replay: ReplayServer, split: str) -> None:
    out = await gemini(replay, "gemini/gemini20_text_alt_sse.sse", split=split, seed=9)
    assert out.error is None and out.text == "The capital of France is Paris.\n"
    assert out.types == ["start", "partial", "partial", "partial", "final"]
    # promptTokenCount goes 15 -> 13 in the last chunk: the last snapshot wins, nothing is summed.
    assert out.usage == {"input_tokens": 13, "output_tokens": 8}
    assert out.result["stop_reason"] == "stop" and out.result["finish_class"] == "completed"
    request = replay.requests[0]
    assert request.path.endswith(f"models/{MODEL}:streamGenerateContent") and request.query == {"alt": "sse"}
    assert request.headers["x-goog-api-key"] == KEY


async def test_function_call_without_id_gets_a_synthetic_id(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini20_function_call_alt_sse.sse")
    [(call_id, name, args)] = out.calls()
    assert call_id.startswith(SYNTHETIC_ID_PREFIX) and name == "get_capital" and args == {"country": "France"}
    assert out.result["finish_class"] == "tool_calls_pending"
    assert out.usage == {"input_tokens": 52, "output_tokens": 5}


async def test_thought_signature_is_sent_back_on_the_next_turn(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini3_function_call_thought_signature_alt_sse.sse")
    [call] = out.of(BlockKind.TOOL_CALL)
    signature = call.metadata[SIGNATURE_KEY]
    assert signature.startswith("EpwICpkI")
    assert out.usage == {"input_tokens": 29, "output_tokens": 212}  # thoughts count as output

    out.turn.blocks.append(Block.tool_use(call.payload["id"], {"country": "France"}))
    replay.enqueue("gemini/gemini20_text_alt_sse.sse")
    await run_engine(engine_for(replay, "gemini", MODEL), out.turn)
    contents = replay.requests[-1].json()["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_country", "args": {}}, "thoughtSignature": signature}],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_country", "response": {"country": "France"}}}],
    }


async def test_json_array_stream_with_thought_then_function_call(replay: ReplayServer) -> None:
    fixture = "gemini/gemini25_json_array_stream_thought_then_function_call.json"
    out = await gemini(replay, fixture)  # served as application/json: the engine reads the array whole
    assert out.kinds() == ["reasoning", "tool_call"]
    assert out.calls()[0][1] == "pelican_name_generator"
    assert out.result["extra"]["finish_message"] == "Model generated function call(s)."
    assert SIGNATURE_KEY in out.of(BlockKind.TOOL_CALL)[0].metadata


async def test_json_array_text_as_sse(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini_flash_json_array_stream_text.json", as_sse=True)
    assert out.text == "Scoop" and out.kinds() == ["reasoning", "llm_text"]
    assert out.of(BlockKind.REASONING)[0].payload["text"].startswith("**Considering the Constraint**")
    assert SIGNATURE_KEY in out.of(BlockKind.LLM_TEXT)[0].metadata


async def test_parallel_calls_only_the_first_signed(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini3_parallel_function_calls_generate.json", as_sse=True)
    calls = out.of(BlockKind.TOOL_CALL)
    assert [c.payload["name"] for c in calls] == ["generate_topic"] * 3
    assert len({c.payload["id"] for c in calls}) == 3
    assert [SIGNATURE_KEY in c.metadata for c in calls] == [True, False, False]
    assert out.types.count("tool-call") == 3
    assert out.usage == {"input_tokens": 83, "output_tokens": 220}


async def test_safety_block(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini15_candidate_blocked_safety.json", as_sse=True)
    assert out.error is None and out.kinds() == []
    assert out.result["stop_reason"] == "safety" and out.result["finish_class"] == "error"
    assert out.result["extra"]["safety_ratings"][0]["blocked"] is True


async def test_prompt_blocked_without_candidates(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/vertex_gemini25_prompt_blocked_no_candidates.json", as_sse=True)
    assert out.kinds() == [] and out.result["stop_reason"] == "content_filter"
    assert out.result["extra"]["block_reason"] == "MODEL_ARMOR"


async def test_max_tokens_without_parts(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini25pro_max_tokens_no_parts.json", as_sse=True)
    assert out.error is None and out.kinds() == []
    assert out.result["finish_class"] == "max_tokens" and out.result["truncated"] is True


async def test_streamed_partial_arguments(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini31_streamed_function_call_partial_args.chunks.txt")
    assert [(name, args) for _, name, args in out.calls()] == [
        ("getWeather", {"location": "Boston"}),
        ("getWeather", {"location": "San Francisco"}),
    ]
    assert SIGNATURE_KEY in out.of(BlockKind.TOOL_CALL)[0].metadata


async def test_thought_parts_then_text(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini_reasoning_thought_parts.chunks.txt")
    assert out.text.startswith('There are **3** "r"s in strawberry.')
    assert out.usage["input_tokens"] == 9


async def test_midstream_error_object_keeps_partial_text(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/SYNTH_gemini_midstream_error_object.sse")
    assert isinstance(out.error, ProviderError) and out.error.status == 503 and out.error.retryable
    assert "overloaded" in str(out.error)
    assert out.text == "The" and out.result["finish_class"] == "error"
    assert out.types == ["start", "partial", "error"]


async def test_http_503(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/SYNTH_gemini_http503_unavailable.json")
    assert isinstance(out.error, ProviderError) and out.error.status == 503 and out.error.retryable
    assert len(replay.requests) == 1


async def test_http_503_then_success_through_sdk_retry(replay: ReplayServer) -> None:
    replay.enqueue("gemini/SYNTH_gemini_http503_unavailable.json")
    replay.enqueue("gemini/gemini20_text_alt_sse.sse")
    out = await run_engine(engine_for(replay, "gemini", MODEL, max_retries=1))
    assert out.error is None and out.text.startswith("The capital") and len(replay.requests) == 2


async def test_http_429_resource_exhausted(replay: ReplayServer) -> None:
    out = await gemini(replay, "gemini/gemini_429_resource_exhausted_retry_info.json", status=429)
    assert isinstance(out.error, ProviderError) and out.error.status == 429
    assert "quota" in str(out.error) and KEY not in str(out.error)


async def test_request_mapping(replay: ReplayServer) -> None:
    replay.enqueue("gemini/gemini20_text_alt_sse.sse")
    turn = Turn.builder().system("be brief").build()
    turn.blocks.append(Block.user("what is this", images=[{"media_type": "image/png", "content": "AAAA"}]))
    turn.blocks.append(Block.assistant("Let me look."))
    turn.blocks.append(Block.tool_call("call_x", "lookup", {"q": 1}))
    turn.blocks.append(Block.tool_use("call_x", "found", error=""))
    turn.blocks.append(Block.reasoning("not signed: dropped"))
    DataKeys.TOOL_CONFIG.set(turn.data, {"tool_choice": "required"})
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(
        turn.data, {"mode": "json_schema", "name": "a", "schema": {"type": "object"}}
    )
    tools = Registry(Tool("lookup", "Find"))
    out = await run_engine(engine_for(replay, "gemini", MODEL), turn, tools=tools)
    assert out.error is None
    body = replay.requests[0].json()
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [{"text": "what is this"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
        },
        {
            "role": "model",
            "parts": [
                {"text": "Let me look."},
                {"functionCall": {"name": "lookup", "args": {"q": 1}, "id": "call_x"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "lookup", "response": {"result": "found"}, "id": "call_x"}}
            ],
        },
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "lookup",
                    "description": "Find",
                    "parametersJsonSchema": {"type": "object", "properties": {}},
                }
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    config = body["generationConfig"]
    assert (config["temperature"], config["topP"], config["maxOutputTokens"]) == (0.7, 1.0, 1000)
    assert config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == {
        "type": "object"
    }
