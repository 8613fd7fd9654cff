"""The ``js_eval`` tool: results, limits as tool errors, and its use in a session's tool loop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from geppetto.engines import FunctionEngine
from geppetto.errors import ToolError
from geppetto.js.eval_tool import JSEvalError, js_eval_tool
from geppetto.session import EngineBuilder, Session
from geppetto.tools import ToolArgumentsError, ToolDefinition, ToolRegistry
from geppetto.turns import Block, BlockKind, Turn

pytestmark = pytest.mark.timeout(60)


def call(definition: ToolDefinition, code: Any) -> Any:
    return asyncio.run(definition.invoke({"code": code}))


def failure(definition: ToolDefinition, code: str) -> JSEvalError:
    with pytest.raises(JSEvalError) as info:
        call(definition, code)
    assert isinstance(info.value, ToolError)
    return info.value


def test_definition_for_providers() -> None:
    definition = js_eval_tool(memory_limit_bytes=8 << 20, deadline_s=1.5)
    assert definition.name == "js_eval"
    assert definition.parameters["required"] == ["code"]
    assert definition.parameters["properties"]["code"]["type"] == "string"
    assert "8 MiB" in definition.description and "1.5 s" in definition.description
    assert definition.to_dict()["name"] == "js_eval"


def test_evaluates_and_returns_the_completion_value() -> None:
    tool = js_eval_tool()
    out = call(tool, "const xs = [3, 1, 2]; xs.sort().map((x) => x * 10)")
    assert out == {"value": [10, 20, 30], "logs": []}
    assert call(tool, "new Promise((r) => setTimeout(() => r({late: true}), 5))")["value"] == {"late": True}
    assert call(tool, "undefined") == {"value": None, "logs": []}


def test_console_output_is_returned() -> None:
    out = call(js_eval_tool(), "console.log('sum', 1 + 2); console.error('careful'); 'ok'")
    assert out == {"value": "ok", "logs": ["sum 3", "[error] careful"]}


def test_runaway_loop_is_a_timeout_error() -> None:
    err = failure(js_eval_tool(deadline_s=0.3), "console.log('starting'); while (true) {}")
    assert err.code == "js_timeout"
    assert str(err).startswith("js_eval timed out: the code ran past its 0.3 s deadline")
    assert "console output before the failure:\nstarting" in str(err)
    assert err.logs == ["starting"]


def test_memory_bomb_is_a_memory_error() -> None:
    err = failure(
        js_eval_tool(memory_limit_bytes=8 << 20, deadline_s=10),
        "const a = []; while (true) a.push('x'.repeat(100) + a.length)",
    )
    assert err.code == "js_memory_limit"
    assert str(err) == "js_eval ran out of memory: the code exceeded its 8 MiB limit"


def test_script_errors_say_what_was_thrown() -> None:
    tool = js_eval_tool()
    err = failure(tool, "null.boom")
    assert err.code == "js_eval_error" and str(err).startswith("js_eval script error: TypeError:")
    assert str(failure(tool, "Promise.reject(new Error('nope'))")) == "js_eval script error: Error: nope"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("require('fs').readFileSync('/etc/passwd')", "Cannot find module 'fs'"),
        ("require('child_process')", "Cannot find module 'child_process'"),
        ("process.env.HOME", "process is not defined"),
        ("fetch('http://example.com')", "fetch is not defined"),
        ("new XMLHttpRequest()", "XMLHttpRequest is not defined"),
        ("require('net').connect(80, 'example.com')", "Cannot find module 'net'"),
        ("std.loadFile('/etc/passwd')", "std is not defined"),
    ],
)
def test_host_access_is_refused(code: str, message: str) -> None:
    err = failure(js_eval_tool(), code)
    assert err.code == "js_eval_error"
    assert message in str(err)


def test_allowed_functions_are_the_only_way_out() -> None:
    def lookup(key: str) -> dict[str, str]:
        return {"key": key, "value": key.upper()}

    tool = js_eval_tool(allowed_functions={"lookup": lookup})
    assert "lookup()" in tool.description
    assert call(tool, "(async () => (await lookup('abc')).value)()") == {"value": "ABC", "logs": []}
    with pytest.raises(ValueError, match="invalid sandbox function name"):
        js_eval_tool(allowed_functions={"require": lookup})


def test_bad_arguments_and_limits() -> None:
    with pytest.raises(ToolArgumentsError, match="code must be a string"):
        call(js_eval_tool(), 42)
    with pytest.raises(ToolArgumentsError, match="missing required code"):
        asyncio.run(js_eval_tool().invoke({}))
    for bad in ({"deadline_s": 0}, {"deadline_s": float("inf")}, {"memory_limit_bytes": -1}):
        with pytest.raises(ValueError):
            js_eval_tool(**bad)


def test_failures_are_tool_errors_in_the_session_tool_loop() -> None:
    """A runaway call ends as an error on its tool_use block; the loop and the host go on."""
    seen: list[list[dict[str, Any]]] = []

    def engine(turn: Turn) -> Turn:
        uses = [dict(b.payload) for b in turn.blocks if b.kind is BlockKind.TOOL_USE]
        if not uses:
            turn.append(
                Block.tool_call("c1", "js_eval", {"code": "console.log('hi'); 6 * 7"}),
                Block.tool_call("c2", "js_eval", {"code": "for (;;) {}"}),
                Block.tool_call("c3", "js_eval", {"code": "require('fs')"}),
            )
        else:
            seen.append(uses)
            turn.append(Block.assistant(f"{len(uses)} results"))
        return turn

    registry = ToolRegistry([js_eval_tool(deadline_s=0.3)])
    session = Session(EngineBuilder(FunctionEngine(engine)).with_tools(registry))
    out = session.run(Turn.builder().user("compute").build())

    uses = {u["id"]: u for u in seen[0]}
    assert json.loads(uses["c1"]["result"]) == {"value": 42, "logs": ["hi"]}
    assert uses["c1"]["error"] == ""
    assert uses["c2"]["error"].startswith("js_eval timed out")
    assert uses["c3"]["error"].startswith("js_eval script error:")
    assert "Cannot find module 'fs'" in uses["c3"]["error"]
    assert out.assistant_text() == "3 results"
    assert not session.is_running
    assert session.run(Turn.builder().user("again").build()).assistant_text() == "3 results"
