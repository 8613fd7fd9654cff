"""The two views of one core event: seed payloads and the reference's ``GeppettoEvent`` payloads
(after the reference's ``api_event_payloads_test.go``), and which sinks see what."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from geppetto.events import (
    CallbackSink,
    CanonicalEventType,
    CollectingSink,
    Correlation,
    ErrorEvent,
    Event,
    EventMetadata,
    EventType,
    FinalEvent,
    InfoEvent,
    InterruptEvent,
    LogEvent,
    PartialEvent,
    PartialThinkingEvent,
    PrinterSink,
    ProviderCallFinishedEvent,
    ProviderCallMetadataUpdatedEvent,
    ReasoningSegmentStartedEvent,
    ReferenceSink,
    RunFailedEvent,
    RunFinishedEvent,
    RunStartedEvent,
    RunStoppedEvent,
    StartEvent,
    TextSegmentStartedEvent,
    ToolCallArgumentsDeltaEvent,
    ToolCallEvent,
    ToolCallExecuteEvent,
    ToolCallExecutionResultEvent,
    ToolCallInfo,
    ToolCallStartedEvent,
    ToolResultEvent,
    ToolResultInfo,
    Usage,
    reference_types,
    reference_view,
    seed_view,
)

META = EventMetadata(session_id="session-1", inference_id="inference-1", turn_id="turn-1")
CORR = Correlation(session_id="session-1", run_id="run-1", turn_id="turn-1", provider_call_id="provider-1")
USAGE = Usage(input_tokens=10, output_tokens=20, cached_tokens=3)


def only(event: Event) -> dict[str, Any]:
    payloads = reference_view(event)
    assert len(payloads) == 1, payloads
    return payloads[0]


@pytest.mark.parametrize(
    ("event", "want"),
    [
        (RunStartedEvent(META, CORR, "hello"), {"type": "run-started", "prompt": "hello"}),
        (RunFinishedEvent(META, CORR, "success"), {"type": "run-finished", "status": "success"}),
        (RunStoppedEvent(META, CORR, "cancelled"), {"type": "run-stopped", "reason": "cancelled"}),
        (RunFailedEvent(META, CORR, "boom"), {"type": "run-failed", "error": "boom", "message": "boom"}),
        (
            ProviderCallMetadataUpdatedEvent(META, CORR, "stop", "seq", USAGE),
            {"type": "provider-call-metadata-updated", "stopReason": "stop", "stopSequence": "seq"},
        ),
        (
            ProviderCallFinishedEvent(META, CORR, "stop", "normal", USAGE, 42, True),
            {
                "type": "provider-call-finished",
                "stopReason": "stop",
                "finishClass": "normal",
                "durationMs": 42,
                "hasToolCalls": True,
            },
        ),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else "",
)
def test_lifecycle_and_provider_fields(event: Event, want: dict[str, Any]) -> None:
    got = only(event)
    for key, value in want.items():
        assert got[key] == value, (key, got)
    assert (got["sessionId"], got["inferenceId"], got["turnId"]) == ("session-1", "inference-1", "turn-1")
    assert got["correlation"]["run_id"] == "run-1"
    assert got["timestampMs"] == event.timestamp_ms


def test_usage_renders_as_the_reference_usage_object() -> None:
    got = only(ProviderCallFinishedEvent(META, CORR, "stop", "completed", USAGE, None, False))
    assert got["usage"] == {"input_tokens": 10, "output_tokens": 20, "cached_tokens": 3}
    assert "durationMs" not in got
    assert got["hasToolCalls"] is False


SEGMENT_META = EventMetadata(session_id="session-1")
SEGMENT_CORR = Correlation(session_id="session-1", segment_id="segment-1", tool_call_id="tool-1")


@pytest.mark.parametrize(
    ("event", "want"),
    [
        (TextSegmentStartedEvent(SEGMENT_META, SEGMENT_CORR, "assistant"), {"role": "assistant"}),
        (ReasoningSegmentStartedEvent(SEGMENT_META, SEGMENT_CORR, "summary"), {"source": "summary"}),
        (LogEvent(SEGMENT_META, "warn", "check", {"key": "value"}), {"level": "warn", "message": "check"}),
        (InfoEvent(SEGMENT_META, "heads up", {"ok": True}), {"message": "heads up", "data": {"ok": True}}),
    ],
    ids=lambda v: v.type.value if isinstance(v, Event) else "",
)
def test_segment_log_and_info_fields(event: Event, want: dict[str, Any]) -> None:
    got = only(event)
    for key, value in want.items():
        assert got[key] == value


def test_reasoning_segment_started_leaves_out_an_unknown_source() -> None:
    assert "source" not in only(ReasoningSegmentStartedEvent(META, CORR, ""))


def test_seed_events_render_in_the_reference_vocabulary() -> None:
    call = ToolCallInfo("c1", "add", '{"a":1}')
    parts = ["hel", "lo"]
    assert only(StartEvent(META, CORR))["type"] == "provider-call-started"
    delta = only(PartialEvent.lazy(META, "lo", parts, 2, CORR))
    assert (delta["type"], delta["delta"], delta["text"]) == ("text-delta", "lo", "hello")
    assert delta["sequence"] == 2
    thinking = only(PartialThinkingEvent.lazy(META, "hm", ["hm"], 1, CORR, "thinking"))
    assert (thinking["type"], thinking["text"], thinking["source"]) == ("reasoning-delta", "hm", "thinking")
    assert only(ToolCallEvent(META, call)) | {"timestampMs": 0} == {
        "type": "tool-call-requested",
        "timestampMs": 0,
        "sessionId": "session-1",
        "inferenceId": "inference-1",
        "turnId": "turn-1",
        "toolCall": {"id": "c1", "name": "add", "input": '{"a":1}'},
    }
    assert only(ToolCallExecuteEvent(META, call))["type"] == "tool-execution-started"
    error = only(ErrorEvent(META, "boom"))
    assert (error["type"], error["error"], error["message"]) == ("error", "boom", "boom")
    assert only(InterruptEvent(META, "hel"))["text"] == "hel"
    assert reference_view(FinalEvent(META, "hello")) == []
    assert reference_view(ToolResultEvent(META, ToolResultInfo("c1", "2"))) == []


def test_an_execution_result_renders_as_result_ready_then_call_finished() -> None:
    event = ToolCallExecutionResultEvent(META, ToolResultInfo("c1", "Error: nope", "add", "error"))
    ready, finished = reference_view(event)
    assert ready["type"] == "tool-result-ready"
    assert ready["toolResult"] == {"id": "c1", "name": "add", "result": "Error: nope", "status": "error"}
    assert finished["type"] == "tool-call-finished"
    assert finished["toolCall"] == {"id": "c1", "name": "add", "status": "error"}
    assert reference_types(event) == ("tool-result-ready", "tool-call-finished")


def test_tool_stream_events() -> None:
    started = only(ToolCallStartedEvent(META, CORR, "c1", "add"))
    assert started["toolCall"] == {"id": "c1", "name": "add"}
    delta = only(ToolCallArgumentsDeltaEvent(META, CORR, "c1", "1}", '{"a":1}', 2))
    assert delta["toolCall"] == {"id": "c1", "delta": "1}", "arguments": '{"a":1}', "sequence": 2}


def test_reference_types_predict_reference_view() -> None:
    events: list[Event] = [
        StartEvent(META),
        PartialEvent(META, "a", "a"),
        FinalEvent(META, "a"),
        RunStartedEvent(META, CORR),
        ToolCallExecutionResultEvent(META, ToolResultInfo("c", "1")),
        ToolResultEvent(META, ToolResultInfo("c", "1")),
        LogEvent(META, "info", "x"),
    ]
    for event in events:
        assert reference_types(event) == tuple(p["type"] for p in reference_view(event))


def test_payloads_are_plain_json() -> None:
    extra_meta = EventMetadata(session_id="s", extra={"settings": {"model": "x", "tags": ("a", "b")}})
    event = InfoEvent(extra_meta, "m", {"nested": {"list": [1, 2.5, None, True]}})
    payload = only(event)
    assert orjson.loads(orjson.dumps(payload)) == payload
    assert payload["metaExtra"] == {"settings": {"model": "x", "tags": ["a", "b"]}}
    payload["data"]["nested"]["list"].append(3)  # a listener may mutate its copy
    assert event.data == {"nested": {"list": [1, 2.5, None, True]}}


def test_every_event_has_a_wall_clock_timestamp() -> None:
    before = int(time.time() * 1000)
    events = [StartEvent(META), PartialEvent.lazy(META, "a", ["a"], 1), RunStartedEvent(META, CORR)]
    after = int(time.time() * 1000)
    for event in events:
        assert before <= event.timestamp_ms <= after


def test_the_seed_view_has_no_lifecycle_events() -> None:
    assert seed_view(RunStartedEvent(META, CORR, "x")) is None
    payload = seed_view(PartialEvent(META, "lo", "hello"))
    assert payload is not None
    assert {k: v for k, v in payload.items() if k != "timestampMs"} == {
        "type": "partial",
        "sessionId": "session-1",
        "inferenceId": "inference-1",
        "turnId": "turn-1",
        "delta": "lo",
        "completion": "hello",
    }


def test_seed_envelopes_are_unchanged_by_correlation_and_timestamps() -> None:
    plain = FinalEvent(META, "hi")
    correlated = FinalEvent(META, "hi", corr=CORR)
    assert correlated.to_dict() == plain.to_dict() == {"type": "final", "meta": META.to_dict(), "text": "hi"}


MIXED: list[Event] = [
    RunStartedEvent(META, CORR, "hi"),
    StartEvent(META, CORR),
    TextSegmentStartedEvent(META, CORR),
    PartialEvent(META, "hi", "hi"),
    FinalEvent(META, "hi"),
    ProviderCallFinishedEvent(META, CORR, "stop", "completed"),
    RunFinishedEvent(META, CORR),
]


def publish_all(sink: Any) -> None:
    for event in MIXED:
        sink.publish(event)


def test_seed_sinks_skip_lifecycle_events() -> None:
    collected = CollectingSink()
    called: list[str] = []
    publish_all(collected)
    publish_all(CallbackSink(lambda e: called.append(e.type.value)))
    assert [e.type for e in collected.events] == [EventType.START, EventType.PARTIAL, EventType.FINAL]
    assert called == ["start", "partial", "final"]


def test_core_sinks_see_everything() -> None:
    collected = CollectingSink(view="core")
    publish_all(collected)
    assert collected.events == MIXED
    assert collected.of_type("run-finished") == [MIXED[-1]]
    assert collected.of_type(CanonicalEventType.TEXT_SEGMENT_STARTED) == [MIXED[2]]


def test_naming_a_lifecycle_type_opts_a_callback_into_it() -> None:
    called: list[str] = []
    publish_all(CallbackSink(lambda e: called.append(e.type.value), types=["run-started", "final"]))
    assert called == ["run-started", "final"]


def test_bad_views_and_types_are_refused() -> None:
    with pytest.raises(ValueError, match="'seed' or 'core'"):
        CollectingSink(view="all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown event type 'run-begun'"):
        CallbackSink(lambda e: None, types=["run-begun"])


def test_printer_json_lines_stay_seed_only() -> None:
    import io

    out = io.StringIO()
    publish_all(PrinterSink(out, mode="json"))
    printed = [orjson.loads(line)["type"] for line in out.getvalue().splitlines()]
    assert printed == ["start", "partial", "final"]


def test_reference_sink_renders_only_what_it_is_asked_for() -> None:
    got: list[dict[str, Any]] = []
    publish_all(ReferenceSink(got.append, types=["run-started", "text-delta", "run-finished"]))
    assert [p["type"] for p in got] == ["run-started", "text-delta", "run-finished"]
    everything: list[dict[str, Any]] = []
    publish_all(ReferenceSink(everything.append))
    assert [p["type"] for p in everything] == [
        "run-started",
        "provider-call-started",
        "text-segment-started",
        "text-delta",
        "provider-call-finished",
        "run-finished",
    ]


def test_lean_deltas_leave_the_growing_text_out() -> None:
    parts = ["hel", "lo"]
    lean = reference_view(PartialEvent.lazy(META, "lo", parts, 2, CORR), delta_text=False)
    assert [(p["type"], p["delta"], p["sequence"]) for p in lean] == [("text-delta", "lo", 2)]
    assert "text" not in lean[0]
    thinking = reference_view(PartialThinkingEvent.lazy(META, "hm", ["hm"], 1, CORR, "x"), delta_text=False)
    assert (thinking[0]["type"], thinking[0]["source"]) == ("reasoning-delta", "x")
    assert "text" not in thinking[0]
    # other events are unaffected
    assert reference_view(RunStartedEvent(META, CORR, "p"), delta_text=False)[0]["prompt"] == "p"
