"""``require("events")``: Node's EventEmitter semantics, checked the way scripts use them."""

from __future__ import annotations

from typing import Any

import pytest

from geppetto.js import JSRuntime, JSScriptError
from geppetto.js.events import install_events_module

from .conftest import Console


@pytest.fixture
def ev(rt: JSRuntime) -> JSRuntime:
    install_events_module(rt)
    return rt


def run(rt: JSRuntime, body: str) -> Any:
    """Evaluate ``body`` (which ends in ``return <value>``) with ``EventEmitter`` in scope."""
    return rt.eval("(() => { const EventEmitter = require('events');\n" + body + "\n})()")


def test_module_shape(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter();
        class Sub extends EventEmitter { constructor() { super(); this.x = 1; } }
        function Old() { EventEmitter.call(this); }
        Object.setPrototypeOf(Old.prototype, EventEmitter.prototype);
        const old = new Old(); let seen = 0; old.on('a', () => seen++); old.emit('a');
        return [typeof EventEmitter, EventEmitter.EventEmitter === EventEmitter,
                require('node:events') === EventEmitter, ee instanceof EventEmitter,
                new Sub() instanceof EventEmitter, new Sub().emit('nothing'), seen,
                EventEmitter.defaultMaxListeners, ee.getMaxListeners(), ee.setMaxListeners(3) === ee,
                ee.getMaxListeners(), typeof EventEmitter.errorMonitor];
        """,
    )
    assert got == ["function", True, True, True, True, False, 1, 10, 10, True, 3, "symbol"]


def test_on_once_off_and_emit_return_value(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); const calls = [];
        function persistent(v) { calls.push('on:' + v); }
        function once(v) { calls.push('once:' + v); }
        ee.on('x', persistent); ee.once('x', once);
        const first = ee.emit('x', 1), second = ee.emit('x', 2);
        const before = ee.listenerCount('x');
        ee.off('x', persistent);
        return {first, second, third: ee.emit('x', 3), calls, before, after: ee.listenerCount('x')};
        """,
    )
    assert got == {
        "first": True,
        "second": True,
        "third": False,
        "calls": ["on:1", "once:1", "on:2"],
        "before": 1,
        "after": 0,
    }


def test_listeners_get_the_emitter_as_this_and_all_arguments(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); const out = [];
        ee.on('e', function (...args) { out.push([this === ee, args]); });
        ee.on('e', function (...args) { out.push([this === ee, args.length]); });
        ee.emit('e'); ee.emit('e', 1); ee.emit('e', 1, 2); ee.emit('e', 1, 2, 3, 4);
        ee.once('single', function (a, b, c) { out.push([this === ee, a, b, c]); });
        ee.emit('single', 'a', 'b', 'c');
        return out;
        """,
    )
    assert got == [
        [True, []], [True, 0], [True, [1]], [True, 1], [True, [1, 2]], [True, 2],
        [True, [1, 2, 3, 4]], [True, 4], [True, "a", "b", "c"],
    ]  # fmt: skip


def test_error_event_semantics(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const out = [];
        const ee = new EventEmitter();
        const boom = new Error('boom');
        try { ee.emit('error', boom); } catch (e) { out.push(e === boom); }
        for (const v of ['plain', undefined, {code: 7}]) {
          try { ee.emit('error', v); } catch (e) {
            out.push([e instanceof Error, e.message, e.context === v, e.code]);
          }
        }
        const seen = [];
        ee.on(EventEmitter.errorMonitor, (e) => seen.push('monitor:' + e.message));
        try { ee.emit('error', boom); } catch (e) { seen.push('thrown'); }
        ee.on('error', (e) => seen.push('handled:' + e.message));
        out.push(ee.emit('error', boom), seen);
        try { ee.emit(); } catch (e) { out.push([e.name, e.message]); }
        return out;
        """,
    )
    assert got == [
        True,
        [True, "Unhandled error. ('plain')", True, "ERR_UNHANDLED_ERROR"],
        [True, "Unhandled error. (undefined)", True, "ERR_UNHANDLED_ERROR"],
        [True, 'Unhandled error. ({"code":7})', True, "ERR_UNHANDLED_ERROR"],
        True,
        ["monitor:boom", "thrown", "monitor:boom", "handled:boom"],
        ["TypeError", "event name is required"],
    ]


def test_unhandled_error_fails_the_script(ev: JSRuntime) -> None:
    with pytest.raises(JSScriptError, match="boom"):
        ev.run_script("const E = require('events'); new E().emit('error', new Error('boom'));")


def test_removal_during_emit_and_once_removed_by_original(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); const calls = [];
        const b = () => calls.push('b');
        ee.on('x', () => { calls.push('a'); ee.off('x', b); ee.on('x', () => calls.push('late')); });
        ee.on('x', b);
        ee.emit('x');
        const second = calls.length; ee.emit('x');
        const o = () => calls.push('once');
        ee.once('y', o);
        ee.removeListener('y', o);
        const removedOnce = ee.emit('y');
        let n = 0; const inc = () => n++;
        ee.once('z', inc); ee.once('z', inc); ee.emit('z'); ee.emit('z');
        return {calls, second, removedOnce, n};
        """,
    )
    # b was removed by a during the first emit but still ran for it; "late" starts next emit
    assert got == {"calls": ["a", "b", "a", "late"], "second": 2, "removedOnce": False, "n": 2}


def test_prepend_and_introspection(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); const calls = [];
        const a = () => calls.push('a'), b = () => calls.push('b'), c = () => calls.push('c');
        ee.on('x', a); ee.prependListener('x', b); ee.prependOnceListener('x', c);
        const listenersOriginal = ee.listeners('x')[0] === c;
        const rawWrapped = ee.rawListeners('x')[0] !== c && ee.rawListeners('x')[0].listener === c;
        ee.emit('x'); ee.emit('x');
        const s = Symbol('s'); ee.on(s, a);
        return {calls, listenersOriginal, rawWrapped, count: ee.listenerCount('x'),
                countOf: [ee.listenerCount('x', a), ee.listenerCount('x', c)],
                names: ee.eventNames().map(String), symbolKept: ee.eventNames()[1] === s,
                none: ee.listeners('nope').length};
        """,
    )
    assert got == {
        "calls": ["c", "b", "a", "b", "a"],
        "listenersOriginal": True,
        "rawWrapped": True,
        "count": 2,
        "countOf": [1, 0],
        "names": ["x", "Symbol(s)"],
        "symbolKept": True,
        "none": 0,
    }


def test_meta_events_and_remove_all(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); const meta = [];
        function a() {} function b() {}
        ee.on('newListener', (name, fn) => meta.push('new:' + name + ':' + typeof fn));
        ee.on('removeListener', (name, fn) => meta.push('remove:' + name + ':' + (fn === b)));
        ee.on('alpha', a); ee.once('beta', b); ee.on('beta', a);
        ee.removeListener('beta', b);
        ee.on('gamma', a);
        ee.removeAllListeners('beta');
        const afterOne = ee.eventNames();
        ee.removeAllListeners();
        const quiet = new EventEmitter();
        quiet.on('q', a); quiet.on('r', a); quiet.removeAllListeners('q');
        const quietNames = quiet.eventNames();
        quiet.removeAllListeners();
        return {meta, afterOne, names: ee.eventNames(), quietNames, quietAfter: quiet.eventNames()};
        """,
    )
    assert got == {
        "meta": [
            "new:removeListener:function",
            "new:alpha:function",
            "new:beta:function",
            "new:beta:function",
            "remove:beta:true",
            "new:gamma:function",
            "remove:beta:false",
            "remove:newListener:false",  # removeAllListeners(): in key order, removeListener last
            "remove:alpha:false",
            "remove:gamma:false",
        ],
        "afterOne": ["newListener", "removeListener", "alpha", "gamma"],
        "names": [],
        "quietNames": ["r"],
        "quietAfter": [],
    }


def test_argument_checks_and_max_listener_warning(ev: JSRuntime, console: Console) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); const out = [];
        for (const f of [() => ee.on('x', 5), () => ee.once('x'), () => ee.off('x', null),
                         () => ee.setMaxListeners(-1), () => { EventEmitter.defaultMaxListeners = 'a'; }]) {
          try { f(); out.push('no error'); } catch (e) { out.push([e.name, e.message]); }
        }
        ee.setMaxListeners(2);
        for (let i = 0; i < 4; i++) ee.on('many', () => {});
        return out;
        """,
    )
    assert got == [
        ["TypeError", 'The "listener" argument must be of type Function. Received 5'],
        ["TypeError", 'The "listener" argument must be of type Function. Received undefined'],
        ["TypeError", 'The "listener" argument must be of type Function. Received null'],
        ["RangeError", 'The value of "n" is out of range. It must be a non-negative number. Received -1'],
        [
            "RangeError",
            'The value of "defaultMaxListeners" is out of range. It must be a non-negative number.'
            " Received 'a'",
        ],
    ]
    warnings = [text for text in console.texts() if "MaxListenersExceededWarning" in text]
    assert len(warnings) == 1 and "3 many listeners added" in warnings[0]


def test_static_once_resolves_with_the_arguments(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter();
        const p = EventEmitter.once(ee, 'ready').then((args) => [args, ee.listenerCount('error')]);
        ee.emit('ready', 1, 2);
        const q = EventEmitter.once(ee, 'never').catch((e) => e.message);
        ee.emit('error', new Error('failed'));
        return Promise.all([p, q]);
        """,
    )
    assert got == [[[1, 2], 0], "failed"]


def test_geppetto_module_installs_events() -> None:
    from geppetto.js.module import install_geppetto_module

    with JSRuntime() as runtime:
        install_geppetto_module(runtime)
        assert runtime.eval("typeof require('events').EventEmitter") == "function"


def test_lots_of_emits_reach_the_listener(ev: JSRuntime) -> None:
    got = run(
        ev,
        """
        const ee = new EventEmitter(); let n = 0, text = '';
        ee.on('text-delta', (e) => { n++; text = e.text; });
        for (let i = 0; i < 20000; i++) ee.emit('text-delta', {delta: 'x', text: 'x' + i});
        return [n, text];
        """,
    )
    assert got == [20000, "x19999"]
