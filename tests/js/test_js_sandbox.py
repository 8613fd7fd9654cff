"""Sandbox profile: limits end the evaluation with a clear error and the host keeps running."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from geppetto.errors import ToolError
from geppetto.js import (
    JSRuntime,
    SandboxMemoryError,
    SandboxScriptError,
    SandboxTimeout,
    evaluate_untrusted,
)

pytestmark = pytest.mark.timeout(60)


def test_completion_value_and_logs() -> None:
    result = evaluate_untrusted("console.log('hi', {a: 1}); console.warn('w'); const x = [1, 2]; x.concat(3)")
    assert result.value == [1, 2, 3]
    assert result.logs == [("log", 'hi {"a":1}'), ("warn", "w")]
    assert result.output == 'hi {"a":1}\n[warn] w'


def test_returned_promise_is_awaited_with_timers() -> None:
    result = evaluate_untrusted("new Promise((r) => setTimeout(() => r({done: true}), 5))")
    assert result.value == {"done": True}


def test_runaway_loop_hits_the_deadline_and_the_host_keeps_running(rt: JSRuntime) -> None:
    with pytest.raises(SandboxTimeout) as info:
        evaluate_untrusted("console.log('before'); while (true) {}", deadline_s=0.3)
    assert info.value.code == "js_timeout"
    assert info.value.logs == [("log", "before")]
    assert evaluate_untrusted("6 * 7").value == 42
    assert rt.eval("1 + 1") == 2


def test_runaway_loop_after_await() -> None:
    with pytest.raises(SandboxTimeout):
        evaluate_untrusted("(async () => { await null; for (;;) {} })()", deadline_s=0.3)


def test_endless_timer_chain_hits_the_deadline() -> None:
    with pytest.raises(SandboxTimeout):
        evaluate_untrusted("setInterval(() => {}, 1); new Promise(() => {})", deadline_s=0.2)


@pytest.mark.parametrize(
    "bomb",
    [
        "const a = []; while (true) a.push('x'.repeat(100) + a.length)",
        "(() => { const a = []; while (true) a.push({i: a.length}) })()",
        "new Array(1e8).fill(0).length",
    ],
)
def test_memory_bomb_hits_the_cap_and_the_host_keeps_running(rt: JSRuntime, bomb: str) -> None:
    with pytest.raises(SandboxMemoryError) as info:
        evaluate_untrusted(bomb, memory_limit_bytes=8 << 20, deadline_s=10)
    assert info.value.code == "js_memory_limit"
    assert evaluate_untrusted("'still fine'").value == "still fine"
    assert rt.eval("[1, 2].length") == 2


def test_allowed_functions_are_async_and_json_only() -> None:
    calls: list[tuple[Any, ...]] = []

    def lookup(query: str, limit: int) -> dict[str, Any]:
        calls.append((query, limit, threading.current_thread().name))
        return {"query": query, "hits": list(range(limit))}

    def broken() -> None:
        raise ToolError("lookup service down")

    result = evaluate_untrusted(
        """
        (async () => {
          const r = await lookup('cats', 3);
          let failure;
          try { await broken() } catch (e) { failure = [e instanceof Error, e.message, e.code] }
          return {r, failure, notAllowed: typeof secret};
        })()
        """,
        allowed_functions={"lookup": lookup, "broken": broken},
    )
    assert result.value == {
        "r": {"query": "cats", "hits": [0, 1, 2]},
        "failure": [True, "lookup service down", "tool_error"],
        "notAllowed": "undefined",
    }
    assert calls[0][:2] == ("cats", 3)


def test_no_filesystem_network_or_environment() -> None:
    result = evaluate_untrusted(
        """
        const out = [typeof process, typeof fetch, typeof XMLHttpRequest, typeof std, typeof os,
                     typeof __geppetto_host, typeof Atomics, typeof SharedArrayBuffer];
        try { require('fs') } catch (e) { out.push(e.message) }
        out
        """
    )
    assert result.value == ["undefined"] * 8 + ["Cannot find module 'fs'"]


def test_script_errors_are_reported_with_their_name() -> None:
    with pytest.raises(SandboxScriptError) as info:
        evaluate_untrusted("console.log('partial'); null.boom")
    assert info.value.name == "TypeError"
    assert info.value.logs == [("log", "partial")]
    with pytest.raises(SandboxScriptError, match="rejected"):
        evaluate_untrusted("Promise.reject(new Error('rejected'))")
    with pytest.raises(SandboxScriptError, match="never settle"):
        evaluate_untrusted("new Promise(() => {})")
    with pytest.raises(SandboxScriptError, match="stack size"):
        evaluate_untrusted("function f() { return f() } f()")


def test_uncaught_timer_error_fails_the_evaluation() -> None:
    with pytest.raises(SandboxScriptError, match="in timer"):
        evaluate_untrusted(
            "setTimeout(() => { throw new Error('in timer') }, 0); new Promise((r) => setTimeout(r, 50))"
        )


def test_slow_allowed_function_cannot_outlive_the_deadline() -> None:
    release = threading.Event()
    with pytest.raises(SandboxTimeout):
        evaluate_untrusted("wait()", allowed_functions={"wait": lambda: release.wait(10)}, deadline_s=0.2)
    release.set()


def test_log_volume_is_capped() -> None:
    result = evaluate_untrusted(
        "for (let i = 0; i < 1000; i++) console.log('line ' + i); 'ok'", max_log_chars=100
    )
    assert sum(len(text) for _, text in result.logs) <= 100
    assert result.logs_dropped > 0


@pytest.mark.parametrize("name", ["require", "console", "not-an-identifier", "class"])
def test_invalid_function_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="invalid sandbox function name"):
        evaluate_untrusted("1", allowed_functions={name: lambda: None})


def test_sandbox_inside_a_host_call_and_in_parallel_threads(rt: JSRuntime) -> None:
    """A js_eval tool called from a JS tool handler nests a sandbox on the owner thread."""
    rt.set_global("jsEval", lambda code: evaluate_untrusted(code, deadline_s=5).value)
    assert rt.eval("jsEval('[1, 2, 3].map((x) => x * 2)')") == [2, 4, 6]
    assert rt.eval("try { jsEval('throw new Error(\"inner\")') } catch (e) { [e.message, e.code] }") == [
        "Error: inner",
        "js_eval_error",
    ]

    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(evaluate_untrusted(f"{i} * 10").value))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 10, 20, 30]
