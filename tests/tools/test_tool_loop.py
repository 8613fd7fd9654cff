"""The tool loop end to end: Session + EngineBuilder(FunctionEngine).with_tools(...)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from geppetto.engines import FunctionEngine
from geppetto.engines.base import RunContext
from geppetto.errors import ConfigError, InferenceCancelled, ToolError
from geppetto.events import CollectingSink
from geppetto.events.types import EventType
from geppetto.session import EngineBuilder, Session
from geppetto.toolloop import ToolLoop, pending_tool_calls
from geppetto.tools import ToolConfig, ToolDefinition, ToolHooks, ToolRegistry, tool
from geppetto.turns import Block, BlockKind, DataKeys, Turn

CallSpec = tuple[str, str, Any]


@tool
def weather(city: str, days: int = 1) -> dict[str, Any]:
    """Weather for a city."""
    return {"city": city, "days": days, "sky": "clear", "temps": [21.5, 19]}


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_uses(turn: Turn) -> list[dict[str, Any]]:
    return [dict(b.payload) for b in turn.blocks if b.kind is BlockKind.TOOL_USE]


def calling_engine(*calls: CallSpec, seen: list[RunContext] | None = None) -> FunctionEngine:
    """Asks for ``calls`` on the first pass and answers with text once it sees tool results."""

    def run(turn: Turn, ctx: RunContext) -> Turn:
        if seen is not None:
            seen.append(ctx)
        uses = tool_uses(turn)
        if uses:
            turn.append(Block.assistant(f"done after {len(uses)} results"))
        else:
            turn.append(*(Block.tool_call(call_id, name, args) for call_id, name, args in calls))
        return turn

    return FunctionEngine(run)


def session_for(
    engine: FunctionEngine, registry: ToolRegistry, config: Any = None, hooks: Any = None
) -> Session:
    return Session(EngineBuilder(engine).with_tools(registry, config, hooks))


def seed() -> Turn:
    return Turn.builder().system("be useful").user("hello").build()


def test_loop_runs_tools_and_feeds_results_back() -> None:
    contexts: list[RunContext] = []
    engine = calling_engine(
        ("c1", "weather", {"city": "Paris", "days": 2}), ("c2", "add", '{"a": 2, "b": 3}'), seen=contexts
    )
    sink = CollectingSink()
    session = Session(EngineBuilder(engine).with_tools(ToolRegistry([weather, add])).with_sink(sink))
    out = session.run(seed())

    assert [b.kind for b in out.blocks] == [
        BlockKind.SYSTEM,
        BlockKind.USER,
        BlockKind.TOOL_CALL,
        BlockKind.TOOL_CALL,
        BlockKind.TOOL_USE,
        BlockKind.TOOL_USE,
        BlockKind.LLM_TEXT,
    ]
    assert [(u["id"], u["result"], u["error"]) for u in tool_uses(out)] == [
        ("c1", '{"city":"Paris","days":2,"sky":"clear","temps":[21.5,19]}', ""),
        ("c2", "5", ""),
    ]
    assert out.assistant_text() == "done after 2 results"
    assert len(contexts) == 2
    # the seam provider engines use: ctx.tools and the tool config in Turn.data
    advertised = contexts[0].tools.list_tools()
    assert [(d.name, d.description, d.parameters["type"]) for d in advertised] == [
        ("weather", "Weather for a city.", "object"),
        ("add", "Add two integers.", "object"),
    ]
    assert out.data[DataKeys.TOOL_CONFIG.id]["tool_choice"] == "auto"
    assert out.data["geppetto.tool_config@v1"] == ToolConfig().to_dict()
    assert [d["name"] for d in out.data[DataKeys.TOOL_DEFINITIONS.id]] == ["weather", "add"]
    assert out.data[DataKeys.TOOL_DEFINITIONS.id][1]["parameters"]["required"] == ["a", "b"]

    types = [
        e.type
        for e in sink.events
        if e.type in (EventType.TOOL_CALL_EXECUTE, EventType.TOOL_CALL_EXECUTION_RESULT)
    ]
    assert (
        types.count(EventType.TOOL_CALL_EXECUTE) == 2
        and types.count(EventType.TOOL_CALL_EXECUTION_RESULT) == 2
    )
    results = {e.tool_result.id: e.tool_result.result for e in sink.of_type("tool-call-execution-result")}  # type: ignore[attr-defined]
    assert results == {"c1": '{"city":"Paris","days":2,"sky":"clear","temps":[21.5,19]}', "c2": "5"}
    assert session.turn_count == 1 and session.latest() == out


def test_results_keep_call_order_when_tools_finish_out_of_order() -> None:
    @tool
    async def nap(ms: float, tag: str) -> str:
        await asyncio.sleep(ms / 1000)
        return tag

    calls = [(f"c{i}", "nap", {"ms": ms, "tag": f"t{i}"}) for i, ms in enumerate([15, 0, 8, 1])]
    out = session_for(calling_engine(*calls), ToolRegistry([nap]), ToolConfig(max_parallel_tools=4)).run(
        seed()
    )
    assert [(u["id"], u["result"]) for u in tool_uses(out)] == [
        ("c0", '"t0"'),
        ("c1", '"t1"'),
        ("c2", '"t2"'),
        ("c3", '"t3"'),
    ]


def test_iteration_cap_raises_and_keeps_the_turn() -> None:
    passes: list[int] = []

    def always_calls(turn: Turn) -> Turn:
        passes.append(1)
        turn.append(Block.tool_call(f"c{len(passes)}", "add", {"a": len(passes), "b": 1}))
        return turn

    session = session_for(FunctionEngine(always_calls), ToolRegistry([add]), ToolConfig(max_iterations=2))
    with pytest.raises(ToolError, match=r"^max iterations \(2\) reached$"):
        session.run(seed())
    assert len(passes) == 2
    kept = session.latest()
    assert kept is not None
    assert [(u["id"], u["result"]) for u in tool_uses(kept)] == [("c1", "2"), ("c2", "3")]
    assert [b.kind for b in kept.blocks][:2] == [BlockKind.SYSTEM, BlockKind.USER]


def test_tool_choice_none_is_a_single_pass() -> None:
    ran: list[Any] = []

    @tool
    def spy() -> None:
        ran.append(1)

    out = session_for(
        calling_engine(("c1", "spy", {})), ToolRegistry([spy]), ToolConfig(tool_choice="none")
    ).run(seed())
    assert ran == [] and tool_uses(out) == []
    assert [c.id for c in pending_tool_calls(out)] == ["c1"]
    assert out.data[DataKeys.TOOL_CONFIG.id]["tool_choice"] == "none"


def test_disabled_loop_is_a_plain_inference() -> None:
    contexts: list[RunContext] = []
    engine = calling_engine(("c1", "add", {"a": 1, "b": 1}), seen=contexts)
    out = session_for(engine, ToolRegistry([add]), {"enabled": False}).run(seed())
    assert tool_uses(out) == [] and contexts[0].tools is None
    assert DataKeys.TOOL_CONFIG.id not in out.data


def test_already_answered_calls_are_not_run_again() -> None:
    ran: list[str] = []

    @tool
    def record(tag: str) -> str:
        ran.append(tag)
        return tag

    start = seed().append(Block.tool_call("old", "record", {"tag": "old"}), Block.tool_use("old", '"old"'))
    engine = FunctionEngine(
        lambda turn: (
            turn.append(Block.tool_call("new", "record", {"tag": "new"}))
            if len(tool_uses(turn)) == 1
            else turn.append(Block.assistant("ok"))
        )
    )
    out = session_for(engine, ToolRegistry([record])).run(start)
    assert ran == ["new"]
    assert [u["id"] for u in tool_uses(out)] == ["old", "new"]


def test_abort_mode_stops_the_loop_and_keeps_every_result() -> None:
    def explode(args: dict[str, Any]) -> None:
        raise RuntimeError("kaput")

    registry = ToolRegistry([add, ToolDefinition("explode", explode)])
    calls = [("c1", "add", {"a": 1, "b": 2}), ("c2", "explode", {}), ("c3", "add", {"a": 5, "b": 5})]
    passes: list[RunContext] = []
    session = session_for(
        calling_engine(*calls, seen=passes),
        registry,
        ToolConfig(tool_error_handling="abort", max_parallel_tools=1),
    )
    with pytest.raises(ToolError, match=r"^tool execution aborted due to error in explode: kaput$"):
        session.run(seed())
    assert len(passes) == 1
    kept = session.latest()
    assert kept is not None
    assert [(u["id"], u["result"], u["error"]) for u in tool_uses(kept)] == [
        ("c1", "3", ""),
        ("c2", None, "kaput"),
        ("c3", None, "not executed: tool execution aborted due to error in explode"),
    ]


def test_cancellation_mid_tool_keeps_finished_results() -> None:
    entered = threading.Event()

    @tool
    async def hang() -> None:
        entered.set()
        await asyncio.sleep(3600)

    calls = [("c1", "add", {"a": 1, "b": 1}), ("c2", "hang", {})]
    session = session_for(calling_engine(*calls), ToolRegistry([add, hang]), ToolConfig(max_parallel_tools=1))
    handle = session.start(seed())
    assert entered.wait(10)
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        handle.wait(10)
    assert not session.is_running
    kept = session.latest()
    assert kept is not None
    assert [(u["id"], u["result"], u["error"]) for u in tool_uses(kept)] == [
        ("c1", "2", ""),
        ("c2", None, "tool execution cancelled"),
    ]


def test_bad_input_becomes_errors_and_the_loop_goes_on() -> None:
    release = threading.Event()

    @tool
    def raises(text: str = "") -> None:
        raise KeyError("no such key")

    @tool
    async def hangs() -> None:
        await asyncio.sleep(3600)

    @tool
    def sync_hangs() -> str:
        release.wait(5)
        return "late"

    def before(payload: Any) -> Any:
        return (
            {"action": "explode"}
            if payload.call.name == "weather" and payload.call.args.get("city") == "Junk"
            else None
        )

    calls: list[CallSpec] = [
        ("c1", "add", {"a": "one", "b": 2}),  # fails the schema
        ("c2", "add", '{"a": 1, "b":'),  # invalid JSON from the model
        ("c3", "missing", {}),  # unknown tool
        ("c4", "raises", {}),  # tool raises
        ("c5", "hangs", {}),  # async tool hangs
        ("c6", "sync_hangs", {}),  # sync tool hangs
        ("c7", "weather", {"city": "Junk"}),  # hook returns junk
        ("c8", "add", {"a": 20, "b": 22}),  # fine
    ]
    registry = ToolRegistry([add, raises, hangs, sync_hangs, weather])
    session = session_for(
        calling_engine(*calls),
        registry,
        ToolConfig(execution_timeout_ms=30),
        ToolHooks(before_tool_call=before),
    )
    try:
        out = session.run(seed(), timeout=30)
    finally:
        release.set()
    errors = {u["id"]: u["error"] for u in tool_uses(out)}
    assert errors["c1"].startswith("invalid arguments for tool add: a: Input should be a valid integer")
    assert errors["c2"].startswith("invalid arguments for tool add: invalid JSON arguments")
    assert errors["c3"] == "tool not found: missing"
    assert errors["c4"] == "'no such key'"
    assert errors["c5"] == "tool hangs timed out after 30ms"
    assert errors["c6"] == "tool sync_hangs timed out after 30ms"
    assert errors["c7"].startswith("beforeToolCall hook: invalid action 'explode'")
    assert errors["c8"] == ""
    assert [u["result"] for u in tool_uses(out)][-1] == "42"
    assert out.assistant_text() == "done after 8 results"
    assert [b.kind for b in out.blocks][:2] == [BlockKind.SYSTEM, BlockKind.USER]
    assert [b.payload["id"] for b in out.blocks if b.kind is BlockKind.TOOL_CALL] == [c[0] for c in calls]


def test_hook_changing_the_id_still_answers_the_models_call() -> None:
    hooks = ToolHooks(before_tool_call=lambda p: {"id": "rewritten"})
    out = session_for(calling_engine(("c1", "add", {"a": 1, "b": 2})), ToolRegistry([add]), None, hooks).run(
        seed()
    )
    assert [(u["id"], u["result"]) for u in tool_uses(out)] == [("c1", "3")]
    assert out.assistant_text() == "done after 1 results"


def test_allow_list_limits_what_is_advertised_and_run() -> None:
    contexts: list[RunContext] = []
    engine = calling_engine(
        ("c1", "weather", {"city": "Oslo"}), ("c2", "add", {"a": 1, "b": 1}), seen=contexts
    )
    out = session_for(engine, ToolRegistry([weather, add]), ToolConfig(allowed_tools=["add"])).run(seed())
    assert [d.name for d in contexts[0].tools.list_tools()] == ["add"]
    assert [d["name"] for d in out.data[DataKeys.TOOL_DEFINITIONS.id]] == ["add"]
    assert [u["error"] for u in tool_uses(out)] == ["tool not allowed: weather", ""]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"tool_choice": "bogus"}, 'invalid tool_choice "bogus", expected one of: auto, none, required'),
        (
            {"toolErrorHandling": "ignore"},
            'invalid tool_error_handling "ignore", expected one of: continue, abort, retry',
        ),
    ],
)
def test_bad_config_is_rejected_before_anything_runs(config: dict[str, Any], message: str) -> None:
    ran: list[Turn] = []
    session = session_for(FunctionEngine(ran.append), ToolRegistry([add]), config)
    with pytest.raises(ConfigError) as info:
        session.run(seed())
    assert str(info.value) == message
    assert ran == []


async def test_tool_loop_directly_with_dict_hooks_and_result_json() -> None:
    seen: list[str] = []

    async def handler(turn: Turn, ctx: RunContext) -> Turn:
        if not tool_uses(turn):
            turn.append(Block.tool_call("x", "weather", {"city": "Rome"}))
        return turn

    loop = ToolLoop(
        handler,
        ToolRegistry([weather]),
        {"maxParallelTools": 1},
        {"afterToolCall": lambda p: seen.append(p.call.name)},
    )
    ctx = RunContext()
    out = await loop.run(Turn(blocks=[Block.user("hi")]), ctx)
    (use,) = tool_uses(out)
    assert json.loads(use["result"]) == {"city": "Rome", "days": 1, "sky": "clear", "temps": [21.5, 19]}
    assert seen == ["weather"] and ctx.output is out
    with pytest.raises(ToolError, match="tool loop registry is nil"):
        ToolLoop(handler, None)  # type: ignore[arg-type]


def test_engine_returning_new_turn_objects_and_junk_ids() -> None:
    def fresh(turn: Turn) -> Turn:
        out = turn.clone(deep=True)
        out.data.clear()
        if not tool_uses(turn):
            out.append(
                Block.tool_call("c1", "add", {"a": 4, "b": 4}), Block(BlockKind.TOOL_CALL, payload={"id": {}})
            )
            out.append(Block(BlockKind.TOOL_USE, payload={"id": ["junk"], "result": None, "error": ""}))
        else:
            out.append(Block.assistant("eight"))
        return out

    out = session_for(FunctionEngine(fresh), ToolRegistry([add])).run(seed())
    assert [(u["id"], u["result"]) for u in tool_uses(out)][-1] == ("c1", "8")
    assert out.assistant_text() == "eight"
    assert out.data[DataKeys.TOOL_CONFIG.id]["max_iterations"] == 5
