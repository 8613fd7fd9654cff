"""Event types published while an inference runs, and their JSON form.

JSON envelope: ``{"type": <type>, "meta": {...}, ...payload}``. Events are small slotted objects
because a stream may publish tens of thousands per second; ``PartialEvent.completion`` (the
text so far) is materialised only when somebody reads it.

These are the core events: the seed's types (this module) plus the lifecycle events the seed has
no equivalent for (``canonical.py``). Every event carries ``timestamp_ms`` (wall clock, set when
it is created) and, when its producer knows them, correlation ids (``corr``). ``seed`` says
whether the seed view shows it; ``views.py`` renders the reference's vocabulary from the same
events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

if TYPE_CHECKING:
    from geppetto.events.correlation import Correlation

_time_ns = time.time_ns


def now_ms() -> int:
    """Wall-clock milliseconds, the unit of every event timestamp."""
    return _time_ns() // 1_000_000


class EventType(StrEnum):
    START = "start"
    PARTIAL = "partial"
    PARTIAL_THINKING = "partial-thinking"
    TOOL_CALL = "tool-call"
    TOOL_CALL_EXECUTE = "tool-call-execute"
    TOOL_CALL_EXECUTION_RESULT = "tool-call-execution-result"
    TOOL_RESULT = "tool-result"
    FINAL = "final"
    ERROR = "error"
    INTERRUPT = "interrupt"
    LOG = "log"
    INFO = "info"


class CanonicalEventType(StrEnum):
    """The reference's current vocabulary (the names ``reference_view`` payloads carry)."""

    RUN_STARTED = "run-started"
    RUN_FINISHED = "run-finished"
    RUN_STOPPED = "run-stopped"
    RUN_FAILED = "run-failed"
    PROVIDER_CALL_STARTED = "provider-call-started"
    PROVIDER_CALL_METADATA_UPDATED = "provider-call-metadata-updated"
    PROVIDER_CALL_FINISHED = "provider-call-finished"
    TEXT_SEGMENT_STARTED = "text-segment-started"
    TEXT_DELTA = "text-delta"
    TEXT_SEGMENT_FINISHED = "text-segment-finished"
    REASONING_SEGMENT_STARTED = "reasoning-segment-started"
    REASONING_DELTA = "reasoning-delta"
    REASONING_SEGMENT_FINISHED = "reasoning-segment-finished"
    TOOL_CALL_STARTED = "tool-call-started"
    TOOL_CALL_ARGUMENTS_DELTA = "tool-call-arguments-delta"
    TOOL_CALL_REQUESTED = "tool-call-requested"
    TOOL_EXECUTION_STARTED = "tool-execution-started"
    TOOL_RESULT_READY = "tool-result-ready"
    TOOL_CALL_FINISHED = "tool-call-finished"
    ERROR = "error"
    INTERRUPT = "interrupt"
    LOG = "log"
    INFO = "info"


def parse_event_type(name: EventType | CanonicalEventType | str) -> EventType | CanonicalEventType:
    """A seed type when the name is one (``error``, ``log``... are both), else a canonical type."""
    if isinstance(name, EventType | CanonicalEventType):
        return name
    try:
        return EventType(name)
    except ValueError:
        pass
    try:
        return CanonicalEventType(name)
    except ValueError:
        known = ", ".join(sorted({*EventType, *CanonicalEventType}))
        raise ValueError(f"unknown event type {name!r}; known types: {known}") from None


@dataclass(slots=True)
class Usage:
    """Token counts; provider adapters either replace or add to them as their protocol requires."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        out = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        for name in ("cached_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Usage)))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Usage:
        return cls(**{f.name: int(raw.get(f.name) or 0) for f in fields(Usage)})


@dataclass(slots=True)
class EventMetadata:
    """Correlation and run facts carried by every event."""

    message_id: str = ""
    session_id: str = ""
    inference_id: str = ""
    turn_id: str = ""
    model: str = ""
    usage: Usage | None = None
    stop_reason: str = ""
    duration_ms: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message_id": self.message_id}
        for name in ("session_id", "inference_id", "turn_id", "model", "stop_reason"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        if self.duration_ms is not None:
            out["duration_ms"] = self.duration_ms
        if self.extra:
            out["extra"] = self.extra
        return out

    def with_result(self, *, usage: Usage | None, stop_reason: str, duration_ms: int) -> EventMetadata:
        """A copy carrying the run's outcome (``dataclasses.replace`` is several times slower)."""
        return EventMetadata(
            self.message_id,
            self.session_id,
            self.inference_id,
            self.turn_id,
            self.model,
            usage,
            stop_reason,
            duration_ms,
            self.extra,
        )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EventMetadata:
        usage = raw.get("usage")
        return cls(
            message_id=raw.get("message_id", ""),
            session_id=raw.get("session_id", ""),
            inference_id=raw.get("inference_id", ""),
            turn_id=raw.get("turn_id", ""),
            model=raw.get("model", ""),
            usage=Usage.from_dict(usage) if isinstance(usage, dict) else None,
            stop_reason=raw.get("stop_reason", ""),
            duration_ms=raw.get("duration_ms"),
            extra=dict(raw.get("extra") or {}),
        )


class Event:
    """Base class: ``type`` names the event, ``meta`` correlates it, ``payload()`` is the rest.

    ``timestamp_ms`` is set at creation; ``corr`` holds the correlation ids when the producer
    knows them (``None`` otherwise). Neither is part of the seed JSON envelope.
    """

    __slots__ = ("corr", "meta", "timestamp_ms")
    type: ClassVar[EventType | CanonicalEventType]
    seed: ClassVar[bool] = True  # shown by seed-view sinks (False: only the core/reference views)

    def __init__(self, meta: EventMetadata, corr: Correlation | None = None) -> None:
        self.meta = meta
        self.corr = corr
        self.timestamp_ms = _time_ns() // 1_000_000

    def payload(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "meta": self.meta.to_dict(), **self.payload()}

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict(), default=str).decode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.payload()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and type(other) is type(self) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


class StartEvent(Event):
    """A model call begins. For in-process consumers (telemetry), not serialized, and possibly
    unset: ``turn`` is the turn the engine is about to send, ``server`` the provider's base URL,
    ``max_tokens`` the reply cap asked for."""

    __slots__ = ("max_tokens", "server", "turn")
    type = EventType.START

    def __init__(
        self,
        meta: EventMetadata,
        corr: Correlation | None = None,
        turn: Any = None,
        *,
        server: str = "",
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(meta, corr)
        self.turn, self.server, self.max_tokens = turn, server, max_tokens


class _DeltaEvent(Event):
    """A text delta plus the text so far, computed lazily from the accumulator's parts.

    ``sequence`` numbers the deltas of a segment from 1 (0 when unknown); ``source`` says where
    reasoning text came from when the provider tells (``thinking``, ``summary``...).
    """

    __slots__ = ("_completion", "_parts", "_upto", "delta", "source")

    def __init__(
        self, meta: EventMetadata, delta: str, completion: str = "", corr: Correlation | None = None
    ) -> None:
        super().__init__(meta, corr)
        self.delta = delta
        self._completion: str | None = completion
        self._parts: list[str] | None = None
        self._upto = 0
        self.source = ""

    @classmethod
    def lazy(
        cls,
        meta: EventMetadata,
        delta: str,
        parts: list[str],
        upto: int,
        corr: Correlation | None = None,
        source: str = "",
    ) -> _DeltaEvent:
        """The accumulator's per-chunk constructor (the hot path: no ``__init__`` chain)."""
        event = cls.__new__(cls)
        event.meta = meta
        event.corr = corr
        event.timestamp_ms = _time_ns() // 1_000_000
        event.delta = delta
        event._completion = None
        event._parts = parts
        event._upto = upto
        event.source = source
        return event

    @property
    def sequence(self) -> int:
        return self._upto

    @property
    def completion(self) -> str:
        if self._completion is None:
            assert self._parts is not None
            self._completion = "".join(self._parts[: self._upto])
            self._parts = None
        return self._completion

    def payload(self) -> dict[str, Any]:
        return {"delta": self.delta, "completion": self.completion}


class PartialEvent(_DeltaEvent):
    __slots__ = ()
    type = EventType.PARTIAL


class PartialThinkingEvent(_DeltaEvent):
    __slots__ = ()
    type = EventType.PARTIAL_THINKING


class _TextEvent(Event):
    __slots__ = ("text",)

    def __init__(self, meta: EventMetadata, text: str, *, corr: Correlation | None = None) -> None:
        super().__init__(meta, corr)
        self.text = text

    def payload(self) -> dict[str, Any]:
        return {"text": self.text}


class FinalEvent(_TextEvent):
    __slots__ = ()
    type = EventType.FINAL


class InterruptEvent(_TextEvent):
    __slots__ = ()
    type = EventType.INTERRUPT


class ErrorEvent(Event):
    __slots__ = ("error_string",)
    type = EventType.ERROR

    def __init__(self, meta: EventMetadata, error_string: str, *, corr: Correlation | None = None) -> None:
        super().__init__(meta, corr)
        self.error_string = error_string

    def payload(self) -> dict[str, Any]:
        return {"error_string": self.error_string}


@dataclass(slots=True)
class ToolCallInfo:
    id: str
    name: str
    input: str  # the arguments as a JSON string

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "input": self.input}


@dataclass(slots=True)
class ToolResultInfo:
    """``name`` and ``status`` (``success``/``error``) feed the reference view only; the seed
    envelope keeps ``{id, result}``."""

    id: str
    result: str
    name: str = ""
    status: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "result": self.result}


class _ToolCallEvent(Event):
    __slots__ = ("tool_call",)

    def __init__(
        self, meta: EventMetadata, tool_call: ToolCallInfo, *, corr: Correlation | None = None
    ) -> None:
        super().__init__(meta, corr)
        self.tool_call = tool_call

    def payload(self) -> dict[str, Any]:
        return {"tool_call": self.tool_call.to_dict()}


class ToolCallEvent(_ToolCallEvent):
    """The provider asked for a tool call."""

    __slots__ = ()
    type = EventType.TOOL_CALL


class ToolCallExecuteEvent(_ToolCallEvent):
    """The local executor is about to run a tool."""

    __slots__ = ()
    type = EventType.TOOL_CALL_EXECUTE


class _ToolResultEvent(Event):
    __slots__ = ("tool_result",)

    def __init__(
        self, meta: EventMetadata, tool_result: ToolResultInfo, *, corr: Correlation | None = None
    ) -> None:
        super().__init__(meta, corr)
        self.tool_result = tool_result

    def payload(self) -> dict[str, Any]:
        return {"tool_result": self.tool_result.to_dict()}


class ToolResultEvent(_ToolResultEvent):
    __slots__ = ()
    type = EventType.TOOL_RESULT


class ToolCallExecutionResultEvent(_ToolResultEvent):
    """The local executor finished a tool (result JSON, or ``Error: ...``)."""

    __slots__ = ()
    type = EventType.TOOL_CALL_EXECUTION_RESULT


class LogEvent(Event):
    __slots__ = ("fields", "level", "message")
    type = EventType.LOG

    def __init__(
        self,
        meta: EventMetadata,
        level: str,
        message: str,
        fields: dict[str, Any] | None = None,
        *,
        corr: Correlation | None = None,
    ) -> None:
        super().__init__(meta, corr)
        self.level, self.message, self.fields = level, message, fields

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"level": self.level, "message": self.message}
        if self.fields:
            out["fields"] = self.fields
        return out


class InfoEvent(Event):
    __slots__ = ("data", "message")
    type = EventType.INFO

    def __init__(
        self,
        meta: EventMetadata,
        message: str,
        data: dict[str, Any] | None = None,
        *,
        corr: Correlation | None = None,
    ) -> None:
        super().__init__(meta, corr)
        self.message, self.data = message, data

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.data:
            out["data"] = self.data
        return out


def event_from_dict(raw: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON form (the inverse of ``Event.to_dict``)."""
    meta = EventMetadata.from_dict(raw.get("meta") or {})
    try:
        kind = EventType(raw["type"])
    except ValueError:
        from geppetto.events.canonical import canonical_event_from_dict

        return canonical_event_from_dict(raw)
    if kind is EventType.START:
        return StartEvent(meta)
    if kind in (EventType.PARTIAL, EventType.PARTIAL_THINKING):
        cls = PartialEvent if kind is EventType.PARTIAL else PartialThinkingEvent
        return cls(meta, raw.get("delta", ""), raw.get("completion", ""))
    if kind in (EventType.FINAL, EventType.INTERRUPT):
        return (FinalEvent if kind is EventType.FINAL else InterruptEvent)(meta, raw.get("text", ""))
    if kind is EventType.ERROR:
        return ErrorEvent(meta, raw.get("error_string", ""))
    if kind in (EventType.TOOL_CALL, EventType.TOOL_CALL_EXECUTE):
        call = ToolCallInfo(**raw["tool_call"])
        return (ToolCallEvent if kind is EventType.TOOL_CALL else ToolCallExecuteEvent)(meta, call)
    if kind in (EventType.TOOL_RESULT, EventType.TOOL_CALL_EXECUTION_RESULT):
        result = ToolResultInfo(**raw["tool_result"])
        cls_r = ToolResultEvent if kind is EventType.TOOL_RESULT else ToolCallExecutionResultEvent
        return cls_r(meta, result)
    if kind is EventType.LOG:
        return LogEvent(meta, raw.get("level", "info"), raw.get("message", ""), raw.get("fields"))
    return InfoEvent(meta, raw.get("message", ""), raw.get("data"))
