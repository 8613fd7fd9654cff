"""Host objects, host functions and JS callbacks as handles: identity, hidden refs, release."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from geppetto.js import JSCallback, JSRuntime


class Counter:
    __js_methods__ = ("inc", "same", "peer")
    __js_props__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0
        self.partner: Counter | None = None

    def inc(self, by: int = 1) -> int:
        self.value += by
        return self.value

    def same(self, other: Any) -> bool:
        return other is self

    def peer(self) -> Counter | None:
        return self.partner

    def secret(self) -> str:
        return "not exposed"


class Engine:
    __js_props__ = ("name",)
    __js_class__ = "Engine"

    def __init__(self, name: str) -> None:
        self.name = name


def test_host_object_methods_and_props(rt: JSRuntime) -> None:
    counter = Counter("c1")
    rt.set_global("counter", counter)
    assert rt.eval("counter.name") == "c1"
    assert rt.eval("counter.inc(); counter.inc(5)") == 6
    assert counter.value == 6
    assert rt.eval("typeof counter.secret") == "undefined"


def test_same_python_object_is_the_same_js_object(rt: JSRuntime) -> None:
    a, b = Counter("a"), Counter("b")
    a.partner = a
    rt.set_global("a", a)
    rt.set_global("b", b)
    rt.set_global("pair", lambda: [a, a, b])
    assert rt.eval("const p = pair(); p[0] === p[1] && p[0] === a && p[2] !== a") is True
    assert rt.eval("a.peer() === a") is True
    assert rt.eval("a.same(a) && !a.same(b)") is True
    rt.set_global("back", lambda obj: obj)
    assert rt.eval("back(b) === b") is True


def test_hidden_ref_is_not_enumerable_or_writable(rt: JSRuntime) -> None:
    rt.set_global("engine", Engine("echo"))
    result = rt.eval(
        """
        'use strict';
        const desc = Object.getOwnPropertyDescriptor(engine, '__geppetto_ref');
        let writeFailed = false;
        try { engine.__geppetto_ref = 99 } catch (e) { writeFailed = e instanceof TypeError }
        const keys = []; for (const k in engine) keys.push(k);
        [Object.keys(engine), JSON.stringify(engine), keys, typeof desc.value,
         desc.enumerable, desc.writable, desc.configurable, writeFailed]
        """
    )
    assert result == [["name"], '{"name":"echo"}', ["name"], "number", False, False, False, True]


def test_forged_ref_is_plain_data(rt: JSRuntime) -> None:
    counter = Counter("real")
    seen: list[Any] = []
    rt.set_global("counter", counter)
    rt.set_global("take", lambda v: seen.append(v))
    rt.eval("take({__geppetto_ref: counter.__geppetto_ref}); take(counter)")
    assert isinstance(seen[0], dict)
    assert seen[1] is counter


def test_js_class_prototype_from_a_js_module(rt: JSRuntime) -> None:
    rt.register_function("makeEngine", lambda name: Engine(name))
    rt.define_js_module(
        "engines",
        """
        host.setPrototype('Engine', { describe() { return 'engine:' + this.name } });
        exports.make = host.fn('makeEngine');
        exports.isEngine = (v) => host.isHostObject(v);
        """,
    )
    assert rt.eval(
        "const m = require('engines'); const e = m.make('echo');[e.describe(), m.isEngine(e), m.isEngine({})]"
    ) == [
        "engine:echo",
        True,
        False,
    ]


def test_host_functions_keep_identity(rt: JSRuntime) -> None:
    def next_fn(x: int) -> int:
        return x + 1

    received: list[Any] = []
    rt.set_global("give", lambda: next_fn)
    rt.set_global("take", lambda fn: received.append(fn))
    assert rt.eval("give() === give() && give()(41) === 42") is True
    rt.eval("take(give())")
    assert received == [next_fn]


def test_js_functions_become_stable_callbacks(rt: JSRuntime) -> None:
    received: list[Any] = []
    rt.set_global("take", lambda fn: received.append(fn))
    rt.eval("var f = (x) => x * 3; take(f); take(f); take((x) => x)")
    assert isinstance(received[0], JSCallback)
    assert received[0] is received[1]
    assert received[2] is not received[0]
    assert received[0](5) == 15
    rt.set_global("same", lambda cb: cb)
    assert rt.eval("same(f) === f") is True


def test_dropped_callbacks_are_released_on_both_sides(rt: JSRuntime) -> None:
    kept: list[Any] = []
    rt.set_global("take", lambda fn: kept.append(fn))
    rt.eval("for (let i = 0; i < 50; i++) take((x) => x + i)")
    assert rt.debug_stats()["callbacks"] == 50
    kept.clear()
    gc.collect()
    assert rt.debug_stats()["callbacks"] == 0
    released = rt.eval("(() => { const probe = []; for (let i = 0; i < 3; i++) take(() => i); return 1 })()")
    assert released == 1
    assert [cb() for cb in kept] == [0, 1, 2]


def test_wrappers_dropped_by_js_release_host_objects(rt: JSRuntime) -> None:
    rt.set_global("make", lambda i: Counter(f"c{i}"))
    rt.eval("var held = []; for (let i = 0; i < 100; i++) held.push(make(i)); held.length")
    assert rt.debug_stats()["objects"] == 100
    rt.eval("held = null")
    rt.collect_garbage()
    assert rt.debug_stats()["objects"] == 0
    kept = Counter("kept")
    rt.set_global("kept", kept)
    rt.collect_garbage()
    assert rt.debug_stats()["objects"] == 1
    assert rt.eval("kept.inc()") == 1


def test_methods_outside_the_allowlist_are_refused(rt: JSRuntime) -> None:
    counter = Counter("c")
    rt.set_global("counter", counter)
    assert rt.eval("typeof counter.secret") == "undefined"
    hid = rt.eval("require; counter.__geppetto_ref")

    def call_secret() -> Any:
        return rt._codec.method_target(hid, "secret")

    with pytest.raises(TypeError, match="no JS method 'secret'"):
        rt.call_on_owner(call_secret)
    assert rt.call_on_owner(lambda: rt._codec.method_target(hid, "inc"))() == 1


def test_only_arguments_holding_handles_are_revived(rt: JSRuntime) -> None:
    """A plain argument that happens to look like a marker stays data, even beside a real handle."""
    counter = Counter("c")
    seen: list[Any] = []
    rt.set_global("counter", counter)
    rt.set_global("take", lambda *args: seen.append(args) or len(args))
    assert rt.eval("take(counter, {__gh: 1}, [{__gcb: 2}])") == 3
    handle, lookalike, nested = seen[0]
    assert handle is counter
    assert lookalike == {"__gh": 1} and nested == [{"__gcb": 2}]


def test_handles_and_callbacks_anywhere_in_the_arguments_are_revived(rt: JSRuntime) -> None:
    counter = Counter("c")
    seen: list[Any] = []
    rt.set_global("counter", counter)
    rt.set_global("take", lambda *args: seen.append(args) or len(args))
    # Argument 1 nests a handle deep inside; argument 40 (past the 30 mask bits) is a JS function.
    script = "const args = Array(41).fill(0); args[1] = {deep: [{c: counter}]}; args[40] = (x) => x * 2;"
    assert rt.eval(script + " take(...args)") == 41
    args = seen[0]
    assert args[1]["deep"][0]["c"] is counter
    assert isinstance(args[40], JSCallback) and args[40](21) == 42
    assert args[0] == 0 and args[39] == 0
