"""Tool hooks written in JS (spec §1.10): every action, payload and fail policy."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import JSHarness

# `model(calls)` asks for the calls once, then reports [id, result, error] of every tool_use.
# `flaky(n)` fails its first n attempts. `runWith(hooks, calls, loop)` runs one session.
SETUP = """
const model = (calls) => g.engines.fromFunction((turn) => {
  const used = turn.blocks.filter((b) => b.kind === 'tool_use');
  if (used.length) {
    turn.blocks.push(g.turns.newAssistantBlock(JSON.stringify(
      used.map((b) => [b.payload.id, b.payload.result, b.payload.error]))));
  } else {
    calls.forEach(([id, name, args]) => turn.blocks.push(g.turns.newToolCallBlock(id, name, args)));
  }
  return turn;
});
const executed = [];
let attempts = 0;
const registry = g.tools.createRegistry()
  .register({name: 'echo', handler: (a) => { executed.push(['echo', a]); return a; }})
  .register({name: 'other', handler: (a) => { executed.push(['other', a]); return {other: true}; }})
  .register({name: 'flaky', handler: () => { attempts++; executed.push(['flaky', attempts]);
                                              if (attempts <= 2) throw new Error('fail #' + attempts);
                                              return {attempts}; }});
const runWith = (hooks, calls, loop) => {
  const s = g.createBuilder().withEngine(model(calls || [['c1', 'echo', {x: 1}]]))
    .withTools(registry, Object.assign({retryBackoffMs: 1}, loop || {})).withToolHooks(hooks).buildSession();
  const out = s.run({blocks: [g.turns.newUserBlock('go')]});
  return JSON.parse(out.blocks[out.blocks.length - 1].payload.text);
};
"""


def run(js: JSHarness, body: str) -> list[Any]:
    return js.run(SETUP + body)


def test_payloads(js: JSHarness) -> None:
    before, after, on_error = run(
        js,
        """
        const seen = {};
        runWith({
          beforeToolCall: (p) => { seen[p.phase] = seen[p.phase] || p; },
          afterToolCall: (p) => { seen[p.phase] = seen[p.phase] || p; },
          onToolError: (p) => { seen[p.phase] = seen[p.phase] || p; },
        }, [['c1', 'flaky', {k: 'v'}]], {toolErrorHandling: 'retry'});
        report(seen.beforeToolCall); report(seen.afterToolCall); report(seen.onToolError);
        """,
    )
    assert before["phase"] == "beforeToolCall"
    assert before["call"] == {"id": "c1", "name": "flaky", "args": {"k": "v"}}
    assert isinstance(before["timestampMs"], int) and before["sessionId"] and before["inferenceId"]
    assert after["phase"] == "afterToolCall"
    assert after["result"]["value"] == {"attempts": 3} and after["result"]["error"] == ""
    assert after["result"]["durationMs"] >= 0
    assert on_error["phase"] == "onToolError" and on_error["attempt"] == 0
    assert on_error["error"] == "js tool flaky: fail #1"
    assert on_error["defaultRetry"] is True and on_error["defaultBackoffMs"] == 1
    assert on_error["result"] == {"value": None, "error": "js tool flaky: fail #1"}


@pytest.mark.parametrize(
    ("decision", "error"),
    [
        ("{action: 'abort'}", "aborted by beforeToolCall"),
        ("{action: 'abort', error: 'no way'}", "no way"),
        ("{abort: true}", "aborted by beforeToolCall"),
        ("{abort: true, error: 'stop'}", "stop"),
    ],
)
def test_before_abort(js: JSHarness, decision: str, error: str) -> None:
    results, executed, after_calls = run(
        js,
        f"""
        let afters = 0;
        report(runWith({{beforeToolCall: () => ({decision}), afterToolCall: () => {{ afters++; }}}}));
        report(executed); report(afters);
        """,
    )
    assert results == [["c1", None, error]]
    assert executed == [] and after_calls == 0  # never executed: afterToolCall is not invoked


def test_before_mutations(js: JSHarness) -> None:
    nested, top_level, arguments_win, proceed, junk = run(
        js,
        """
        report(runWith({beforeToolCall: () => ({call: {args: {x: 2}}})}));
        report(runWith({beforeToolCall: () => ({name: 'other', id: 'renamed'})}));
        report(runWith({beforeToolCall: () => ({args: {x: 'args'}, arguments: {x: 'arguments'}})}));
        report(runWith({beforeToolCall: () => undefined}));
        report(runWith({beforeToolCall: () => 42}));
        """,
    )
    assert nested == [["c1", '{"x":2}', ""]]
    assert top_level == [
        ["c1", '{"other":true}', ""]
    ]  # the loop records the result under the model's call id
    assert arguments_win == [["c1", '{"x":"arguments"}', ""]]
    assert proceed == junk == [["c1", '{"x":1}', ""]]


@pytest.mark.parametrize(
    ("policy", "fails_open"),
    [
        ("", False),
        ("failOpen: true,", True),
        ("failOpen: false, hookErrorPolicy: 'fail-open',", False),
        ("hookErrorPolicy: 'fail-open',", True),
        ("hookErrorPolicy: ' OPEN ',", True),
        ("hookErrorPolicy: 'closed',", False),
        ("onHookError: 'open',", True),
        ("onHookError: 'fail-closed', failOpen: true,", True),
    ],
)
def test_fail_policies(js: JSHarness, policy: str, fails_open: bool) -> None:
    before, after, on_error = run(
        js,
        f"""
        const boom = () => {{ throw new Error('hook broke') }};
        report(runWith({{{policy} beforeToolCall: boom}}));
        report(runWith({{{policy} afterToolCall: boom}}));
        report(runWith({{{policy} onToolError: boom}}, [['c1', 'flaky', {{}}]],
          {{toolErrorHandling: 'retry'}}));
        """,
    )
    if fails_open:
        assert before == after == [["c1", '{"x":1}', ""]]
        assert on_error == [["c1", '{"attempts":3}', ""]]  # ignored hook: the default retries apply
    else:
        assert before == [["c1", None, "beforeToolCall hook: hook broke"]]
        assert after == [["c1", '{"x":1}', "afterToolCall hook: hook broke"]]
        assert on_error[0][1] is None and "onToolError hook: hook broke" in on_error[0][2]


def test_thrown_non_errors_fail_closed(js: JSHarness) -> None:
    result = run(js, "report(runWith({beforeToolCall: () => { throw 'plain' }}));")
    assert result == [[["c1", None, "beforeToolCall hook: plain"]]]


def test_after_changes_the_result(js: JSHarness) -> None:
    replaced, errored, aborted, aborted_msg, cleared = run(
        js,
        """
        report(runWith({afterToolCall: () => ({result: {replaced: true}})}));
        report(runWith({afterToolCall: () => ({error: 'changed'})}));
        report(runWith({afterToolCall: () => ({action: 'abort'})}));
        report(runWith({afterToolCall: () => ({abort: true, error: 'vetoed'})}));
        report(runWith({afterToolCall: (p) =>
          (p.result.error ? {error: '', result: 'recovered'} : undefined)},
                       [['c1', 'nope', {}]]));
        """,
    )
    assert replaced == [["c1", '{"replaced":true}', ""]]
    assert errored == [["c1", '{"x":1}', "changed"]]
    assert aborted == [["c1", '{"x":1}', "aborted by afterToolCall"]]
    assert aborted_msg == [["c1", '{"x":1}', "vetoed"]]
    assert cleared == [["c1", None, "tool not found: nope"]]  # unknown tool: afterToolCall never runs


@pytest.mark.parametrize(
    ("decision", "handling", "expected_attempts", "ok"),
    [
        ("({action: 'retry'})", "continue", 3, True),  # hook overrides continue
        ("({retry: true, backoffMs: 0})", "continue", 3, True),
        ("({retry: false})", "retry", 1, False),
        ("({action: 'abort'})", "retry", 1, False),
        ("({action: 'continue'})", "retry", 1, False),
        ("({abort: true})", "retry", 1, False),
        ("undefined", "retry", 3, True),  # default decision: retry up to retryMaxRetries (2)
        ("undefined", "continue", 1, False),
        ("7", "retry", 3, True),  # not an object: the default decision
    ],
)
def test_on_tool_error_decisions(
    js: JSHarness, decision: str, handling: str, expected_attempts: int, ok: bool
) -> None:
    results, attempts = run(
        js,
        f"""
        report(runWith({{onToolError: () => {decision}}}, [['c1', 'flaky', {{}}]],
          {{toolErrorHandling: '{handling}'}}));
        report(attempts);
        """,
    )
    assert attempts == expected_attempts
    if ok:
        assert results == [["c1", '{"attempts":3}', ""]]
    else:
        assert results == [["c1", None, "js tool flaky: fail #1"]]


def test_hook_retries_beyond_retry_max_and_max_hook_retries_bounds_them(js: JSHarness) -> None:
    unbounded, bounded = run(
        js,
        """
        let n = 0;
        registry.register({name: 'never', handler: () => { n++; throw new Error('nope ' + n) }});
        runWith({onToolError: () => ({action: 'retry', backoffMs: 0})}, [['c1', 'never', {}]],
          {retryMaxRetries: 0});
        report(n);
        n = 0;
        runWith({onToolError: () => ({action: 'retry', backoffMs: 0}), maxHookRetries: 3},
          [['c1', 'never', {}]]);
        report(n);
        """,
    )
    assert unbounded == 11  # default maxHookRetries 10: attempts 0..10
    assert bounded == 4


def test_default_retry_without_hooks(js: JSHarness) -> None:
    retried, attempts = run(
        js,
        """
        const s = g.createSession({engine: model([['c1', 'flaky', {}]]), tools: registry,
                                   toolLoop: {toolErrorHandling: 'retry',
                                     retryMaxRetries: 2, retryBackoffMs: 1}});
        const out = s.run({blocks: [g.turns.newUserBlock('go')]});
        report(JSON.parse(out.blocks[out.blocks.length - 1].payload.text)); report(attempts);
        """,
    )
    assert retried == [["c1", '{"attempts":3}', ""]] and attempts == 3


def test_hooks_without_callbacks_are_ignored_and_hooks_in_loop_options(js: JSHarness) -> None:
    ignored, via_loop, via_session = run(
        js,
        """
        report(runWith({failOpen: false, beforeToolCall: 'not a function'}));
        const viaLoop = g.createBuilder().withEngine(model([['c1', 'echo', {x: 1}]]))
          .withTools(registry, {hooks: {beforeToolCall: () => ({abort: true})}}).buildSession();
        const looped = viaLoop.run({blocks: [g.turns.newUserBlock('go')]});
        report(JSON.parse(looped.blocks[looped.blocks.length - 1].payload.text));
        const s = g.createSession({engine: model([['c1', 'echo', {x: 1}]]), tools: registry,
                                   toolHooks: {beforeToolCall: () =>
                                     ({action: 'abort', error: 'session hook'})}});
        const out = s.run({blocks: [g.turns.newUserBlock('go')]});
        report(JSON.parse(out.blocks[out.blocks.length - 1].payload.text));
        """,
    )
    assert ignored == [["c1", '{"x":1}', ""]]
    assert via_loop == [["c1", None, "aborted by beforeToolCall"]]
    assert via_session == [["c1", None, "session hook"]]


def test_hooks_run_on_the_owner_thread_and_may_be_async(js: JSHarness) -> None:
    import threading

    threads: list[str] = []
    js.runtime.set_global("where", lambda: threads.append(threading.current_thread().name))
    result = run(
        js,
        """
        report(runWith({beforeToolCall: async (p) => { where(); await new Promise((r) => setTimeout(r, 2));
                                                       return {args: {x: 'async'}}; },
                        afterToolCall: () => { where(); }}));
        """,
    )
    assert result == [[["c1", '{"x":"async"}', ""]]]
    assert threads == [js.runtime.owner_thread.name] * 2


def test_with_tool_hooks_requires_an_object(js: JSHarness) -> None:
    assert js.one("try { g.createBuilder().withToolHooks() } catch (e) { report([e.name, e.message]) }") == [
        "TypeError",
        "withToolHooks requires hooks object",
    ]
