"""The two views of the one event stream.

* :func:`seed_view`: the seed API's listener payload (``start()`` handles), or ``None`` for the
  core events the seed never had.
* :func:`reference_view`: the reference's current ``GeppettoEvent`` payloads (``EventEmitter``
  listeners, agent events): ``{type, timestampMs, sessionId?, inferenceId?, turnId?, metaExtra?,
  correlation?, ...camelCase fields}``. One core event renders as 0, 1 or 2 of them:

  ====================================  =========================================================
  core event                            reference payloads
  ====================================  =========================================================
  ``start``                             ``provider-call-started``
  ``partial`` / ``partial-thinking``    ``text-delta`` / ``reasoning-delta``
  ``final``                             none (``provider-call-finished`` follows it)
  ``tool-call``                         ``tool-call-requested``
  ``tool-result``                       none (the reference has no such event)
  ``tool-call-execute``                 ``tool-execution-started``
  ``tool-call-execution-result``        ``tool-result-ready`` + ``tool-call-finished``
  ``error`` / ``interrupt``             ``error`` (``error`` and ``message``) / ``interrupt``
  ``log`` / ``info``                    ``log`` / ``info``
  lifecycle events (``canonical.py``)   the event of the same name
  ====================================  =========================================================

Payloads are fresh plain-JSON dicts (safe to hand to another thread or serialise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geppetto.events.canonical import (
    ProviderCallFinishedEvent,
    ProviderCallMetadataUpdatedEvent,
    ReasoningSegmentFinishedEvent,
    ReasoningSegmentStartedEvent,
    RunFailedEvent,
    RunFinishedEvent,
    RunStartedEvent,
    RunStoppedEvent,
    TextDeltaEvent,
    TextSegmentFinishedEvent,
    TextSegmentStartedEvent,
    ToolCallArgumentsDeltaEvent,
    ToolCallRequestedEvent,
    ToolCallStartedEvent,
)
from geppetto.events.types import (
    CanonicalEventType,
    ErrorEvent,
    Event,
    FinalEvent,
    InfoEvent,
    InterruptEvent,
    LogEvent,
    PartialEvent,
    PartialThinkingEvent,
    StartEvent,
    ToolCallEvent,
    ToolCallExecuteEvent,
    ToolCallExecutionResultEvent,
    ToolResultEvent,
    _DeltaEvent,
)

Payload = dict[str, Any]
_T = CanonicalEventType


def _head(event: Event, kind: str) -> Payload:
    """What both views start with: the type, the timestamp and the ids the event has."""
    meta = event.meta
    out: Payload = {"type": kind, "timestampMs": event.timestamp_ms}
    if meta.session_id:
        out["sessionId"] = meta.session_id
    if meta.inference_id:
        out["inferenceId"] = meta.inference_id
    if meta.turn_id:
        out["turnId"] = meta.turn_id
    return out


# -- seed view --------------------------------------------------------------------------------

_SEED_RENAMES = {"tool_call": "toolCall", "tool_result": "toolResult", "error_string": "error"}


def seed_view(event: Event) -> Payload | None:
    """The seed ``start()`` listener payload: ``{type, timestampMs, sessionId?, inferenceId?,
    turnId?, model?, usage?, stopReason?, durationMs?, metaExtra?, ...payload}`` (payload keys
    camelCased), or ``None`` for events the seed view does not show."""
    if not event.seed:
        return None
    meta = event.meta
    out = _head(event, event.type.value)
    if meta.model:
        out["model"] = meta.model
    if meta.usage is not None:
        out["usage"] = meta.usage.to_dict()
    if meta.stop_reason:
        out["stopReason"] = meta.stop_reason
    if meta.duration_ms is not None:
        out["durationMs"] = meta.duration_ms
    if meta.extra:
        out["metaExtra"] = dict(meta.extra)
    for key, value in event.payload().items():
        out[_SEED_RENAMES.get(key, key)] = value
    return out


# -- reference view ---------------------------------------------------------------------------


def _base(event: Event, kind: CanonicalEventType) -> Payload:
    meta = event.meta
    out = _head(event, kind.value)
    if meta.extra:
        out["metaExtra"] = _plain(meta.extra)
    if event.corr is not None:
        out["correlation"] = event.corr.to_dict()
    return out


def _plain(value: Any) -> Any:
    """A copy made of dicts, lists and scalars only (listeners may keep or mutate it)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _one(kind: CanonicalEventType, fields: Callable[[Any], Payload]) -> Callable[[Event], list[Payload]]:
    def render(event: Event) -> list[Payload]:
        out = _base(event, kind)
        out.update(fields(event))
        return [out]

    return render


def _none(_event: Event) -> list[Payload]:
    return []


def _usage(usage: Any) -> Payload:
    return {} if usage is None else {"usage": usage.to_dict()}


def _delta(event: Any) -> Payload:
    out: Payload = {"delta": event.delta, "text": event.completion, "sequence": event.sequence}
    if event.source:
        out["source"] = event.source
    return out


def _tool_call(event: Any) -> Payload:
    call = event.tool_call
    return {"toolCall": {"id": call.id, "name": call.name, "input": call.input}}


def _provider_finished(event: Any) -> Payload:
    out: Payload = {
        "stopReason": event.stop_reason,
        "finishClass": event.finish_class,
        "hasToolCalls": event.has_tool_calls,
        **_usage(event.usage),
    }
    if event.duration_ms is not None:
        out["durationMs"] = event.duration_ms
    return out


def _reasoning_finished(event: Any) -> Payload:
    out: Payload = {"text": event.text, "finishReason": event.finish_reason}
    if event.source:
        out["source"] = event.source
    return out


def _execution_result(event: Event) -> list[Payload]:
    assert isinstance(event, ToolCallExecutionResultEvent)
    info = event.tool_result
    ready = _base(event, _T.TOOL_RESULT_READY)
    ready["toolResult"] = {"id": info.id, "name": info.name, "result": info.result, "status": info.status}
    finished = _base(event, _T.TOOL_CALL_FINISHED)
    finished["toolCall"] = {"id": info.id, "name": info.name, "status": info.status}
    return [ready, finished]


def _log(event: Any) -> Payload:
    out: Payload = {"level": event.level, "message": event.message}
    if event.fields:
        out["fields"] = _plain(event.fields)
    return out


def _info(event: Any) -> Payload:
    out: Payload = {"message": event.message}
    if event.data:
        out["data"] = _plain(event.data)
    return out


_RENDERERS: dict[type[Event], Callable[[Event], list[Payload]]] = {
    StartEvent: _one(_T.PROVIDER_CALL_STARTED, lambda e: {}),
    PartialEvent: _one(_T.TEXT_DELTA, _delta),
    PartialThinkingEvent: _one(_T.REASONING_DELTA, _delta),
    FinalEvent: _none,
    ToolCallEvent: _one(_T.TOOL_CALL_REQUESTED, _tool_call),
    ToolResultEvent: _none,
    ToolCallExecuteEvent: _one(_T.TOOL_EXECUTION_STARTED, _tool_call),
    ToolCallExecutionResultEvent: _execution_result,
    ErrorEvent: _one(_T.ERROR, lambda e: {"error": e.error_string, "message": e.error_string}),
    InterruptEvent: _one(_T.INTERRUPT, lambda e: {"text": e.text}),
    LogEvent: _one(_T.LOG, _log),
    InfoEvent: _one(_T.INFO, _info),
    RunStartedEvent: _one(_T.RUN_STARTED, lambda e: {"prompt": e.prompt}),
    RunFinishedEvent: _one(_T.RUN_FINISHED, lambda e: {"status": e.status}),
    RunStoppedEvent: _one(_T.RUN_STOPPED, lambda e: {"reason": e.reason}),
    RunFailedEvent: _one(_T.RUN_FAILED, lambda e: {"error": e.error_string, "message": e.error_string}),
    ProviderCallMetadataUpdatedEvent: _one(
        _T.PROVIDER_CALL_METADATA_UPDATED,
        lambda e: {"stopReason": e.stop_reason, "stopSequence": e.stop_sequence, **_usage(e.usage)},
    ),
    ProviderCallFinishedEvent: _one(_T.PROVIDER_CALL_FINISHED, _provider_finished),
    TextSegmentStartedEvent: _one(_T.TEXT_SEGMENT_STARTED, lambda e: {"role": e.role}),
    TextDeltaEvent: _one(
        _T.TEXT_DELTA, lambda e: {"delta": e.delta, "text": e.text, "sequence": e.sequence}
    ),
    TextSegmentFinishedEvent: _one(
        _T.TEXT_SEGMENT_FINISHED, lambda e: {"text": e.text, "finishReason": e.finish_reason}
    ),
    ReasoningSegmentStartedEvent: _one(
        _T.REASONING_SEGMENT_STARTED, lambda e: {"source": e.source} if e.source else {}
    ),
    ReasoningSegmentFinishedEvent: _one(_T.REASONING_SEGMENT_FINISHED, _reasoning_finished),
    ToolCallRequestedEvent: _one(
        _T.TOOL_CALL_REQUESTED,
        lambda e: {"toolCall": {"id": e.tool_call_id, "name": e.tool_name, "input": e.input}},
    ),
    ToolCallStartedEvent: _one(
        _T.TOOL_CALL_STARTED, lambda e: {"toolCall": {"id": e.tool_call_id, "name": e.tool_name}}
    ),
    ToolCallArgumentsDeltaEvent: _one(
        _T.TOOL_CALL_ARGUMENTS_DELTA,
        lambda e: {
            "toolCall": {
                "id": e.tool_call_id,
                "delta": e.delta,
                "arguments": e.arguments,
                "sequence": e.sequence,
            }
        },
    ),
}


def _renderer(cls: type[Event]) -> Callable[[Event], list[Payload]]:
    for klass in cls.__mro__:
        found = _RENDERERS.get(klass)
        if found is not None:
            _RENDERERS[cls] = found
            return found
    _RENDERERS[cls] = _none
    return _none


def reference_view(event: Event, *, delta_text: bool = True) -> list[Payload]:
    """The reference ``GeppettoEvent`` payloads for one core event (possibly none), in order.

    ``delta_text=False`` leaves ``text`` (the whole text so far) out of ``text-delta`` and
    ``reasoning-delta`` payloads: it grows with the stream, so shipping it with every delta costs
    O(n^2) for a long stream. A consumer that receives every delta rebuilds it exactly: ``text``
    is the previous delta's ``text`` of the same ``correlation.segment_id`` plus ``delta``.
    """
    if not delta_text and isinstance(event, _DeltaEvent | TextDeltaEvent):
        kind = _T.REASONING_DELTA if isinstance(event, PartialThinkingEvent) else _T.TEXT_DELTA
        out = _base(event, kind)
        out["delta"] = event.delta
        out["sequence"] = event.sequence
        if isinstance(event, _DeltaEvent) and event.source:
            out["source"] = event.source
        return [out]
    render = _RENDERERS.get(type(event))
    if render is None:
        render = _renderer(type(event))
    return render(event)


def reference_types(event: Event) -> tuple[str, ...]:
    """The ``type`` of each payload :func:`reference_view` would return, without rendering them
    (lets a consumer skip events nobody listens to)."""
    cls = type(event)
    cached = _TYPES.get(cls)
    if cached is None:
        cached = _TYPES[cls] = _types_of(cls)
    return cached


_TYPES: dict[type[Event], tuple[str, ...]] = {}
_MULTI: dict[type[Event], tuple[str, ...]] = {
    ToolCallExecutionResultEvent: (_T.TOOL_RESULT_READY.value, _T.TOOL_CALL_FINISHED.value),
    FinalEvent: (),
    ToolResultEvent: (),
}
_SEED_TO_REFERENCE: dict[type[Event], str] = {
    StartEvent: _T.PROVIDER_CALL_STARTED.value,
    PartialEvent: _T.TEXT_DELTA.value,
    PartialThinkingEvent: _T.REASONING_DELTA.value,
    ToolCallEvent: _T.TOOL_CALL_REQUESTED.value,
    ToolCallExecuteEvent: _T.TOOL_EXECUTION_STARTED.value,
    ErrorEvent: _T.ERROR.value,
    InterruptEvent: _T.INTERRUPT.value,
    LogEvent: _T.LOG.value,
    InfoEvent: _T.INFO.value,
}


def _types_of(cls: type[Event]) -> tuple[str, ...]:
    for klass in cls.__mro__:
        if klass in _MULTI:
            return _MULTI[klass]
        if klass in _SEED_TO_REFERENCE:
            return (_SEED_TO_REFERENCE[klass],)
        kind = klass.__dict__.get("type")
        if isinstance(kind, CanonicalEventType) and klass in _RENDERERS:
            return (kind.value,)
    return ()


# -- correlation checks ---------------------------------------------------------------------------

_RUN_SCOPED = ("run_id",)
_CALL_SCOPED = ("run_id", "provider_call_id")
_SEGMENT_SCOPED = ("run_id", "provider_call_id", "segment_id")
_TOOL_SCOPED = ("run_id", "tool_call_id")
_REQUIRED: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("run-started", "run-finished", "run-stopped", "run-failed"), _RUN_SCOPED),
    **dict.fromkeys(
        ("provider-call-started", "provider-call-metadata-updated", "provider-call-finished"), _CALL_SCOPED
    ),
    **dict.fromkeys(
        (
            "text-segment-started",
            "text-delta",
            "text-segment-finished",
            "reasoning-segment-started",
            "reasoning-delta",
            "reasoning-segment-finished",
        ),
        _SEGMENT_SCOPED,
    ),
    **dict.fromkeys(
        (
            "tool-call-started",
            "tool-call-arguments-delta",
            "tool-call-requested",
            "tool-execution-started",
            "tool-result-ready",
            "tool-call-finished",
        ),
        _TOOL_SCOPED,
    ),
}


def check_correlation(payload: Payload) -> None:
    """Raise ``ValueError`` when a reference payload lacks an id its type requires (the
    reference's rule: run events need ``run_id``; provider-call events also ``provider_call_id``;
    segment events also ``segment_id``; tool events ``run_id`` and ``tool_call_id``)."""
    kind = payload.get("type", "")
    corr = payload.get("correlation") or {}
    for name in _REQUIRED.get(kind, ()):
        if not corr.get(name):
            raise ValueError(f"event {kind} missing {name}")
