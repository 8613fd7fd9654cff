from __future__ import annotations

import asyncio
import io
import threading

import orjson
import pytest

from geppetto.events import (
    CallbackSink,
    CollectingSink,
    ErrorEvent,
    EventMetadata,
    EventRouter,
    EventType,
    FinalEvent,
    InfoEvent,
    InterruptEvent,
    LogEvent,
    PartialEvent,
    PartialThinkingEvent,
    PrinterSink,
    QueueSink,
    StartEvent,
    ToolCallEvent,
    ToolCallExecuteEvent,
    ToolCallExecutionResultEvent,
    ToolCallInfo,
    ToolResultEvent,
    ToolResultInfo,
    Usage,
    event_from_dict,
)

META = EventMetadata(message_id="m1", session_id="s1", inference_id="i1", turn_id="t1", model="echo")

ALL_EVENTS = [
    StartEvent(META),
    PartialEvent(META, "lo", "hello"),
    PartialThinkingEvent(META, "hm", "hmm"),
    ToolCallEvent(META, ToolCallInfo("c1", "add", '{"a":1}')),
    ToolCallExecuteEvent(META, ToolCallInfo("c1", "add", '{"a":1}')),
    ToolCallExecutionResultEvent(META, ToolResultInfo("c1", "2")),
    ToolResultEvent(META, ToolResultInfo("c1", "2")),
    FinalEvent(
        EventMetadata(message_id="m1", usage=Usage(3, 4), stop_reason="stop", duration_ms=12), "hello"
    ),
    ErrorEvent(META, "boom"),
    InterruptEvent(META, "hel"),
    LogEvent(META, "info", "note", {"k": 1}),
    InfoEvent(META, "thinking-started", {"x": True}),
]


def test_every_event_type_has_a_class() -> None:
    assert {event.type for event in ALL_EVENTS} == set(EventType)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.type.value)
def test_json_envelope_round_trips(event) -> None:  # type: ignore[no-untyped-def]
    raw = orjson.loads(event.to_json())
    assert raw["type"] == event.type.value
    assert raw["meta"]["message_id"] == "m1"
    assert event_from_dict(raw) == event


def test_json_shapes_match_the_reference() -> None:
    assert PartialEvent(META, "lo", "hello").to_dict() == {
        "type": "partial",
        "meta": {
            "message_id": "m1",
            "session_id": "s1",
            "inference_id": "i1",
            "turn_id": "t1",
            "model": "echo",
        },
        "delta": "lo",
        "completion": "hello",
    }
    final = ALL_EVENTS[7].to_dict()
    assert final["meta"] == {
        "message_id": "m1",
        "stop_reason": "stop",
        "usage": {"input_tokens": 3, "output_tokens": 4},
        "duration_ms": 12,
    }
    assert ALL_EVENTS[3].to_dict()["tool_call"] == {"id": "c1", "name": "add", "input": '{"a":1}'}
    assert ALL_EVENTS[8].to_dict()["error_string"] == "boom"


def test_lazy_completion_reflects_text_at_publication() -> None:
    parts = ["a", "b"]
    event = PartialEvent.lazy(META, "b", parts, 2)
    parts.append("c")
    assert event.completion == "ab"
    assert event.to_dict()["completion"] == "ab"


def test_usage_addition_and_dict() -> None:
    total = Usage(1, 2, cached_tokens=1) + Usage(10, 20)
    assert total.to_dict() == {"input_tokens": 11, "output_tokens": 22, "cached_tokens": 1}
    assert Usage.from_dict({"input_tokens": 5}) == Usage(5, 0)


def test_callback_sink_filters_by_type() -> None:
    seen: list[str] = []
    sink = CallbackSink(lambda e: seen.append(e.type.value), types=["final", EventType.ERROR])
    for event in ALL_EVENTS:
        sink.publish(event)
    assert seen == ["final", "error"]


def test_router_fans_out_and_isolates_failing_sinks(caplog: pytest.LogCaptureFixture) -> None:
    first, last = CollectingSink(), CollectingSink()

    def explode(event: object) -> None:
        raise ValueError("sink broke")

    router = EventRouter([first, CallbackSink(explode), last])
    router.publish(StartEvent(META))
    assert len(first.events) == 1 and len(last.events) == 1
    assert "event sink" in caplog.text
    router.remove(first)
    assert len(router.sinks) == 2 and router


async def test_queue_sink_accepts_events_from_other_threads() -> None:
    sink = QueueSink()
    sink.publish(StartEvent(META))
    worker = threading.Thread(target=sink.publish, args=(FinalEvent(META, "x"),))
    worker.start()
    worker.join()
    first = await asyncio.wait_for(sink.queue.get(), 1)
    second = await asyncio.wait_for(sink.queue.get(), 1)
    assert [first.type, second.type] == [EventType.START, EventType.FINAL]


def test_printer_sink_text_and_json_modes() -> None:
    out = io.StringIO()
    printer = PrinterSink(out)
    for event in [
        StartEvent(META),
        PartialEvent(META, "he"),
        PartialEvent(META, "llo"),
        FinalEvent(META, "hello"),
    ]:
        printer.publish(event)
    printer.publish(ErrorEvent(META, "bad"))
    assert out.getvalue() == "hello\n\n[error] bad\n"
    lines = io.StringIO()
    PrinterSink(lines, mode="json").publish(StartEvent(META))
    assert orjson.loads(lines.getvalue())["type"] == "start"
    with pytest.raises(ValueError, match="printer mode"):
        PrinterSink(out, mode="xml")
