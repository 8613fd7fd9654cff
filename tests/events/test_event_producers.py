"""What engines, the accumulator, the session and the tool executor publish, in both views."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from geppetto.engines import EchoEngine, FunctionEngine
from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.errors import InferenceCancelled
from geppetto.events import (
    CollectingSink,
    Event,
    EventType,
    Usage,
    check_correlation,
    reference_view,
)
from geppetto.session import EngineBuilder, Session
from geppetto.tools import ToolConfig, ToolRegistry, tool
from geppetto.turns import Block, BlockKind, Turn


def seed(text: str = "hi") -> Turn:
    return Turn.builder().system("sys").user("first").user(text).build()


def rendered(events: list[Event]) -> list[dict[str, Any]]:
    return [payload for event in events for payload in reference_view(event)]


def types(payloads: list[dict[str, Any]]) -> list[str]:
    return [p["type"] for p in payloads]


def run_with_sinks(engine: Any, turn: Turn | None = None) -> tuple[Session, CollectingSink, CollectingSink]:
    seed_sink, core_sink = CollectingSink(), CollectingSink(view="core")
    session = Session(EngineBuilder(engine).with_sink(seed_sink, core_sink))
    session.run(turn or seed())
    return session, seed_sink, core_sink


def test_a_streamed_echo_run_in_both_views() -> None:
    before = int(time.time() * 1000)
    session, seed_sink, core_sink = run_with_sinks(EchoEngine("one two three"))
    after = int(time.time() * 1000)

    # the seed view is what it always was
    assert [e.type for e in seed_sink.events] == [
        EventType.START,
        EventType.PARTIAL,
        EventType.PARTIAL,
        EventType.PARTIAL,
        EventType.FINAL,
    ]
    payloads = rendered(core_sink.events)
    assert types(payloads) == [
        "run-started",
        "provider-call-started",
        "text-segment-started",
        "text-delta",
        "text-delta",
        "text-delta",
        "provider-call-metadata-updated",
        "text-segment-finished",
        "provider-call-finished",
        "run-finished",
    ]
    by_type = {p["type"]: p for p in payloads}
    assert by_type["run-started"]["prompt"] == "hi"  # the last user text
    assert by_type["run-finished"]["status"] == "completed"
    deltas = [p for p in payloads if p["type"] == "text-delta"]
    assert [(d["delta"], d["text"], d["sequence"]) for d in deltas] == [
        ("one", "one", 1),
        (" two", "one two", 2),
        (" three", "one two three", 3),
    ]
    assert by_type["text-segment-started"]["role"] == "assistant"
    assert by_type["text-segment-finished"]["text"] == "one two three"
    assert by_type["text-segment-finished"]["finishReason"] == "stop"
    assert by_type["provider-call-metadata-updated"]["stopReason"] == "stop"
    finished = by_type["provider-call-finished"]
    assert (finished["stopReason"], finished["finishClass"], finished["hasToolCalls"]) == (
        "stop",
        "completed",
        False,
    )
    assert isinstance(finished["durationMs"], int)

    latest = session.latest()
    assert latest is not None
    run_id = latest.metadata["geppetto.inference_id@v1"]
    for payload in payloads:
        check_correlation(payload)
        corr = payload["correlation"]
        assert (corr["session_id"], corr["run_id"], corr["turn_id"]) == (session.id, run_id, latest.id)
        assert payload["inferenceId"] == run_id
    call_ids = {p["correlation"].get("provider_call_id") for p in payloads[1:-1]}
    assert call_ids == {f"echo:{run_id}:provider-call:0"}
    in_segment = [p for p in payloads if "segment" in p["type"] or "delta" in p["type"]]
    segment_ids = {p["correlation"]["segment_id"] for p in in_segment}
    assert segment_ids == {f"echo:{run_id}:provider-call:0:segment:0:text"}

    stamps = [e.timestamp_ms for e in core_sink.events]
    assert all(before <= s <= after for s in stamps)
    assert stamps == sorted(stamps)


def test_a_run_without_sinks_publishes_nothing_and_still_works() -> None:
    session = Session(EngineBuilder(EchoEngine("ok")))
    assert session.run(seed()).assistant_text() == "ok"


def test_cancel_renders_interrupt_and_run_stopped() -> None:
    core = CollectingSink(view="core")
    session = Session(EngineBuilder(EchoEngine("a b c d e f", delay_ms=30)).with_sink(core))
    handle = session.start(seed())
    deadline = time.monotonic() + 5
    while not any(e.type is EventType.PARTIAL for e in core.events) and time.monotonic() < deadline:
        time.sleep(0.005)
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        handle.wait(5)
    payloads = rendered(core.events)
    head = ["run-started", "provider-call-started", "text-segment-started", "text-delta"]
    assert types(payloads)[:4] == head
    assert "run-finished" not in types(payloads)
    tail = types(payloads)[-4:]
    assert tail == ["text-segment-finished", "interrupt", "provider-call-finished", "run-stopped"]
    by_type = {p["type"]: p for p in payloads}
    assert by_type["run-stopped"]["reason"] == "cancelled"
    assert by_type["text-segment-finished"]["finishReason"] == "cancelled"
    assert by_type["provider-call-finished"]["finishClass"] == "interrupted"
    assert by_type["interrupt"]["text"] == by_type["text-segment-finished"]["text"]
    for payload in payloads:
        check_correlation(payload)


class FailingEngine:
    """Streams some text through the accumulator, then the provider fails."""

    name = "failing"

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        with StreamAccumulator(turn, ctx, provider="flaky", model="m") as acc:
            acc.start()
            acc.add_text("partial")
            raise RuntimeError("provider down")


def test_failure_renders_error_and_run_failed() -> None:
    seed_sink, core = CollectingSink(), CollectingSink(view="core")
    session = Session(EngineBuilder(FailingEngine()).with_sink(seed_sink, core))
    with pytest.raises(RuntimeError, match="provider down"):
        session.run(seed())
    assert [e.type for e in seed_sink.events] == [EventType.START, EventType.PARTIAL, EventType.ERROR]
    payloads = rendered(core.events)
    assert types(payloads) == [
        "run-started",
        "provider-call-started",
        "text-segment-started",
        "text-delta",
        "text-segment-finished",
        "error",
        "provider-call-finished",
        "run-failed",
    ]
    by_type = {p["type"]: p for p in payloads}
    assert (by_type["error"]["error"], by_type["error"]["message"]) == ("provider down", "provider down")
    failed = by_type["run-failed"]
    assert (failed["error"], failed["message"]) == ("provider down", "provider down")
    assert by_type["provider-call-finished"]["finishClass"] == "error"
    assert by_type["text-segment-finished"]["finishReason"] == "error"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def explode() -> str:
    """Always fails."""
    raise ValueError("nope")


def calling_engine() -> FunctionEngine:
    def run(turn: Turn) -> Turn:
        if any(b.kind is BlockKind.TOOL_USE for b in turn.blocks):
            turn.append(Block.assistant("sum done"))
        else:
            turn.append(Block.tool_call("c1", "add", {"a": 2, "b": 3}), Block.tool_call("c2", "explode", {}))
        return turn

    return FunctionEngine(run)


def test_a_tool_loop_run_publishes_correlated_tool_events() -> None:
    seed_sink, core = CollectingSink(), CollectingSink(view="core")
    registry, sequential = ToolRegistry([add, explode]), ToolConfig(max_parallel_tools=1)
    builder = EngineBuilder(calling_engine()).with_tools(registry, sequential).with_sink(seed_sink, core)
    session = Session(builder)
    out = session.run(seed())
    assert out.assistant_text() == "sum done"

    assert [e.type.value for e in seed_sink.events] == [
        "start",
        "final",
        "tool-call-execute",
        "tool-call-execution-result",
        "tool-call-execute",
        "tool-call-execution-result",
        "start",
        "final",
    ]
    payloads = rendered(core.events)
    assert types(payloads) == [
        "run-started",
        "provider-call-started",
        "tool-call-requested",
        "tool-call-requested",
        "provider-call-finished",
        "tool-execution-started",
        "tool-result-ready",
        "tool-call-finished",
        "tool-execution-started",
        "tool-result-ready",
        "tool-call-finished",
        "provider-call-started",
        "text-segment-started",
        "text-delta",
        "text-segment-finished",
        "provider-call-finished",
        "run-finished",
    ]
    for payload in payloads:
        check_correlation(payload)
    requested = [p for p in payloads if p["type"] == "tool-call-requested"]
    assert [p["toolCall"] for p in requested] == [
        {"id": "c1", "name": "add", "input": '{"a":2,"b":3}'},
        {"id": "c2", "name": "explode", "input": "{}"},
    ]
    ready = [p["toolResult"] for p in payloads if p["type"] == "tool-result-ready"]
    assert ready[0] == {"id": "c1", "name": "add", "result": "5", "status": "success"}
    assert (ready[1]["id"], ready[1]["status"]) == ("c2", "error")
    assert "nope" in ready[1]["result"]
    finished = [p["toolCall"] for p in payloads if p["type"] == "tool-call-finished"]
    assert finished == [
        {"id": "c1", "name": "add", "status": "success"},
        {"id": "c2", "name": "explode", "status": "error"},
    ]
    started = [p for p in payloads if p["type"] == "tool-execution-started"]
    assert [p["correlation"]["tool_call_id"] for p in started] == ["c1", "c2"]
    assert started[0]["toolCall"] == {"id": "c1", "name": "add", "input": '{"a":2,"b":3}'}
    # each model call of the run has its own provider call id
    calls = [p["correlation"]["provider_call_id"] for p in payloads if p["type"] == "provider-call-started"]
    run_id = payloads[0]["correlation"]["run_id"]
    assert calls == [f"function:{run_id}:provider-call:0", f"function:{run_id}:provider-call:1"]
    first_finished = next(p for p in payloads if p["type"] == "provider-call-finished")
    assert first_finished["hasToolCalls"] is True


async def test_streamed_tool_calls_and_reasoning_through_the_accumulator() -> None:
    core = CollectingSink(view="core")
    seed_sink = CollectingSink()

    class Both:
        def publish(self, event: Event) -> None:
            core.publish(event)
            seed_sink.publish(event)

    ctx = RunContext(session_id="s", inference_id="r", turn_id="t", sink=Both())
    turn = seed()
    with StreamAccumulator(turn, ctx, provider="openai", model="m") as acc:
        acc.reasoning_source = "summary"
        acc.start()
        acc.add_reasoning("think")
        acc.add_tool_call(0, id="call_1", name="add", arguments='{"a":')
        acc.add_tool_call(0, arguments="1}")
        acc.add_tool_call(1, arguments='{"late"')  # its id arrives later
        acc.add_tool_call(1, id="call_2", name="explode", arguments=":1}")
        acc.set_usage(Usage(5, 7))
        acc.set_usage(Usage(5, 7))  # unchanged: no second update
        acc.set_stop_reason("tool_calls")
        acc.finish()
    seed_types = [e.type.value for e in seed_sink.events]
    assert seed_types == ["start", "partial-thinking", "tool-call", "tool-call", "final"]
    payloads = rendered(core.events)
    assert types(payloads) == [
        "provider-call-started",
        "reasoning-segment-started",
        "reasoning-delta",
        "tool-call-started",
        "tool-call-arguments-delta",
        "tool-call-arguments-delta",
        "tool-call-started",
        "tool-call-arguments-delta",
        "provider-call-metadata-updated",
        "provider-call-metadata-updated",
        "reasoning-segment-finished",
        "tool-call-requested",
        "tool-call-requested",
        "provider-call-finished",
    ]
    for payload in payloads:
        check_correlation(payload)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        by_type.setdefault(payload["type"], []).append(payload)
    assert by_type["reasoning-segment-started"][0]["source"] == "summary"
    assert by_type["reasoning-delta"][0]["source"] == "summary"
    assert by_type["reasoning-segment-finished"][0]["text"] == "think"
    deltas = [p["toolCall"] for p in by_type["tool-call-arguments-delta"]]
    assert deltas == [
        {"id": "call_1", "delta": '{"a":', "arguments": '{"a":', "sequence": 1},
        {"id": "call_1", "delta": "1}", "arguments": '{"a":1}', "sequence": 2},
        {"id": "call_2", "delta": ":1}", "arguments": '{"late":1}', "sequence": 1},
    ]
    assert [p["toolCall"] for p in by_type["tool-call-started"]] == [
        {"id": "call_1", "name": "add"},
        {"id": "call_2", "name": "explode"},
    ]
    assert [p["toolCall"]["input"] for p in by_type["tool-call-requested"]] == ['{"a":1}', '{"late":1}']
    updates = by_type["provider-call-metadata-updated"]
    assert updates[0]["usage"] == {"input_tokens": 5, "output_tokens": 7}
    assert updates[1]["stopReason"] == "tool_calls"
    finished = by_type["provider-call-finished"][0]
    assert (finished["finishClass"], finished["hasToolCalls"]) == ("tool_calls_pending", True)
    # segments of one call: distinct ids under the same provider call
    segmented = by_type["reasoning-delta"] + by_type["tool-call-started"]
    segments = [p["correlation"]["segment_id"] for p in segmented]
    assert segments == [
        "openai:r:provider-call:0:segment:0:reasoning",
        "openai:r:provider-call:0:segment:1:tool",
        "openai:r:provider-call:0:segment:2:tool",
    ]


async def test_whole_tool_calls_are_announced_when_they_arrive() -> None:
    core = CollectingSink(view="core")
    ctx = RunContext(inference_id="r", sink=core)
    with StreamAccumulator(seed(), ctx, provider="gemini", model="m") as acc:
        acc.start()
        acc.add_complete_tool_call(id=None, name="add", args={"a": 1})
        acc.finish()
    payloads = rendered(core.events)
    assert types(payloads) == [
        "provider-call-started",
        "tool-call-started",
        "tool-call-requested",
        "provider-call-finished",
    ]
    started, requested = payloads[1], payloads[2]
    assert started["toolCall"]["id"] == requested["toolCall"]["id"] != ""
    assert requested["correlation"]["tool_call_id"] == requested["toolCall"]["id"]


async def test_a_cancelled_function_engine_still_closes_its_provider_call() -> None:
    core = CollectingSink(view="core")
    gate = asyncio.Event()

    async def hang(turn: Turn) -> Turn:
        await gate.wait()
        return turn

    task = asyncio.create_task(FunctionEngine(hang).run(seed(), RunContext(inference_id="r", sink=core)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    payloads = rendered(core.events)
    assert types(payloads) == ["provider-call-started", "provider-call-finished"]
    assert (payloads[1]["stopReason"], payloads[1]["finishClass"]) == ("cancelled", "interrupted")
