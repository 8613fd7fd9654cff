"""Whole provider responses (batch results) -> turns, through the engines' own stream parsers.

A batch result is the complete, non-streamed response body. Rather than keep a second mapping
of each wire format, the body is replayed as the canonical calls (or the stream events) the
engine's parser already understands, into the same :class:`StreamAccumulator`, so a batch item
ends with exactly the blocks and ``inference_result`` an interactive run would have produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.base import ProviderEngine
from geppetto.turns.model import Turn


def replay_turn(
    engine: ProviderEngine, turn: Turn, feed: Callable[[StreamAccumulator], Any], request_id: str = ""
) -> Turn:
    """Append to ``turn`` what ``feed`` replays into a fresh accumulator; errors propagate."""
    config = engine.config_for(turn)
    ctx = RunContext()
    with StreamAccumulator(
        turn, ctx, provider=config.provider, model=config.model, max_tokens=engine.max_tokens(config)
    ) as acc:
        acc.start()
        acc.request_id = request_id
        state = feed(acc)
        return engine.finish(acc, state)


def chat_completion_feed(engine: ProviderEngine, body: dict[str, Any]) -> Callable[[StreamAccumulator], Any]:
    """A ``chat.completion`` object: its ``message`` is one big delta for the chunk parser."""
    from geppetto.engines.providers.openai_chat import ChatStreamParser

    def feed(acc: StreamAccumulator) -> None:
        parser = ChatStreamParser(acc, engine.config.provider, engine.config.secrets)
        parser.chunk(body)
        parser.done = True
        parser.end()

    return feed


def _responses_events(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield {"type": "response.created", "response": {"id": body.get("id")}}
    for index, item in enumerate(body.get("output") or ()):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or ():
                if part.get("type") == "output_text":
                    yield {"type": "response.output_text.delta", "delta": part.get("text") or ""}
                elif part.get("type") == "refusal":
                    yield {"type": "response.refusal.delta", "delta": part.get("refusal") or ""}
            continue
        if kind == "reasoning":
            item_id = item.get("id")
            for number, summary in enumerate(item.get("summary") or ()):
                added = "response.reasoning_summary_part.added"
                yield {"type": added, "item_id": item_id, "summary_index": number}
                yield {"type": "response.reasoning_summary_text.delta", "delta": summary.get("text") or ""}
        yield {"type": "response.output_item.done", "item": item, "output_index": index}
    if body.get("status") == "failed":
        yield {"type": "response.failed", "response": body}
    else:
        yield {"type": "response.completed", "response": body}


def responses_feed(engine: ProviderEngine, body: dict[str, Any]) -> Callable[[StreamAccumulator], Any]:
    """A Responses ``response`` object, replayed as the events its stream would have carried."""
    from geppetto.engines.providers.openai_responses import ResponsesStreamParser

    def feed(acc: StreamAccumulator) -> None:
        parser = ResponsesStreamParser(acc, engine.config.provider, engine.config.secrets)
        for event in _responses_events(body):
            parser.event(event)
        parser.end()

    return feed


def _claude_events(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    start = {key: value for key, value in message.items() if key != "content"}
    yield {"type": "message_start", "message": {**start, "content": []}}
    for index, block in enumerate(message.get("content") or ()):
        if not isinstance(block, dict):
            continue
        yield {"type": "content_block_start", "index": index, "content_block": block}
        if block.get("type") == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            yield {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }
        yield {"type": "content_block_stop", "index": index}
    delta = {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")}
    yield {"type": "message_delta", "delta": delta}
    yield {"type": "message_stop"}


def claude_message_feed(
    engine: ProviderEngine, message: dict[str, Any]
) -> Callable[[StreamAccumulator], Any]:
    """A Messages ``message`` object, replayed as its stream events (thinking signatures kept)."""
    from geppetto.engines.providers.anthropic import ClaudeStreamParser

    def feed(acc: StreamAccumulator) -> ClaudeStreamParser:
        parser = ClaudeStreamParser(acc, engine.config.provider, engine.config.secrets)
        for event in _claude_events(message):
            parser.event(event)
        parser.end()
        return parser

    return feed
