"""The shared stream accumulator.

Provider adapters translate their wire format into a handful of canonical calls (text delta,
reasoning delta, tool-call fragment, usage, stop reason); the accumulator turns those into
events and, at the end, into blocks and ``inference_result`` metadata. Used as a context manager
it also records what happens when the stream is cancelled or fails::

    with StreamAccumulator(turn, ctx, provider="openai", model=model) as acc:
        acc.start()
        async for chunk in stream:
            acc.add_text(chunk.text)
        return acc.finish()

On cancellation the partial text becomes an ``llm_text`` block whose ``inference_result`` has
finish class ``interrupted`` (an ``interrupt`` event is published); on an exception it is kept
with finish class ``error`` (an ``error`` event is published). Either way ``ctx.output`` points
at the turn so the session keeps it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson

from geppetto.engines.base import RunContext
from geppetto.engines.result import FinishClass, InferenceResult, classify_stop_reason
from geppetto.events.types import (
    ErrorEvent,
    EventMetadata,
    FinalEvent,
    InterruptEvent,
    PartialEvent,
    PartialThinkingEvent,
    StartEvent,
    ToolCallEvent,
    ToolCallInfo,
    Usage,
)
from geppetto.turns.keys import BlockMetaKeys, TurnMetaKeys
from geppetto.turns.model import Block, Turn


@dataclass(slots=True)
class PendingToolCall:
    """A tool call being assembled from streamed fragments."""

    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    args: Any = None  # set when the provider sends whole arguments (an object) at once

    def arguments(self) -> Any:
        """Decoded arguments: an object, ``{}`` when empty, or the raw string when not valid JSON."""
        if self.args is not None:
            return self.args
        raw = "".join(self.fragments).strip()
        if not raw:
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw

    def input_json(self) -> str:
        if self.args is not None:
            return orjson.dumps(self.args).decode()
        return "".join(self.fragments) or "{}"


class StreamAccumulator:
    """Collects one model response and publishes its events. Not thread-safe: one per stream."""

    def __init__(
        self,
        turn: Turn,
        ctx: RunContext,
        *,
        provider: str,
        model: str,
        max_tokens: int | None = None,
    ) -> None:
        self.turn = turn
        self.ctx = ctx
        self.provider = provider
        self.model = model
        self.max_tokens = max_tokens
        self.meta: EventMetadata = ctx.event_metadata(model)
        self.text_parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.encrypted_reasoning: str = ""
        self.reasoning_item_id: str = ""
        self.tool_calls: dict[Any, PendingToolCall] = {}
        self.usage: Usage | None = None
        self.stop_reason: str = ""
        self.request_id: str = ""
        self.response_id: str = ""
        self.extra: dict[str, Any] = {}
        self._started_at = time.monotonic()
        self._started = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> StreamAccumulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or self._closed:
            return
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
            self.interrupt()
        elif isinstance(exc, Exception):
            self.fail(exc)

    def start(self) -> None:
        """Publish ``start`` (idempotent)."""
        if not self._started:
            self._started = True
            self._started_at = time.monotonic()
            self.ctx.publish(StartEvent(self.meta))

    # -- canonical deltas ------------------------------------------------------------------

    def add_text(self, delta: str) -> None:
        if not delta:
            return
        parts = self.text_parts
        parts.append(delta)
        if self.ctx.sink is not None:
            self.ctx.sink.publish(PartialEvent.lazy(self.meta, delta, parts, len(parts)))

    def add_reasoning(self, delta: str) -> None:
        if not delta:
            return
        parts = self.reasoning_parts
        parts.append(delta)
        if self.ctx.sink is not None:
            self.ctx.sink.publish(PartialThinkingEvent.lazy(self.meta, delta, parts, len(parts)))

    def set_encrypted_reasoning(self, content: str, item_id: str = "") -> None:
        self.encrypted_reasoning = content
        self.reasoning_item_id = item_id or self.reasoning_item_id

    def add_tool_call(
        self, key: Any, *, id: str | None = None, name: str | None = None, arguments: str = ""
    ) -> PendingToolCall:
        """Start or extend the tool call identified by ``key`` (an index, or the call id)."""
        call = self.tool_calls.get(key)
        if call is None:
            call = self.tool_calls[key] = PendingToolCall()
        if id:
            call.id = id
        if name:
            call.name = name
        if arguments:
            call.fragments.append(arguments)
        return call

    def add_complete_tool_call(self, *, id: str | None, name: str, args: Any) -> PendingToolCall:
        """A tool call that arrives whole (Gemini, Ollama); missing ids are synthesised."""
        call = PendingToolCall(
            id=id or _synthetic_call_id(), name=name, args=args if args is not None else {}
        )
        self.tool_calls[("complete", len(self.tool_calls))] = call
        return call

    def set_usage(self, usage: Usage) -> None:
        """Replace the usage (protocols that report cumulative totals)."""
        self.usage = usage

    def add_usage(self, usage: Usage) -> None:
        """Add to the usage (protocols that report per-event increments)."""
        self.usage = usage if self.usage is None else self.usage + usage

    def set_stop_reason(self, reason: str | None) -> None:
        if reason:
            self.stop_reason = reason

    # -- results ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def finish(self) -> Turn:
        """Append the response's blocks, write ``inference_result`` and publish tool-call and final events."""
        self.start()
        self._closed = True
        turn = self.turn
        self._append_reasoning()
        text = self.text
        if text:
            turn.blocks.append(Block.assistant(text))
        calls = [call for call in self.tool_calls.values() if call.name]
        for call in calls:
            call.id = call.id or _synthetic_call_id()
            turn.blocks.append(Block.tool_call(call.id, call.name, call.arguments()))
        result = self._result(classify_stop_reason(self.stop_reason, has_tool_calls=bool(calls)))
        self._write_metadata(result)
        meta = self._final_meta(result)
        for call in calls:
            self.ctx.publish(ToolCallEvent(meta, ToolCallInfo(call.id, call.name, call.input_json())))
        self.ctx.publish(FinalEvent(meta, text))
        self.ctx.output = turn
        return turn

    def interrupt(self) -> Turn:
        """Record the partial output of a cancelled stream."""
        return self._close_partial(FinishClass.INTERRUPTED, None)

    def fail(self, error: BaseException) -> Turn:
        """Record the partial output of a failed stream."""
        return self._close_partial(FinishClass.ERROR, error)

    def _close_partial(self, finish_class: FinishClass, error: BaseException | None) -> Turn:
        self._closed = True
        result = self._result(finish_class)
        result.truncated = True
        if error is not None:
            result.extra["error"] = str(error)
        self._append_reasoning()
        text = self.text
        if text:
            block = Block.assistant(text)
            BlockMetaKeys.INFERENCE_RESULT.set(block.metadata, result.to_dict())
            self.turn.blocks.append(block)
        self._write_metadata(result)
        meta = self._final_meta(result)
        if error is None:
            self.ctx.publish(InterruptEvent(meta, text))
        else:
            self.ctx.publish(ErrorEvent(meta, str(error)))
        self.ctx.output = self.turn
        return self.turn

    def _append_reasoning(self) -> None:
        reasoning = "".join(self.reasoning_parts)
        if reasoning or self.encrypted_reasoning:
            block = Block.reasoning(
                reasoning, encrypted_content=self.encrypted_reasoning, item_id=self.reasoning_item_id
            )
            self.turn.blocks.append(block)

    def _result(self, finish_class: FinishClass) -> InferenceResult:
        return InferenceResult(
            provider=self.provider,
            model=self.model,
            stop_reason=self.stop_reason,
            finish_class=finish_class,
            truncated=finish_class is FinishClass.MAX_TOKENS,
            usage=self.usage,
            max_tokens=self.max_tokens,
            duration_ms=int((time.monotonic() - self._started_at) * 1000),
            request_id=self.request_id,
            response_id=self.response_id,
            extra=dict(self.extra),
        )

    def _write_metadata(self, result: InferenceResult) -> None:
        metadata = self.turn.metadata
        metadata[TurnMetaKeys.PROVIDER.id] = self.provider
        metadata[TurnMetaKeys.MODEL.id] = self.model
        if self.stop_reason:
            metadata[TurnMetaKeys.STOP_REASON.id] = self.stop_reason
        if self.usage is not None:
            metadata[TurnMetaKeys.USAGE.id] = self.usage.to_dict()
        metadata[TurnMetaKeys.INFERENCE_RESULT.id] = result.to_dict()

    def _final_meta(self, result: InferenceResult) -> EventMetadata:
        return self.meta.with_result(
            usage=self.usage, stop_reason=self.stop_reason, duration_ms=result.duration_ms or 0
        )


def _synthetic_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
