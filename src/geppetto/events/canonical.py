"""Core events the seed vocabulary has no equivalent for: run lifecycle, provider-call
metadata and outcome, segment boundaries, streamed tool-call starts and argument fragments.

They are published into the same stream as the seed's events (one pipeline) but have
``seed = False``: seed-view sinks (the CLI printer, rpc, chat, JS ``start()`` ``"*"`` listeners)
skip them, so seed consumers see exactly what they saw before. Each always carries a
:class:`Correlation`. JSON envelope: ``{"type", "meta", "correlation", ...fields}`` with the
reference's snake_case field names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from geppetto.events.correlation import Correlation
from geppetto.events.types import CanonicalEventType, Event, EventMetadata, Usage, parse_event_type


class CanonicalEvent(Event):
    """Base of the lifecycle events: never in the seed view, always correlated."""

    __slots__ = ()
    type: ClassVar[CanonicalEventType]
    seed: ClassVar[bool] = False
    corr: Correlation

    def __init__(self, meta: EventMetadata, corr: Correlation) -> None:
        super().__init__(meta, corr)

    def to_dict(self) -> dict[str, Any]:
        head = {"type": self.type.value, "meta": self.meta.to_dict(), "correlation": self.corr.to_dict()}
        return {**head, **self.payload()}


# -- run lifecycle (published by the session) ---------------------------------------------------


class RunStartedEvent(CanonicalEvent):
    """``turn`` (not serialized) is the run's input turn, for in-process consumers (telemetry reads
    the agent name from its runtime metadata)."""

    __slots__ = ("prompt", "turn")
    type = CanonicalEventType.RUN_STARTED

    def __init__(self, meta: EventMetadata, corr: Correlation, prompt: str = "", *, turn: Any = None) -> None:
        super().__init__(meta, corr)
        self.prompt = prompt
        self.turn = turn

    def payload(self) -> dict[str, Any]:
        return {"prompt": self.prompt} if self.prompt else {}


class RunFinishedEvent(CanonicalEvent):
    __slots__ = ("status",)
    type = CanonicalEventType.RUN_FINISHED

    def __init__(self, meta: EventMetadata, corr: Correlation, status: str = "completed") -> None:
        super().__init__(meta, corr)
        self.status = status

    def payload(self) -> dict[str, Any]:
        return {"status": self.status} if self.status else {}


class RunStoppedEvent(CanonicalEvent):
    __slots__ = ("reason",)
    type = CanonicalEventType.RUN_STOPPED

    def __init__(self, meta: EventMetadata, corr: Correlation, reason: str = "cancelled") -> None:
        super().__init__(meta, corr)
        self.reason = reason

    def payload(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.reason else {}


class RunFailedEvent(CanonicalEvent):
    __slots__ = ("error", "error_string")
    type = CanonicalEventType.RUN_FAILED

    def __init__(
        self,
        meta: EventMetadata,
        corr: Correlation,
        error_string: str = "",
        error: BaseException | None = None,
    ) -> None:
        super().__init__(meta, corr)
        self.error_string = error_string
        self.error = error  # the exception itself, for in-process consumers (not serialized)

    def payload(self) -> dict[str, Any]:
        return {"error_string": self.error_string} if self.error_string else {}


# -- provider calls (published by the accumulator) ----------------------------------------------


class ProviderCallMetadataUpdatedEvent(CanonicalEvent):
    """The provider reported a stop reason or usage mid-stream."""

    __slots__ = ("stop_reason", "stop_sequence", "usage")
    type = CanonicalEventType.PROVIDER_CALL_METADATA_UPDATED

    def __init__(
        self,
        meta: EventMetadata,
        corr: Correlation,
        stop_reason: str = "",
        stop_sequence: str = "",
        usage: Usage | None = None,
    ) -> None:
        super().__init__(meta, corr)
        self.stop_reason, self.stop_sequence, self.usage = stop_reason, stop_sequence, usage

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.stop_reason:
            out["stop_reason"] = self.stop_reason
        if self.stop_sequence:
            out["stop_sequence"] = self.stop_sequence
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        return out


class ProviderCallFinishedEvent(CanonicalEvent):
    """The outcome of one model call; ``finish_class`` uses ``inference_result``'s values.

    ``response_id``, ``response_model`` and ``error`` (the exception of a failed call) are facts
    for in-process consumers such as telemetry; they are not part of the JSON envelope."""

    __slots__ = (
        "duration_ms",
        "error",
        "finish_class",
        "has_tool_calls",
        "response_id",
        "response_model",
        "stop_reason",
        "usage",
    )
    type = CanonicalEventType.PROVIDER_CALL_FINISHED

    def __init__(
        self,
        meta: EventMetadata,
        corr: Correlation,
        stop_reason: str = "",
        finish_class: str = "",
        usage: Usage | None = None,
        duration_ms: int | None = None,
        has_tool_calls: bool = False,
        *,
        response_id: str = "",
        response_model: str = "",
        error: BaseException | None = None,
    ) -> None:
        super().__init__(meta, corr)
        self.stop_reason, self.finish_class, self.usage = stop_reason, finish_class, usage
        self.duration_ms, self.has_tool_calls = duration_ms, has_tool_calls
        self.response_id, self.response_model, self.error = response_id, response_model, error

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.stop_reason:
            out["stop_reason"] = self.stop_reason
        if self.finish_class:
            out["finish_class"] = self.finish_class
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        if self.duration_ms is not None:
            out["duration_ms"] = self.duration_ms
        if self.has_tool_calls:
            out["has_tool_calls"] = True
        return out


# -- segments ------------------------------------------------------------------------------------


class TextSegmentStartedEvent(CanonicalEvent):
    __slots__ = ("role",)
    type = CanonicalEventType.TEXT_SEGMENT_STARTED

    def __init__(self, meta: EventMetadata, corr: Correlation, role: str = "assistant") -> None:
        super().__init__(meta, corr)
        self.role = role

    def payload(self) -> dict[str, Any]:
        return {"role": self.role} if self.role else {}


class TextSegmentFinishedEvent(CanonicalEvent):
    __slots__ = ("finish_reason", "text")
    type = CanonicalEventType.TEXT_SEGMENT_FINISHED

    def __init__(self, meta: EventMetadata, corr: Correlation, text: str, finish_reason: str = "") -> None:
        super().__init__(meta, corr)
        self.text, self.finish_reason = text, finish_reason

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text}
        if self.finish_reason:
            out["finish_reason"] = self.finish_reason
        return out


class TextDeltaEvent(CanonicalEvent):
    """A text delta with no seed rendering: engines that do not stream (function engines) publish
    their whole text as one, so reference listeners can build text from deltas alike. Streaming
    engines publish ``PartialEvent`` instead, which renders as ``text-delta`` too."""

    __slots__ = ("delta", "sequence", "text")
    type = CanonicalEventType.TEXT_DELTA

    def __init__(
        self, meta: EventMetadata, corr: Correlation, delta: str, text: str, sequence: int = 1
    ) -> None:
        super().__init__(meta, corr)
        self.delta, self.text, self.sequence = delta, text, sequence

    def payload(self) -> dict[str, Any]:
        return {"delta": self.delta, "text": self.text, "sequence": self.sequence}


class ReasoningSegmentStartedEvent(CanonicalEvent):
    __slots__ = ("source",)
    type = CanonicalEventType.REASONING_SEGMENT_STARTED

    def __init__(self, meta: EventMetadata, corr: Correlation, source: str = "") -> None:
        super().__init__(meta, corr)
        self.source = source

    def payload(self) -> dict[str, Any]:
        return {"source": self.source} if self.source else {}


class ReasoningSegmentFinishedEvent(CanonicalEvent):
    __slots__ = ("finish_reason", "source", "text")
    type = CanonicalEventType.REASONING_SEGMENT_FINISHED

    def __init__(
        self, meta: EventMetadata, corr: Correlation, text: str, finish_reason: str = "", source: str = ""
    ) -> None:
        super().__init__(meta, corr)
        self.text, self.finish_reason, self.source = text, finish_reason, source

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("text", "finish_reason", "source"):
            if value := getattr(self, key):
                out[key] = value
        return out


# -- streamed tool calls -------------------------------------------------------------------------


class ToolCallStartedEvent(CanonicalEvent):
    __slots__ = ("tool_call_id", "tool_name")
    type = CanonicalEventType.TOOL_CALL_STARTED

    def __init__(
        self, meta: EventMetadata, corr: Correlation, tool_call_id: str, tool_name: str = ""
    ) -> None:
        super().__init__(meta, corr)
        self.tool_call_id, self.tool_name = tool_call_id, tool_name

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool_call_id": self.tool_call_id}
        if self.tool_name:
            out["tool_name"] = self.tool_name
        return out


class ToolCallArgumentsDeltaEvent(CanonicalEvent):
    """One fragment of a streamed tool call's arguments, with the arguments so far."""

    __slots__ = ("arguments", "delta", "sequence", "tool_call_id")
    type = CanonicalEventType.TOOL_CALL_ARGUMENTS_DELTA

    def __init__(
        self,
        meta: EventMetadata,
        corr: Correlation,
        tool_call_id: str,
        delta: str,
        arguments: str,
        sequence: int,
    ) -> None:
        super().__init__(meta, corr)
        self.tool_call_id, self.delta, self.arguments = tool_call_id, delta, arguments
        self.sequence = sequence

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool_call_id": self.tool_call_id, "delta": self.delta}
        out["arguments"] = self.arguments
        if self.sequence:
            out["sequence"] = self.sequence
        return out


class ToolCallRequestedEvent(CanonicalEvent):
    """A tool call the model asked for, from engines that publish no seed ``tool-call`` event
    (function engines); the accumulator's ``tool-call`` events render the same way."""

    __slots__ = ("input", "tool_call_id", "tool_name")
    type = CanonicalEventType.TOOL_CALL_REQUESTED

    def __init__(
        self, meta: EventMetadata, corr: Correlation, tool_call_id: str, tool_name: str, input: str
    ) -> None:
        super().__init__(meta, corr)
        self.tool_call_id, self.tool_name, self.input = tool_call_id, tool_name, input

    def payload(self) -> dict[str, Any]:
        return {"tool_call_id": self.tool_call_id, "tool_name": self.tool_name, "input": self.input}


CANONICAL_EVENT_CLASSES: dict[CanonicalEventType, type[CanonicalEvent]] = {
    cls.type: cls
    for cls in (
        RunStartedEvent,
        RunFinishedEvent,
        RunStoppedEvent,
        RunFailedEvent,
        ProviderCallMetadataUpdatedEvent,
        ProviderCallFinishedEvent,
        TextSegmentStartedEvent,
        TextDeltaEvent,
        TextSegmentFinishedEvent,
        ReasoningSegmentStartedEvent,
        ReasoningSegmentFinishedEvent,
        ToolCallStartedEvent,
        ToolCallArgumentsDeltaEvent,
        ToolCallRequestedEvent,
    )
}


def canonical_event_from_dict(raw: dict[str, Any]) -> CanonicalEvent:
    """Rebuild a lifecycle event from its JSON envelope (the inverse of ``to_dict``)."""
    kind = parse_event_type(str(raw.get("type") or ""))  # raises for unknown names, listing the known
    cls = CANONICAL_EVENT_CLASSES.get(kind) if isinstance(kind, CanonicalEventType) else None
    if cls is None:
        raise ValueError(f"{kind.value} is a reference-view name with no core event of its own")
    meta = EventMetadata.from_dict(raw.get("meta") or {})
    corr = Correlation.from_dict(raw.get("correlation") or {})
    fields = {key: value for key, value in raw.items() if key not in ("type", "meta", "correlation")}
    if isinstance(fields.get("usage"), dict):
        fields["usage"] = Usage.from_dict(fields["usage"])
    return cls(meta, corr, **fields)
