"""JS sandbox attacks not already covered by tests/js/test_js_sandbox.py and test_js_eval_tool.py.

Those cover: runaway loops (sync, after an await, endless timers, a slow allowed function), memory
bombs, ``require('fs'|'child_process'|'net')``, ``process``, ``fetch``, ``XMLHttpRequest``,
``std``/``os``, ``__geppetto_host``. Here: escapes to the real global object (Function constructor,
indirect eval, dynamic ``import()``), reaching the scripting module or Python objects through the
allowed functions, stack exhaustion, and state leaking from one evaluation into the next. Each is
refused with a clear error and the host keeps running.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from geppetto.js import JSRuntime, SandboxScriptError, evaluate_untrusted

pytestmark = pytest.mark.timeout(60)

FORBIDDEN_GLOBALS = (
    "process",
    "fetch",
    "XMLHttpRequest",
    "WebSocket",
    "std",
    "os",
    "Deno",
    "Bun",
    "importScripts",
    "__geppetto_host",
    "SharedArrayBuffer",
    "Atomics",
)


@pytest.fixture
def rt() -> Iterator[JSRuntime]:
    """A scripting runtime alive beside the sandbox: it must keep answering after each attack."""
    runtime = JSRuntime()
    yield runtime
    runtime.close()


@pytest.mark.parametrize(
    "reach_global",
    [
        "Function('return this')()",
        "[].constructor.constructor('return globalThis')()",
        "(0, eval)('this')",
        "(async function () {}).constructor('return this')",
    ],
)
def test_escapes_to_the_real_global_find_nothing_dangerous(reach_global: str) -> None:
    names = ", ".join(f"'{name}'" for name in FORBIDDEN_GLOBALS)
    code = f"""
    (async () => {{
      let g = {reach_global};
      if (typeof g === 'function') g = await g();
      return [{names}].filter((n) => typeof g[n] !== 'undefined');
    }})()
    """
    assert evaluate_untrusted(code).value == []


@pytest.mark.parametrize("module", ["fs", "geppetto", "os", "std"])
def test_dynamic_import_is_refused(module: str) -> None:
    with pytest.raises(SandboxScriptError, match=f"could not load module '{module}'") as info:
        evaluate_untrusted(f"import('{module}')")
    assert info.value.code == "js_eval_error"


def test_the_scripting_module_is_out_of_reach() -> None:
    with pytest.raises(SandboxScriptError, match="Cannot find module 'geppetto'"):
        evaluate_untrusted("require('geppetto').createSession")


def test_python_objects_never_cross_into_the_sandbox(rt: JSRuntime) -> None:
    """An allowed function that hands back a live Python object is an error in JS, not a handle."""
    allowed: dict[str, Any] = {
        "lock": threading.Lock,
        "callable": lambda: lambda: 1,
        "plain": object,
        "take": lambda value: type(value).__name__,
    }
    for call, message in (
        ("lock()", "not JSON serializable"),
        ("callable()", "not JSON serializable"),
        ("plain()", "not JSON serializable"),
    ):
        with pytest.raises(SandboxScriptError, match=message):
            evaluate_untrusted(call, allowed_functions=allowed)
    # JS functions do not reach Python as callables either: they arrive as JSON (null).
    assert evaluate_untrusted("take(() => 1)", allowed_functions=allowed).value == "NoneType"
    assert evaluate_untrusted("6 * 7").value == 42
    assert rt.eval("1 + 1") == 2


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("(async () => { const o = {}; o.o = o; return await take(o) })()", "circular"),
        (
            "take(new Proxy({}, {get() { throw new Error('trap') }, ownKeys() { throw new Error('trap') }}))",
            "trap",
        ),
    ],
)
def test_hostile_arguments_to_allowed_functions_fail_cleanly(code: str, message: str) -> None:
    with pytest.raises(SandboxScriptError, match=message):
        evaluate_untrusted(code, allowed_functions={"take": lambda value: "took"})


def test_stack_exhaustion_is_a_catchable_range_error(rt: JSRuntime) -> None:
    caught = evaluate_untrusted(
        "(() => { const f = (n) => f(n + 1) + 1; try { f(0) } catch (e) { return e.name } })()"
    )
    assert caught.value == "RangeError"
    with pytest.raises(SandboxScriptError, match="RangeError"):
        evaluate_untrusted("const f = (n) => f(n + 1) + 1; f(0)")
    assert rt.eval("[1, 2, 3].length") == 3


def test_no_state_survives_from_one_evaluation_to_the_next() -> None:
    evaluate_untrusted(
        "Object.prototype.polluted = 1; globalThis.leftover = 2;"
        " Array.prototype.map = null; JSON.parse = null"
    )
    assert evaluate_untrusted(
        "[typeof ({}).polluted, typeof leftover, [1].map((x) => x + 1)[0], JSON.parse('3')]"
    ).value == ["undefined", "undefined", 2, 3]
