"""Cancellation, for every family: the HTTP stream closes at once and the partial text is kept."""

from __future__ import annotations

import asyncio

import pytest
from provider_harness import engine_for
from provider_replay import ReplayServer, Reply, load_fixture

from geppetto.engines.base import RunContext
from geppetto.events.sinks import CollectingSink
from geppetto.events.types import Event, EventType
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Turn


def _prefix(fixture: str, marker: bytes) -> bytes:
    """The fixture's body up to (not including) ``marker``: a stream that has started but not ended."""
    body = load_fixture(fixture).body
    return body[: body.index(marker)]


# (api type, model, fixture, cut the body at this marker, text delivered before the cut)
CASES = [
    ("openai", "gpt-4o-mini", "openai_chat/geppetto/text_only.sse", b'"content":"lo"', "Hel"),
    (
        "claude",
        "claude-haiku-4-5",
        "anthropic/anthropic_haiku45_text.sse",
        b"event: content_block_stop",
        "Hello",
    ),
    ("gemini", "gemini-2.5-flash", "gemini/gemini20_text_alt_sse.sse", b'"text": " capital', "The"),
    ("ollama", "llama3.2", "ollama/DOCS_ollama_chat_stream.ndjson", b'"created_at":"2023-08-04T19', "The"),
    (
        "openai-responses",
        "gpt-5.5",
        "openai_responses/responses_gpt55_text_after_tool_result.sse",
        b"event: response.output_text.done",
        "1231 \u00d7 2331 = **2,869,461**",
    ),
]


@pytest.mark.parametrize(("api_type", "model", "fixture", "cut", "partial"), CASES)
async def test_cancel_mid_stream(
    replay: ReplayServer, api_type: str, model: str, fixture: str, cut: bytes, partial: str
) -> None:
    reply = load_fixture(fixture)
    replay.enqueue(Reply(status=200, headers=reply.headers, body=_prefix(fixture, cut), stall=True))
    engine = engine_for(replay, api_type, model)
    sink = CollectingSink()
    seen = asyncio.Event()
    texts: list[str] = []

    class Watch:
        def publish(self, event: Event) -> None:
            sink.publish(event)
            if event.type is EventType.PARTIAL:
                texts.append(event.delta)  # type: ignore[attr-defined]
                if "".join(texts) == partial:
                    seen.set()

    turn = Turn.builder().user("hi").build()
    task = asyncio.create_task(engine.run(turn, RunContext(sink=Watch())))
    await asyncio.wait_for(seen.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(replay.disconnected.wait(), 5)  # the HTTP stream was closed
    await engine.aclose()
    assert [b.kind for b in turn.blocks] == [BlockKind.USER, BlockKind.LLM_TEXT]
    assert turn.blocks[1].payload["text"] == partial
    assert turn.metadata["geppetto.inference_result@v1"]["finish_class"] == "interrupted"
    assert sink.events[-1].type is EventType.INTERRUPT
