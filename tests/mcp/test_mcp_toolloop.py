"""MCP tools inside a Session's tool loop: advertised, run, answered, with events and error policy."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from geppetto.engines import FunctionEngine
from geppetto.engines.base import RunContext
from geppetto.errors import InferenceCancelled, ToolError
from geppetto.events import CollectingSink
from geppetto.mcp import MCPServer, MCPStartError
from geppetto.session import EngineBuilder, Session
from geppetto.tools import ToolConfig, ToolHooks, ToolRegistry
from geppetto.turns import Block, BlockKind, DataKeys, Turn

from .conftest import BASIC, children_running

pytestmark = pytest.mark.usefixtures("no_orphans")


def tool_uses(turn: Turn) -> list[dict[str, Any]]:
    return [dict(b.payload) for b in turn.blocks if b.kind is BlockKind.TOOL_USE]


def scripted(*calls: tuple[str, str, dict[str, Any]], seen: list[list[str]] | None = None) -> FunctionEngine:
    """Calls the tools on the first pass; then answers with the results it got."""

    def run(turn: Turn, ctx: RunContext) -> Turn:
        if seen is not None:
            seen.append([d.name for d in ctx.tools.list_tools()] if ctx.tools is not None else [])
        uses = tool_uses(turn)
        if uses:
            turn.append(Block.assistant(" | ".join(u["result"] or f"error: {u['error']}" for u in uses)))
        else:
            turn.append(*(Block.tool_call(cid, name, args) for cid, name, args in calls))
        return turn

    return FunctionEngine(run)


def seed() -> Turn:
    return Turn.builder().user("use the tools").build()


async def test_session_runs_an_mcp_tool_and_answers_with_its_result() -> None:
    registry = ToolRegistry()
    registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC], include=["echo", "add"]))
    seen: list[list[str]] = []
    engine = scripted(
        ("c1", "basic_echo", {"text": "from mcp"}), ("c2", "basic_add", {"a": 20, "b": 22}), seen=seen
    )
    sink = CollectingSink()
    calls: list[str] = []
    hooks = ToolHooks(before_tool_call=lambda payload: calls.append(payload.call.name))
    builder = EngineBuilder(engine).with_tools(registry, ToolConfig(max_parallel_tools=2), hooks)
    session = Session(builder.with_sink(sink))
    try:
        out = await session.arun(seed())
    finally:
        await registry.aclose()
    assert seen[0] == ["basic_echo", "basic_add"]
    assert [d["name"] for d in out.data[DataKeys.TOOL_DEFINITIONS.id]] == ["basic_echo", "basic_add"]
    assert [(u["id"], u["result"], u["error"]) for u in tool_uses(out)] == [
        ("c1", '"from mcp"', ""),
        ("c2", '{"terms":[20,22],"total":42}', ""),
    ]
    assert out.assistant_text() == '"from mcp" | {"terms":[20,22],"total":42}'
    assert sorted(calls) == ["basic_add", "basic_echo"]
    events = sink.of_type("tool-call-execution-result")
    results = {e.tool_result.id: e.tool_result.result for e in events}  # type: ignore[attr-defined]
    assert results == {"c1": '"from mcp"', "c2": '{"terms":[20,22],"total":42}'}
    assert children_running() == []


async def test_mcp_tool_errors_follow_the_loops_error_policy() -> None:
    registry = ToolRegistry()
    registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC], timeout=1))
    engine = scripted(
        ("c1", "basic_fail", {"message": "bad input"}),
        ("c2", "basic_sleep", {"seconds": 30}),
        ("c3", "basic_echo", {"text": "fine"}),
    )
    session = Session(EngineBuilder(engine).with_tools(registry, ToolConfig(tool_error_handling="continue")))
    try:
        out = await session.arun(seed())
    finally:
        await registry.aclose()
    uses = tool_uses(out)
    assert uses[0]["error"] == "MCP server 'basic': Error executing tool fail: bad input"
    assert uses[1]["error"] == "MCP server 'basic': no answer to tools/call sleep within 1s"
    assert (uses[2]["result"], uses[2]["error"]) == ('"fine"', "")  # a fresh server after the timeout

    registry = ToolRegistry()
    registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC]))
    session = Session(
        EngineBuilder(scripted(("c1", "basic_fail", {"message": "stop"}))).with_tools(
            registry, ToolConfig(tool_error_handling="abort")
        )
    )
    try:
        with pytest.raises(ToolError, match="aborted due to error in basic_fail: MCP server 'basic'"):
            await session.arun(seed())
    finally:
        await registry.aclose()


async def test_a_server_that_cannot_start_is_left_out_unless_the_policy_aborts() -> None:
    registry = ToolRegistry()
    registry.add_mcp(MCPServer.stdio("ghost", "/nonexistent/mcp-server"))
    registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC], include=["echo"]))
    seen: list[list[str]] = []
    engine = scripted(("c1", "basic_echo", {"text": "ok"}), ("c2", "ghost_tool", {}), seen=seen)
    session = Session(EngineBuilder(engine).with_tools(registry))
    try:
        out = await session.arun(seed())
        assert seen[0] == ["basic_echo"]
        uses = tool_uses(out)
        assert (uses[0]["result"], uses[1]["error"]) == ('"ok"', "tool not found: ghost_tool")
        assert isinstance(registry.mcp_toolsets[0].errors["ghost"], MCPStartError)
    finally:
        await registry.aclose()

    strict = ToolRegistry()
    strict.add_mcp(MCPServer.stdio("ghost", "/nonexistent/mcp-server"))
    session = Session(EngineBuilder(scripted()).with_tools(strict, ToolConfig(tool_error_handling="abort")))
    with pytest.raises(MCPStartError, match="MCP server 'ghost'"):
        await session.arun(seed())


def test_sync_session_run_uses_the_runtime_loop_for_mcp() -> None:
    registry = ToolRegistry()
    toolset = registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC], include=["add"]))
    session = Session(EngineBuilder(scripted(("c1", "basic_add", {"a": 1, "b": 2}))).with_tools(registry))
    try:
        out = session.run(seed())
        out2 = session.run(seed())  # the same server answers the second run
        assert json.loads(tool_uses(out)[0]["result"]) == {"total": 3, "terms": [1, 2]}
        assert tool_uses(out2)[0]["error"] == ""
        assert len(children_running()) == 1
    finally:
        toolset.close()


async def test_cancelling_a_run_mid_mcp_call_keeps_the_server_usable() -> None:
    registry = ToolRegistry()
    toolset = registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC], include=["sleep", "pid"]))
    session = Session(EngineBuilder(scripted(("c1", "basic_sleep", {"seconds": 60}))).with_tools(registry))
    try:
        handle = session.start(seed())
        # Once the tools are registered the run goes straight on to the call (no await between),
        # so when this task next runs the call is in flight.
        for _ in range(2000):
            if "basic_sleep" in registry:
                break
            await asyncio.sleep(0.01)
        handle.cancel()
        with pytest.raises(InferenceCancelled):
            await handle
        out = session.latest()
        assert out is not None and tool_uses(out)[0]["error"] == "tool execution cancelled"
        assert int(await toolset.call("basic", "pid", {})) in children_running()
    finally:
        await registry.aclose()
    assert children_running() == []
