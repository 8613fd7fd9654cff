"""Bad-input fuzzing of the ``require('geppetto')`` surface from JS (hypothesis).

Hypothesis writes JS source for argument values (numbers at the edges, strings, nested
objects/arrays, null/undefined, symbols, BigInts, functions and getters that throw, proxies that
throw on every trap, cyclic objects and turns) and a JS script calls a public function with them.
Every call must either succeed or throw (or reject with) a catchable ``Error``: never a non-Error
throw, never a crash of the host, never a hang (each script has its own deadline, and the runtime
must answer afterwards).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.jsapi.conftest import JSHarness, make_harness

pytestmark = pytest.mark.timeout(120)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SCRIPT_DEADLINE_S = 10  # per example: a hang fails the example instead of the whole run

# -- JS source for hostile values ----------------------------------------------------------------

numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "-0", "1e308", "Number.MAX_SAFE_INTEGER + 2"]),
)
strings = st.text(max_size=20).map(lambda s: json.dumps(s))
specials = st.sampled_from(
    [
        "null",
        "undefined",
        "true",
        "false",
        "Symbol('s')",
        "10n",
        "new Date(0)",
        "/re/g",
        "new Map([[1, 2]])",
        "new Uint8Array(3)",
        "(() => 1)",
        "(() => { throw new Error('boom') })",
        "(async () => { throw new TypeError('async boom') })",
        "({get blocks() { throw new Error('getter') }, get name() { throw new Error('getter') }})",
        "new Proxy({}, {get() { throw new Error('trap') }, ownKeys() { throw new Error('trap') },"
        " has() { throw new Error('trap') }, getOwnPropertyDescriptor() { throw new Error('trap') }})",
        "(() => { const o = {a: 1}; o.self = o; return o })()",
        "(() => { const a = [1]; a.push(a); return a })()",
        "(() => { const t = {blocks: [{kind: 'user', payload: {text: 'x'}}]};"
        " t.blocks[0].payload.me = t; return t })()",
        "(() => { const t = {blocks: []}; t.blocks.push(t); return t })()",
        "({blocks: [{kind: 'user', payload: {text: 'ok'}}]})",
        "({blocks: [{kind: 'tool_call', payload: {id: 1, name: null, args: undefined}}], metadata: 5})",
        "({name: 'fuzz_tool', description: 'd', parameters: {type: 'object'}, handler: (a) => a})",
        "({engine: g.engines.echo()})",
        "({toString() { throw new Error('toString') }})",
        "Object.create(null)",
        "[undefined, null, , 1]",
    ]
)
keys = st.one_of(
    st.sampled_from(
        ["blocks", "kind", "payload", "metadata", "data", "id", "role", "text", "name", "__proto__"]
    ),
    st.text(max_size=8),
)
values: st.SearchStrategy[str] = st.recursive(
    st.one_of(numbers, strings, specials),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(keys, children, max_size=4).map(
            lambda d: "({" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in d.items()) + "})"
        ),
    ),
    max_leaves=12,
)

# -- the public surface, as calls on two generated values ``a`` and ``b`` ----------------------------

CALLS = [
    "g.turns.normalize(a)",
    "g.turns.newTurn(a)",
    "g.turns.appendBlock(a, b)",
    "g.turns.appendBlock({blocks: []}, a)",
    "g.turns.newUserBlock(a)",
    "g.turns.newSystemBlock(a)",
    "g.turns.newAssistantBlock(a)",
    "g.turns.newToolCallBlock(a, b, a)",
    "g.turns.newToolUseBlock(a, b, a)",
    "g.engines.echo(a)",
    "g.createSession(a)",
    "g.createSession({engine: g.engines.echo(), middlewares: a})",
    "s.append(a)",
    "s.getTurn(a)",
    "s.turnsRange(a, b)",
    "s.run(a, b)",
    "s.run(a)",
    "s.runAsync(a, b)",
    "s.start(a, b).promise",
    "g.tools.createRegistry().register(a)",
    "g.tools.createRegistry().register({name: 'fuzz', description: 'd', handler: a})",
    "g.tools.createRegistry().register({name: a, description: b, handler: (x) => x})",
    "registry.call(a, b)",
    "registry.call('fuzz_echo', a)",
    "registry.call('fuzz_throw', a)",
    "g.middlewares.fromJS(a)",
    "g.middlewares.go(a, b)",
    "g.middlewares.host(a, b)",
    "g.createSession({engine: g.engines.echo(), middlewares: [g.middlewares.fromJS(a)]})"
    ".run({blocks: [g.turns.newUserBlock('x')]})",
]

PROBE = """
const s = g.createSession({engine: g.engines.echo()});
const registry = g.tools.createRegistry();
registry.register({name: 'fuzz_echo', description: 'echo', handler: (x) => x});
registry.register({name: 'fuzz_throw', description: 'throws',
  handler: () => { throw new Error('tool boom') }});
const describe = (e) => e instanceof Error ? 'error' : 'non-error ' + typeof e + ' ' + String(e);
let outcome;
try {
  const a = (A);
  const b = (B);
  const r = CALL;
  if (r && typeof r.then === 'function') {
    try { await r; outcome = 'ok' } catch (e) { outcome = describe(e) }
  } else {
    outcome = 'ok';
  }
} catch (e) {
  outcome = describe(e);
}
report(outcome);
"""


@pytest.fixture(scope="module")
def js() -> Iterator[JSHarness]:
    runtime, harness = make_harness()
    yield harness
    runtime.close()


@FUZZ
@given(call=st.sampled_from(CALLS), a=values, b=values)
def test_any_argument_succeeds_or_throws_a_catchable_error(js: JSHarness, call: str, a: str, b: str) -> None:
    source = PROBE.replace("CALL", call).replace("(A)", f"({a})").replace("(B)", f"({b})")
    outcome = js.run(source, timeout=SCRIPT_DEADLINE_S)
    assert outcome in (["ok"], ["error"]), (call, a, b, outcome)
    assert js.eval("6 * 7") == 42  # the host still answers


@pytest.mark.parametrize("call", CALLS)
def test_each_call_is_reached_with_a_cyclic_turn(js: JSHarness, call: str) -> None:
    """Every entry point meets a cyclic object at least once, whatever hypothesis draws."""
    cyclic = (
        "(() => { const t = {blocks: [{kind: 'user', payload: {text: 'x'}}]}; t.blocks.push(t); return t })()"
    )
    source = PROBE.replace("CALL", call).replace("(A)", f"({cyclic})").replace("(B)", f"({cyclic})")
    assert js.run(source, timeout=SCRIPT_DEADLINE_S) in (["ok"], ["error"])
