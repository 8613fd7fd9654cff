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

Events, in order (seed events plus the core lifecycle events of ``events/canonical.py``; every
one carries the call's correlation, ``provider_call_id`` fresh per accumulator)::

    start                          (reference: provider-call-started)
    text-segment-started           before the first text delta; reasoning-segment-started alike
    partial / partial-thinking     per delta (reference: text-delta / reasoning-delta)
    tool-call-started, tool-call-arguments-delta   as tool-call fragments stream
    provider-call-metadata-updated when the stop reason or usage changes
    reasoning-/text-segment-finished
    tool-call per call             (reference: tool-call-requested)
    final | interrupt | error
    provider-call-finished
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import orjson

from geppetto.engines.base import RunContext
from geppetto.engines.result import FinishClass, InferenceResult, classify_stop_reason
from geppetto.events.canonical import (
    ProviderCallFinishedEvent,
    ProviderCallMetadataUpdatedEvent,
    ReasoningSegmentFinishedEvent,
    ReasoningSegmentStartedEvent,
    TextSegmentFinishedEvent,
    TextSegmentStartedEvent,
    ToolCallArgumentsDeltaEvent,
    ToolCallStartedEvent,
)
from geppetto.events.correlation import (
    SEGMENT_REASONING,
    SEGMENT_TEXT,
    SEGMENT_TOOL,
    Correlation,
    segment_correlation,
    tool_correlation,
)
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

# What ``finish`` publishes after the blocks are written (a sink for none of them skips it all).
_FINISH_EVENTS = frozenset(
    {
        ReasoningSegmentFinishedEvent,
        TextSegmentFinishedEvent,
        ToolCallEvent,
        ToolCallStartedEvent,
        FinalEvent,
        ProviderCallFinishedEvent,
    }
)
_REASONING_SOURCES = {"claude": "thinking", "anthropic": "thinking", "openai-responses": "summary"}


@dataclass(slots=True)
class PendingToolCall:
    """A tool call being assembled from streamed fragments."""

    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)
    args: Any = None  # set when the provider sends whole arguments (an object) at once
    corr: Correlation | None = None  # set once tool-call-started was published
    sequence: int = 0  # argument fragments published so far

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
        # The message's metadata and the call's correlation are built when an event first needs
        # them (a run nobody listens to never does); the call's index is taken now.
        self._meta: EventMetadata | None = None
        self._call_corr: Correlation | None = None
        self._call_index = ctx.provider_calls
        ctx.provider_calls += 1
        self.text_parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.encrypted_reasoning: str = ""
        self.reasoning_item_id: str = ""
        self.tool_calls: dict[Any, PendingToolCall] = {}
        self.usage: Usage | None = None
        self.stop_reason: str = ""
        self.request_id: str = ""
        self.response_id: str = ""
        self.response_model: str = ""  # the model the provider says answered, when it says
        self.server: str = ""  # the provider's base URL (remote engines set it; for telemetry)
        self.extra: dict[str, Any] = {}
        # where reasoning text comes from (the reference's ``source``); adapters may override
        self.reasoning_source = _REASONING_SOURCES.get(provider, "")
        self._text_corr: Correlation | None = None
        self._reasoning_corr: Correlation | None = None
        self._segments = 0
        self._reported: tuple[str, Usage | None] = ("", None)
        self._started_at = time.monotonic()
        self._started = False
        self._closed = False

    @property
    def meta(self) -> EventMetadata:
        """Metadata for this message's events (one message id shared by them)."""
        if self._meta is None:
            self._meta = self.ctx.event_metadata(self.model)
        return self._meta

    @property
    def call_corr(self) -> Correlation:
        """The model call's correlation (``provider_call_id`` with this call's index)."""
        if self._call_corr is None:
            self._call_corr = self.ctx.provider_call(self.provider, self._call_index, self.meta.message_id)
        return self._call_corr

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
            if self.ctx.wants(StartEvent):  # nobody would see it: no event to build
                event = StartEvent(
                    self.meta, self.call_corr, self.turn, server=self.server, max_tokens=self.max_tokens
                )
                self.ctx.publish(event)

    # -- canonical deltas ------------------------------------------------------------------

    def add_text(self, delta: str) -> None:
        if not delta:
            return
        parts = self.text_parts
        ctx = self.ctx
        if not parts and ctx.sink is not None:
            self._text_corr = self._segment(SEGMENT_TEXT)
            if ctx.wants(TextSegmentStartedEvent):
                ctx.publish(TextSegmentStartedEvent(self.meta, self._text_corr, "assistant"))
        parts.append(delta)
        if ctx.sink is not None and (ctx.event_types is None or PartialEvent in ctx.event_types):  # wants()
            ctx.sink.publish(PartialEvent.lazy(self.meta, delta, parts, len(parts), self._text_corr))

    def add_reasoning(self, delta: str) -> None:
        if not delta:
            return
        parts = self.reasoning_parts
        if not parts and self.ctx.sink is not None:
            self._reasoning_corr = self._segment(SEGMENT_REASONING)
            if self.ctx.wants(ReasoningSegmentStartedEvent):
                source = self.reasoning_source or "provider"
                self.ctx.publish(ReasoningSegmentStartedEvent(self.meta, self._reasoning_corr, source))
        parts.append(delta)
        if self.ctx.wants(PartialThinkingEvent):
            event = PartialThinkingEvent.lazy(
                self.meta, delta, parts, len(parts), self._reasoning_corr, self.reasoning_source
            )
            self.ctx.publish(event)

    def _segment(self, kind: str) -> Correlation:
        ordinal = self._segments
        self._segments = ordinal + 1
        return segment_correlation(self.call_corr, "", ordinal, kind)

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
        if self.ctx.sink is not None:
            self._tool_progress(call, arguments)
        return call

    def add_complete_tool_call(self, *, id: str | None, name: str, args: Any) -> PendingToolCall:
        """A tool call that arrives whole (Gemini, Ollama); missing ids are synthesised."""
        call = PendingToolCall(
            id=id or _synthetic_call_id(), name=name, args=args if args is not None else {}
        )
        self.tool_calls[("complete", len(self.tool_calls))] = call
        if self.ctx.sink is not None:
            self._announce(call)
        return call

    def _tool_progress(self, call: PendingToolCall, fragment: str) -> None:
        """``tool-call-started`` once the call's id is known, then one event per fragment."""
        if call.corr is None:
            if not call.id:
                return  # announced when the id arrives (or at finish, with a synthesised one)
            self._announce(call)
        if fragment:
            call.sequence += 1
            assert call.corr is not None
            if not self.ctx.wants(ToolCallArgumentsDeltaEvent):
                return
            self.ctx.publish(
                ToolCallArgumentsDeltaEvent(
                    self.meta, call.corr, call.id, fragment, "".join(call.fragments), call.sequence
                )
            )

    def _announce(self, call: PendingToolCall) -> Correlation:
        corr = call.corr = tool_correlation(self._segment(SEGMENT_TOOL), call.id)
        if self.ctx.wants(ToolCallStartedEvent):
            self.ctx.publish(ToolCallStartedEvent(self.meta, corr, call.id, call.name))
        return corr

    def set_usage(self, usage: Usage) -> None:
        """Replace the usage (protocols that report cumulative totals)."""
        self.usage = usage
        self._metadata_updated()

    def add_usage(self, usage: Usage) -> None:
        """Add to the usage (protocols that report per-event increments)."""
        self.usage = usage if self.usage is None else self.usage + usage
        self._metadata_updated()

    def set_stop_reason(self, reason: str | None) -> None:
        if reason:
            self.stop_reason = reason
            self._metadata_updated()

    def _metadata_updated(self) -> None:
        """``provider-call-metadata-updated`` when the stop reason or usage changed."""
        if not self.ctx.wants(ProviderCallMetadataUpdatedEvent):
            return
        reported = (self.stop_reason, self.usage)
        if reported == self._reported:
            return
        usage = None if self.usage is None else replace(self.usage)  # a snapshot: adapters may mutate
        self._reported = (self.stop_reason, usage)
        event = ProviderCallMetadataUpdatedEvent(self.meta, self.call_corr, self.stop_reason, "", usage)
        self.ctx.publish(event)

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
        if self.ctx.sink is None:  # the events below would be dropped unseen
            self.ctx.output = turn
            return turn
        ctx = self.ctx
        if ctx.event_types is not None and ctx.event_types.isdisjoint(_FINISH_EVENTS):
            ctx.output = turn  # a sink for deltas only (a streaming server): nothing more to build
            return turn
        meta = self._final_meta(result)
        self._close_segments(meta, self.stop_reason)
        whole_calls = ctx.wants(ToolCallEvent)
        if whole_calls or ctx.wants(ToolCallStartedEvent):
            for call in calls:
                corr = call.corr or self._announce(call)
                if whole_calls:
                    info = ToolCallInfo(call.id, call.name, call.input_json())
                    ctx.publish(ToolCallEvent(meta, info, corr=corr))
        if ctx.wants(FinalEvent):
            ctx.publish(FinalEvent(meta, text, corr=self.call_corr))
        self._call_finished(meta, result, self.stop_reason, bool(calls), None)
        ctx.output = turn
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
        reason = "cancelled" if error is None else "error"
        self._close_segments(meta, reason)
        if error is None:
            self.ctx.publish(InterruptEvent(meta, text, corr=self.call_corr))
        else:
            self.ctx.publish(ErrorEvent(meta, str(error), corr=self.call_corr))
        self._call_finished(meta, result, reason, False, error)
        self.ctx.output = self.turn
        return self.turn

    def _close_segments(self, meta: EventMetadata, finish_reason: str) -> None:
        if self.ctx.sink is None:
            return
        if self._reasoning_corr is not None and self.ctx.wants(ReasoningSegmentFinishedEvent):
            text = "".join(self.reasoning_parts)
            source = self.reasoning_source
            event = ReasoningSegmentFinishedEvent(meta, self._reasoning_corr, text, finish_reason, source)
            self.ctx.publish(event)
        if self._text_corr is not None and self.ctx.wants(TextSegmentFinishedEvent):
            self.ctx.publish(TextSegmentFinishedEvent(meta, self._text_corr, self.text, finish_reason))

    def _call_finished(
        self,
        meta: EventMetadata,
        result: InferenceResult,
        stop_reason: str,
        has_tool_calls: bool,
        error: BaseException | None,
    ) -> None:
        if not self.ctx.wants(ProviderCallFinishedEvent):
            return
        event = ProviderCallFinishedEvent(
            meta,
            self.call_corr,
            stop_reason,
            result.finish_class.value,
            self.usage,
            result.duration_ms,
            has_tool_calls,
            response_id=self.response_id,
            response_model=self.response_model,
            error=error,
        )
        self.ctx.publish(event)

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
            self.ctx.add_usage(self.usage)
        metadata[TurnMetaKeys.INFERENCE_RESULT.id] = result.to_dict()

    def _final_meta(self, result: InferenceResult) -> EventMetadata:
        return self.meta.with_result(
            usage=self.usage, stop_reason=self.stop_reason, duration_ms=result.duration_ms or 0
        )


def _synthetic_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
