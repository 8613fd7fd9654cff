"""Limits of a trusted runtime: the wall-clock deadline, interrupts (Ctrl-C) and the memory limit.

Every script here would run forever (or grow without bound) if its limit did not hold, so each
runs on a helper thread with a generous safety join: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from geppetto.js import JSError, JSRuntime, JSScriptError
from geppetto.js.errors import JSScriptInterrupted, JSScriptMemoryError, JSScriptTimeout

SAFETY_S = 60


def outcome(fn: Callable[[], Any]) -> BaseException | Any:
    """``fn()``'s result or exception, from a thread that must finish within the safety margin."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(SAFETY_S)
    assert not thread.is_alive(), "the limit did not stop the script"
    return box[0]


BUSY = {  # each logs "after" only if its loop ever ends
    "a loop at top level": "for (;;) {}\nconsole.log('after');",
    "a loop that catches everything": (
        "for (;;) { try { for (;;) {} } catch (e) {} finally { continue; } }\nconsole.log('after');"
    ),
    "a loop in a timer": "setTimeout(() => { for (;;) {} console.log('after'); }, 1);",
    "a loop in a microtask": "Promise.resolve().then(() => { for (;;) {} console.log('after'); });",
    "a loop after await": "await null;\nwhile (true) {}\nconsole.log('after');",
}


@pytest.mark.parametrize("source", BUSY.values(), ids=list(BUSY))
def test_deadline_stops_busy_js(rt: JSRuntime, console: Any, source: str) -> None:
    result = outcome(lambda: rt.run_script(source, "busy.js", timeout=0.2))
    assert isinstance(result, JSScriptTimeout), result
    assert result.kind == "timeout" and result.timeout_s == 0.2
    assert str(result) == "script exceeded its 0.2 s deadline"
    assert console.texts() == []


def test_deadline_covers_awaiting_and_blocking_host_calls(rt: JSRuntime) -> None:
    never = rt.create_promise()
    rt.set_global("never", never)
    awaiting = outcome(lambda: rt.run_script("await never;", "await.js", timeout=0.2))
    assert isinstance(awaiting, JSScriptTimeout)

    other = JSRuntime()
    try:
        release = threading.Event()
        other.set_global("block", lambda: other.run_blocking(release.wait))
        blocked = outcome(lambda: other.run_script("block();\nfor (;;) {}", "block.js", timeout=0.2))
        assert isinstance(blocked, JSScriptTimeout)
        release.set()
    finally:
        other.close()


def test_interrupt_stops_a_busy_script_and_the_runtime_stays_interrupted(rt: JSRuntime, console: Any) -> None:
    rt.set_global("started", lambda: threading.Timer(0.05, rt.interrupt).start())
    result = outcome(lambda: rt.run_script("started();\nfor (;;) {}", "ctrl-c.js"))
    assert isinstance(result, JSScriptInterrupted) and not isinstance(result, JSScriptTimeout)
    assert result.kind == "interrupted"
    assert rt.interrupted is result
    with pytest.raises(JSScriptInterrupted):
        rt.eval("1 + 1")
    with pytest.raises(JSScriptInterrupted):
        rt.run_script("console.log('never');", "again.js")
    assert console.texts() == []


def test_a_script_cannot_catch_the_interrupt_of_its_host_call(rt: JSRuntime, console: Any) -> None:
    release = threading.Event()
    rt.set_global("block", lambda: rt.run_blocking(release.wait))
    rt.set_global("started", lambda: threading.Timer(0.05, rt.interrupt).start())
    source = "started();\ntry { block(); } catch (e) { console.log('caught'); }\nconsole.log('after');"
    result = outcome(lambda: rt.run_script(source, "catch.js"))
    release.set()
    assert isinstance(result, JSScriptInterrupted)
    assert console.texts() == []


def test_js_callbacks_fail_after_an_interrupt(rt: JSRuntime) -> None:
    callback = rt.eval("(x) => x + 1")
    assert callback(1) == 2
    rt.interrupt()
    with pytest.raises(JSError, match="interrupted"):
        callback(1)


def test_a_script_that_finishes_in_time_is_untouched(rt: JSRuntime, console: Any) -> None:
    assert rt.run_script("await new Promise((r) => setTimeout(r, 5));\nreturn 7;", "ok.js", timeout=30) == 7
    assert rt.interrupted is None
    assert rt.eval("40 + 2") == 42


BOMBS = {
    "many small objects": "const a = [];\nfor (;;) a.push({ n: [1, 2, 3] });",
    "a global array": "globalThis.kept = [];\nfor (;;) kept.push({ n: [1, 2, 3] });",
    "big strings": "const a = [];\nfor (let i = 0; ; i++) a.push('x'.repeat(100000) + i);",
    "one huge array": "new Array(1e9).fill(0);",
    "typed arrays": "const a = [];\nfor (;;) a.push(new Uint8Array(1e7));",
    "after await": "await 0;\nconst a = [];\nfor (;;) a.push({ n: [1, 2, 3] });",
    "in a timer": "setTimeout(() => { const a = []; for (;;) a.push([1, 2]); }, 1);",
}


@pytest.mark.parametrize("source", BOMBS.values(), ids=list(BOMBS))
def test_memory_limit_stops_a_memory_bomb_with_a_clear_error(source: str) -> None:
    rt = JSRuntime(memory_limit_bytes=48 << 20)
    try:
        result = outcome(lambda: rt.run_script(source, "bomb.js", timeout=SAFETY_S))
    finally:
        rt.close()
    assert isinstance(result, JSScriptMemoryError), result
    assert str(result) == "script exceeded the JS memory limit of 48 MiB"
    assert result.limit_bytes == 48 << 20 and result.kind == "outOfMemory"


def test_throwing_null_is_not_mistaken_for_running_out_of_memory() -> None:
    rt = JSRuntime(memory_limit_bytes=48 << 20)
    try:
        with pytest.raises(JSScriptError) as info:
            rt.run_script("throw null;", "null.js")
        assert not isinstance(info.value, JSScriptMemoryError)
        assert info.value.message == "null"
        # a script may catch running out of memory and carry on
        rt.run_script(
            "let caught = '';\n"
            "try { const a = []; for (;;) a.push(new Uint8Array(1e7)); } catch (e) { caught = String(e); }\n"
            "if (caught !== 'InternalError: out of memory') throw new Error(caught);\n",
            "caught.js",
        )
    finally:
        rt.close()


def test_stack_positions_point_into_the_script(rt: JSRuntime) -> None:
    with pytest.raises(JSScriptError) as first_line:
        rt.run_script('throw new Error("boom");\n', "/work/throw.js")
    assert first_line.value.stack.strip() == "at <anonymous> (/work/throw.js:1:11)"

    with pytest.raises(JSScriptError) as nested:
        rt.run_script("function f() {\n  throw new Error('deep');\n}\nf();\n", "nested.js")
    assert [line.strip() for line in nested.value.stack.splitlines()] == [
        "at f (nested.js:2:13)",
        "at <anonymous> (nested.js:4:1)",
    ]

    with pytest.raises(JSScriptError) as syntax:
        rt.run_script("const ok = 1;\nconst = ;\n", "syntax.js")
    assert syntax.value.kind == "syntaxError" and "syntax.js:2:7" in syntax.value.stack

    with pytest.raises(JSScriptError) as shebang:
        rt.run_script("#!/usr/bin/env geppetto\nnull.x;\n", "shebang.js")
    assert "shebang.js:2:1" in shebang.value.stack


def test_stacks_seen_by_the_script_itself_match_the_file(rt: JSRuntime) -> None:
    stack = rt.run_script("try { null.x; } catch (e) { return e.stack; }", "self.js").splitlines()
    assert stack[0].strip() == "at <anonymous> (self.js:1:7)"
    assert all("(host:" in line for line in stack[1:])  # the runtime's frame that called the script


def test_host_module_frames_are_named_as_host_code(rt: JSRuntime) -> None:
    rt.define_js_module("helper", "exports.fail = function fail() {\n  throw new TypeError('module');\n};\n")
    with pytest.raises(JSScriptError) as info:
        rt.run_script("const h = require('helper');\n\nh.fail();\n", "uses.js")
    lines = info.value.stack.splitlines()
    assert lines[0].strip() == "at fail (host:helper.js:2:13)"
    assert lines[1].strip() == "at <anonymous> (uses.js:3:3)"
    # setTimeout and console live in the runtime's own code, never in the script's file
    with pytest.raises(JSScriptError) as timer:
        rt.run_script("setTimeout(42);\n", "timer.js")
    assert "timer.js:1:" in timer.value.stack
    assert all("timer.js" not in line for line in timer.value.stack.splitlines() if "setTimeout" in line)


def test_modules_still_load_after_the_script_freezes_the_global_object(rt: JSRuntime) -> None:
    rt.define_js_module("helper", "exports.answer = 42;\n")
    assert rt.run_script("Object.freeze(globalThis);\nreturn require('helper').answer;", "frozen.js") == 42


def test_a_script_that_closes_its_wrapper_early_cannot_crash_the_host(rt: JSRuntime, console: Any) -> None:
    """The script is compiled through the C API; code that escapes the wrapper function runs at
    that moment and may call into Python (here console.log), which must work like any host call."""
    with pytest.raises(JSScriptError):
        rt.run_script("});\nconsole.log('outside', typeof require);\n(function () {\n", "escape.js")
    assert console.texts() == ["outside function"]
    assert rt.eval("1 + 1") == 2
