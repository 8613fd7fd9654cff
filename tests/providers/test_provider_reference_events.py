"""Every provider adapter, replayed: the reference view of its events is well formed and agrees
with the turn it produced (one accumulator feeds both views)."""

from __future__ import annotations

from typing import Any

import pytest
from provider_harness import engine_for
from provider_replay import ReplayServer

from geppetto.engines.base import RunContext
from geppetto.events import CollectingSink, check_correlation, reference_view
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Turn

CASES = [
    ("openai", "gpt-4o-mini", "openai_chat/geppetto/text_only.sse"),
    ("openai", "gpt-4o", "openai_chat/openai_gpt4o_parallel_tool_calls.sse"),
    ("openai", "gpt-4o", "openai_chat/openai_gpt4o_tool_call_fragmented_args.sse"),
    ("openai", "deepseek-reasoner", "openai_chat/deepseek_reasoner_reasoning_content.sse"),
    ("openai-responses", "o3-mini", "openai_responses/responses_o3mini_reasoning_summary_stream.sse"),
    ("openai-responses", "gpt-5.5", "openai_responses/responses_gpt55_function_call_stream.sse"),
    ("claude", "claude-haiku-4-5", "anthropic/anthropic_haiku45_text.sse"),
    ("claude", "claude-haiku-4-5", "anthropic/anthropic_haiku45_thinking.sse"),
    ("claude", "claude-haiku-4-5", "anthropic/anthropic_haiku45_parallel_tool_use.sse"),
    ("gemini", "gemini-2.5-flash", "gemini/gemini20_text_alt_sse.sse"),
    ("gemini", "gemini-2.5-flash", "gemini/gemini20_function_call_alt_sse.sse"),
    ("ollama", "llama3.2", "ollama/DOCS_ollama_chat_stream.ndjson"),
    ("ollama", "llama3.2", "ollama/DOCS_ollama_chat_stream_tool_call.ndjson"),
]


def of_type(payloads: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [p for p in payloads if p["type"] == name]


def check_segment(payloads: list[dict[str, Any]], kind: str, expected_text: str) -> None:
    """``<kind>-segment-started``, deltas numbered from 1 whose text grows to the block's text,
    ``<kind>-segment-finished`` with that text; all under one segment id."""
    names = [f"{kind}-segment-started", f"{kind}-delta", f"{kind}-segment-finished"]
    segment = [p for p in payloads if p["type"] in names]
    if not expected_text:
        assert segment == []
        return
    assert segment[0]["type"] == names[0] and segment[-1]["type"] == names[2]
    deltas = segment[1:-1]
    assert deltas and all(d["type"] == names[1] for d in deltas)
    assert [d["sequence"] for d in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(d["delta"] for d in deltas) == deltas[-1]["text"] == expected_text
    assert segment[-1]["text"] == expected_text
    assert len({p["correlation"]["segment_id"] for p in segment}) == 1


@pytest.mark.parametrize(("api_type", "model", "fixture"), CASES, ids=[c[2].split("/")[-1] for c in CASES])
async def test_reference_view_of_a_replayed_stream(
    replay: ReplayServer, api_type: str, model: str, fixture: str
) -> None:
    replay.enqueue(fixture)
    engine = engine_for(replay, api_type, model)
    core = CollectingSink(view="core")
    ctx = RunContext(session_id="s1", inference_id="run-1", turn_id="t1", sink=core)
    try:
        turn = await engine.run(Turn.builder().user("hi").build(), ctx)
    finally:
        await engine.aclose()
    payloads = [p for event in core.events for p in reference_view(event)]

    for payload in payloads:
        check_correlation(payload)
    assert payloads[0]["type"] == "provider-call-started"
    assert payloads[-1]["type"] == "provider-call-finished"
    call_ids = {p["correlation"].get("provider_call_id") for p in payloads}
    assert call_ids == {f"{engine.config.provider}:run-1:provider-call:0"}

    new = turn.blocks[1:]
    text = "".join(b.payload["text"] for b in new if b.kind is BlockKind.LLM_TEXT)
    reasoning = "".join(b.payload.get("text") or "" for b in new if b.kind is BlockKind.REASONING)
    check_segment(payloads, "text", text)
    check_segment(payloads, "reasoning", reasoning)

    calls = [b.payload for b in new if b.kind is BlockKind.TOOL_CALL]
    requested = [p["toolCall"] for p in of_type(payloads, "tool-call-requested")]
    assert [r["id"] for r in requested] == [c["id"] for c in calls]
    assert [r["name"] for r in requested] == [c["name"] for c in calls]
    started = {p["toolCall"]["id"] for p in of_type(payloads, "tool-call-started")}
    assert started == {c["id"] for c in calls}
    for request in requested:
        fragments = [p["toolCall"] for p in of_type(payloads, "tool-call-arguments-delta")]
        mine = [f for f in fragments if f["id"] == request["id"]]
        if mine:  # streamed arguments add up to what was requested
            assert "".join(f["delta"] for f in mine) == mine[-1]["arguments"] == request["input"]

    result = TurnMetaKeys.INFERENCE_RESULT.get(turn.metadata)
    assert result is not None
    finished = payloads[-1]
    assert finished["finishClass"] == result["finish_class"]
    assert finished["hasToolCalls"] is bool(calls)
    assert finished["stopReason"] == result.get("stop_reason", "")
    if result.get("usage"):
        assert finished["usage"] == result["usage"]


async def test_a_midstream_error_closes_segments_and_the_call(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/openrouter_midstream_error_with_sse_comments.sse")
    engine = engine_for(replay, "openai", "gpt-4o")
    core = CollectingSink(view="core")
    try:
        with pytest.raises(Exception):  # noqa: B017 - the mapped provider error; its type is tested elsewhere
            await engine.run(Turn.builder().user("hi").build(), RunContext(inference_id="r", sink=core))
    finally:
        await engine.aclose()
    names = [p["type"] for event in core.events for p in reference_view(event)]
    assert names[0] == "provider-call-started"
    assert names[-2:] == ["error", "provider-call-finished"]
    if "text-segment-started" in names:
        assert names[-3] == "text-segment-finished"


@pytest.mark.parametrize(
    ("api_type", "model", "fixture", "source"),
    [
        ("claude", "claude-haiku-4-5", "anthropic/anthropic_haiku45_thinking.sse", "thinking"),
        (
            "openai-responses",
            "o3-mini",
            "openai_responses/responses_o3mini_reasoning_summary_stream.sse",
            "summary",
        ),
        ("openai", "deepseek-reasoner", "openai_chat/deepseek_reasoner_reasoning_content.sse", None),
    ],
)
async def test_reasoning_source_follows_the_provider(
    replay: ReplayServer, api_type: str, model: str, fixture: str, source: str | None
) -> None:
    replay.enqueue(fixture)
    engine = engine_for(replay, api_type, model)
    core = CollectingSink(view="core")
    try:
        await engine.run(Turn.builder().user("hi").build(), RunContext(inference_id="r", sink=core))
    finally:
        await engine.aclose()
    payloads = [p for event in core.events for p in reference_view(event)]
    started = of_type(payloads, "reasoning-segment-started")[0]
    deltas = of_type(payloads, "reasoning-delta")
    assert started["source"] == (source or "provider")
    assert {d.get("source") for d in deltas} == {source}
