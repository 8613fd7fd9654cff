"""Scripts: timers, console, require, top-level await and the ways a script fails."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

from geppetto.js import JSRuntime, JSScriptError

pytestmark = pytest.mark.timeout(30)


def test_timer_ordering(rt: JSRuntime, console: Any) -> None:
    rt.run_script(
        """
        const log = (s) => console.log(s);
        setTimeout(() => log('t30'), 30);
        setTimeout(() => log('t10-a'), 10);
        setTimeout(() => log('t10-b'), 10);
        setTimeout(() => { log('t0'); Promise.resolve().then(() => log('micro-in-t0')) }, 0);
        setTimeout(() => log('t0-second'), 0);
        const cancelled = setTimeout(() => log('cancelled'), 5);
        clearTimeout(cancelled);
        Promise.resolve().then(() => log('micro'));
        log('sync');
        """
    )
    assert console.texts() == ["sync", "micro", "t0", "micro-in-t0", "t0-second", "t10-a", "t10-b", "t30"]


def test_set_interval_and_clear_interval(rt: JSRuntime, console: Any) -> None:
    rt.run_script(
        """
        let n = 0;
        const id = setInterval((tag) => {
          n++; console.log(tag + n); if (n === 3) clearInterval(id);
        }, 1, 'tick');
        """
    )
    assert console.texts() == ["tick1", "tick2", "tick3"]


def test_timer_argument_errors(rt: JSRuntime) -> None:
    assert rt.eval("try { setTimeout('code', 1) } catch (e) { [e.name, e.message] }") == [
        "TypeError",
        "setTimeout requires a callback function",
    ]


def test_console_levels_go_to_streams() -> None:
    out, err = io.StringIO(), io.StringIO()
    with JSRuntime(stdout=out, stderr=err) as rt:
        rt.run_script(
            """
            console.log('plain', 1, {a: [1, 'x']}, undefined, null);
            console.info('info');
            console.debug('debug');
            console.warn('careful');
            console.error(new TypeError('bad'));
            const cyclic = {name: 'c'}; cyclic.self = cyclic;
            console.log(cyclic, () => 1, 10n);
            """
        )
    lines = out.getvalue().splitlines()
    assert lines[:3] == ['plain 1 {"a":[1,"x"]} undefined null', "info", "debug"]
    assert lines[3] == '{"name":"c","self":"[Circular]"} [Function: anonymous] 10n'
    errors = err.getvalue().splitlines()
    assert errors[0] == "careful"
    assert errors[1] == "TypeError: bad"


def test_console_defaults_to_process_streams(capsys: pytest.CaptureFixture[str]) -> None:
    with JSRuntime() as rt:
        rt.run_script("console.log('to stdout'); console.error('to stderr')")
    captured = capsys.readouterr()
    assert captured.out == "to stdout\n"
    assert captured.err == "to stderr\n"


def test_require_host_modules(rt: JSRuntime) -> None:
    built: list[int] = []

    def build() -> dict[str, Any]:
        built.append(1)
        return {"version": "0.1.0", "double": lambda x: x * 2}

    rt.define_module("geppetto", build)
    rt.register_function("shout", lambda s: s.upper())
    rt.define_js_module(
        "shouty", "exports.shout = host.fn('shout'); exports.direct = (s) => host.call('shout', s);"
    )
    result = rt.eval(
        """
        const g = require('geppetto');
        const s = require('shouty');
        [g.version, g.double(21), g === require('geppetto'),
         s.shout('a'), s.direct('b'), s === require('shouty')]
        """
    )
    assert result == ["0.1.0", 42, True, "A", "B", True]
    assert built == [1]


def test_require_errors_and_missing_ambient_authority(rt: JSRuntime) -> None:
    result = rt.eval(
        """
        const out = [];
        for (const name of ['fs', 'child_process', 'nope', './local.js']) {
          try { require(name); out.push('loaded ' + name) } catch (e) { out.push([e.message, e.code]) }
        }
        out.push([typeof process, typeof fetch, typeof std, typeof os, typeof XMLHttpRequest,
                  typeof __geppetto_host]);
        out
        """
    )
    assert result[:4] == [
        ["Cannot find module 'fs'", "MODULE_NOT_FOUND"],
        ["Cannot find module 'child_process'", "MODULE_NOT_FOUND"],
        ["Cannot find module 'nope'", "MODULE_NOT_FOUND"],
        ["Cannot find module './local.js'", "MODULE_NOT_FOUND"],
    ]
    assert result[4] == ["undefined"] * 6


def test_unregistered_host_function(rt: JSRuntime) -> None:
    rt.define_js_module("m", "exports.f = () => host.call('missing')")
    assert rt.eval("try { require('m').f() } catch (e) { [e.name, e.code] }") == [
        "ReferenceError",
        "host_function_not_found",
    ]


def test_failing_js_module_can_be_required_again(rt: JSRuntime) -> None:
    rt.define_js_module("flaky", "if (!globalThis.ready) throw new Error('not yet'); exports.ok = true;")
    assert rt.eval("try { require('flaky') } catch (e) { e.message }") == "not yet"
    assert rt.eval("globalThis.ready = true; require('flaky').ok") is True


def test_top_level_await_and_return(rt: JSRuntime, console: Any) -> None:
    rt.run_script(
        """#!/usr/bin/env geppetto
        const v = await new Promise((r) => setTimeout(() => r('awaited'), 1));
        console.log(v, typeof module, typeof exports, __filename);
        if (v) return;
        console.log('not reached');
        """,
        "script.js",
    )
    assert console.texts() == ["awaited object object script.js"]


def test_uncaught_exception_fails_the_script(rt: JSRuntime) -> None:
    with pytest.raises(JSScriptError) as info:
        rt.run_script("function fail() { throw new Error('top-level boom') }\nfail()", "bad.js")
    err = info.value
    assert (err.kind, err.name, err.message) == ("uncaughtException", "Error", "top-level boom")
    assert "bad.js:1" in err.stack and "fail" in err.stack
    assert err.format().startswith("Error: top-level boom\n")


def test_uncaught_exception_in_a_timer_fails_and_clears_timers(rt: JSRuntime, console: Any) -> None:
    with pytest.raises(JSScriptError, match="in timer"):
        rt.run_script(
            "setTimeout(() => { throw new Error('in timer') }, 1); setTimeout(() => console.log('late'), 200)"
        )
    rt.run_script("console.log('runtime still usable')")
    assert console.texts() == ["runtime still usable"]


@pytest.mark.parametrize(
    "source",
    [
        "async function f() { throw new Error('floating') }\nf()",
        "Promise.reject(new Error('floating'))",
        "Promise.resolve().then(() => { throw new Error('floating') })",
        "setTimeout(async () => { throw new Error('floating') }, 0)",
    ],
)
def test_unhandled_rejection_fails_the_script(rt: JSRuntime, source: str) -> None:
    assert rt.native_rejection_tracking
    with pytest.raises(JSScriptError) as info:
        rt.run_script(source, "reject.js")
    assert info.value.kind == "unhandledRejection"
    assert info.value.message == "floating"
    assert info.value.format().startswith("Unhandled promise rejection: Error: floating")


def test_rejections_handled_in_the_same_tick_are_fine(rt: JSRuntime, console: Any) -> None:
    rt.run_script(
        """
        const p = Promise.reject(new Error('later'));
        await null;
        p.catch((e) => console.log('handled', e.message));
        try { await Promise.reject(new Error('awaited')) } catch (e) { console.log('caught', e.message) }
        """
    )
    assert console.texts() == ["handled later", "caught awaited"]


def test_rejected_host_promise_nobody_handles_fails_the_script(rt: JSRuntime) -> None:
    def start() -> Any:
        hp = rt.create_promise()
        threading.Thread(target=lambda: hp.reject(ValueError("host side failed"))).start()
        return hp

    rt.set_global("start", start)
    with pytest.raises(JSScriptError, match="host side failed"):
        rt.run_script("start().then((v) => v)")


def test_syntax_error(rt: JSRuntime) -> None:
    with pytest.raises(JSScriptError) as info:
        rt.run_script("const = 1;", "syntax.js")
    assert info.value.kind == "syntaxError"
    assert info.value.name == "SyntaxError"


def test_thrown_non_error_value_fails_with_its_description(rt: JSRuntime) -> None:
    with pytest.raises(JSScriptError) as info:
        rt.run_script("throw {reason: 'custom'}")
    assert info.value.message == '{"reason":"custom"}'


def test_script_waits_for_unsettled_host_promises(rt: JSRuntime, console: Any) -> None:
    release = threading.Event()
    hp = rt.create_promise()
    rt.set_global("pending", lambda: hp)
    rt.set_global("release", release.set)

    def settle_when_released() -> None:
        release.wait(10)
        hp.resolve("settled later")

    threading.Thread(target=settle_when_released).start()
    rt.run_script("pending().then((v) => console.log(v)); setTimeout(release, 5)")
    assert console.texts() == ["settled later"]


def test_a_top_level_await_that_can_never_resume_fails_the_script(rt: JSRuntime) -> None:
    with pytest.raises(JSScriptError) as info:
        rt.run_script("await new Promise(() => {}); console.log('never')", "stuck.js")
    assert info.value.kind == "unsettledAwait"
    assert "top-level await never finished" in info.value.message
    rt.run_script("await new Promise((resolve) => setTimeout(resolve, 1)); 'fine'")  # the runtime goes on


def test_dropped_host_promise_does_not_keep_the_script_alive(rt: JSRuntime) -> None:
    rt.set_global("forgotten", lambda: rt.create_promise())
    rt.run_script("forgotten(); 'done'")
    assert rt.debug_stats()["unsettled"] == 0


def test_listener_errors_fail_the_script(rt: JSRuntime) -> None:
    hp = rt.create_promise()

    def on(cb: Any) -> Any:
        def emit() -> None:
            cb.call_soon({"type": "partial"})
            hp.resolve(None)

        threading.Thread(target=emit).start()
        return hp

    rt.set_global("on", on)
    with pytest.raises(JSScriptError, match="listener broke"):
        rt.run_script("await on((ev) => { throw new Error('listener broke') })")


def test_only_one_script_at_a_time(rt: JSRuntime) -> None:
    started, release = threading.Event(), threading.Event()
    rt.set_global("block", lambda: started.set() or rt.run_blocking(release.wait, 10))
    runner = threading.Thread(target=lambda: rt.run_script("block()"))
    runner.start()
    started.wait(5)
    with pytest.raises(RuntimeError, match="already running"):
        rt.run_script("1")
    release.set()
    runner.join(10)


def test_run_script_returns_the_top_level_return_value(rt: JSRuntime) -> None:
    assert rt.run_script("const x = await Promise.resolve(20); return {x: x + 22, list: [1, 'a']};") == {
        "x": 42,
        "list": [1, "a"],
    }
    assert rt.run_script("1 + 1;") is None  # no return statement
    with pytest.raises(JSScriptError, match="JSON cannot hold"):
        rt.run_script("return () => 1;")
    assert rt.run_script("return 'still usable';") == "still usable"
