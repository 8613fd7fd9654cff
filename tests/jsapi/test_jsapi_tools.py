"""``tools.createRegistry()``, host tools and the tool loop from JS (spec §1.7, §1.8)."""

from __future__ import annotations

import pytest

from .conftest import JSHarness, make_harness

# A scripted model: the first inference asks for CALLS, the next one reports the tool_use blocks.
MODEL = """
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
const SEED = () => ({blocks: [g.turns.newUserBlock('go')]});
const lastText = (t) => JSON.parse(t.blocks[t.blocks.length - 1].payload.text);
"""


def test_register_list_call(js: JSHarness) -> None:
    chained, listing, result, ctx_name, missing, failing, thrown = js.run(
        """
        const r = g.tools.createRegistry();
        report(r.register({name: 'add', description: 'Add',
          handler: (a, ctx) => ({sum: a.x + a.y, tool: ctx.toolName})}) === r);
        r.register({name: 'fail', handler: () => { throw new Error('kaput') }});
        r.register({name: 'str', handler: () => { throw 'a string' }});
        report(r.list());
        const out = r.call('add', {x: 2, y: 3});
        report(out.sum); report(out.tool);
        try { r.call('nope') } catch (e) { report([e.message, e.code]) }
        try { r.call('fail') } catch (e) { report([e.message, e.code]) }
        try { r.call('str') } catch (e) { report(e.message) }
        """
    )
    assert chained is True
    assert listing == [
        {"name": "add", "description": "Add", "version": "", "tags": []},
        {"name": "fail", "description": "", "version": "", "tags": []},
        {"name": "str", "description": "", "version": "", "tags": []},
    ]
    assert (result, ctx_name) == (5, "add")
    assert missing == ["tool not found: nope", "tool_error"]
    assert failing == ["js tool fail: kaput", "tool_error"]
    assert thrown == "js tool str: a string"


def test_register_rules(js: JSHarness) -> None:
    undefined_name, empty, handler, overwritten, params = js.run(
        """
        const r = g.tools.createRegistry();
        r.register({handler: () => 1});
        report(r.list()[0].name);
        try { r.register({name: '', handler: () => 1}) } catch (e) { report([e.name, e.message]) }
        try { r.register({name: 'x', handler: 3}) } catch (e) { report([e.name, e.message]) }
        r.register({name: 'x', handler: () => 1}).register({name: 'x', handler: () => 2});
        report(r.call('x'));
        const schema = {type: 'object', properties: {n: {type: 'number'}}, required: ['n']};
        r.register({name: 'p', parameters: schema,
          handler: (a) => a.n});
        try { r.call('p', {}) } catch (e) { report(e.message) }
        """
    )
    assert undefined_name == "undefined"  # String(undefined), as the reference
    assert empty == ["Error", "tool name is required"]
    assert handler == ["TypeError", "tool x handler must be a function"]
    assert overwritten == 2
    assert "missing required n" in params


def test_async_tool_handlers(js: JSHarness) -> None:
    assert js.one(
        """
        const r = g.tools.createRegistry().register({name: 'slow', handler: async (a) => {
          await new Promise((res) => setTimeout(res, 5)); return {done: a.v};
        }});
        report(r.call('slow', {v: 'yes'}));
        """
    ) == {"done": "yes"}


def test_host_tools(js: JSHarness) -> None:
    names, one, both, value, unknown = js.run(
        """
        report(g.tools.createRegistry().useGoTools().list().map((t) => t.name));
        report(g.tools.createRegistry().useHostTools(['go_concat']).list().map((t) => t.name));
        report(g.tools.createRegistry().useGoTools('go_double').useHostTools('go_concat').list().length);
        report(g.tools.createRegistry().useGoTools(['go_double']).call('go_double', {n: 4}));
        try { g.tools.createRegistry().useGoTools(['missing']) } catch (e) { report(e.message) }
        """
    )
    assert names == ["go_double", "go_concat"]
    assert one == ["go_concat"]
    assert both == 2
    assert value == {"value": 8}
    assert unknown == "tool not found: missing"


def test_no_host_registry() -> None:
    runtime, harness = make_harness()
    try:
        assert harness.one(
            "try { g.tools.createRegistry().useGoTools() } catch (e) { report(e.message) }"
        ) == ("no go tool registry configured")
    finally:
        runtime.close()


def test_tool_loop_runs_js_and_host_tools(js: JSHarness) -> None:
    results, config = js.run(
        MODEL
        + """
        const r = g.tools.createRegistry().useGoTools('go_double')
          .register({name: 'js_upper', handler: (a) => ({up: a.s.toUpperCase()})});
        const s = g.createSession({engine: model([['c1', 'go_double', {n: 21}], ['c2', 'js_upper', {s: 'hi'}],
          ['c3', 'nope', {}]]),
                                   tools: r, toolLoop: {maxParallelTools: 3}});
        const out = s.run(SEED());
        report(lastText(out)); report(out.data.tool_config);
        """
    )
    assert results == [
        ["c1", '{"value":42}', ""],
        ["c2", '{"up":"HI"}', ""],
        ["c3", None, "tool not found: nope"],
    ]
    assert config["max_parallel_tools"] == 3 and config["max_iterations"] == 5


def test_loop_option_defaults(js: JSHarness) -> None:
    given, never = js.run(
        MODEL
        + """
        const r = g.tools.createRegistry().register({name: 't', handler: () => 1});
        const run = (opts) => g.createSession(
          Object.assign({engine: model([['c', 't', {}]]), tools: r}, opts))
          .run(SEED());
        report(run({toolLoop: {}}).data.tool_config);
        report(run({}).data.tool_config);
        """
    )
    assert given["max_parallel_tools"] == 1  # an options object resets to the JS defaults
    assert given["tool_choice"] == "auto" and given["tool_error_handling"] == "continue"
    assert given["retry_config"] == {"max_retries": 2, "backoff_base_ms": 1000, "backoff_factor": 2.0}
    assert never["max_parallel_tools"] == 3  # no options object: the engine-builder defaults


def test_disabled_loop_and_allowed_tools(js: JSHarness) -> None:
    disabled, allowed = js.run(
        MODEL
        + """
        const r = g.tools.createRegistry().register({name: 'a', handler: () => 'A'})
          .register({name: 'b', handler: () => 'B'});
        const off = g.createBuilder().withEngine(model([['c', 'a', {}]])).withTools(r)
          .withToolLoop({enabled: false}).buildSession();
        report(off.run(SEED()).blocks.map((b) => b.kind));
        const only = g.createSession({engine: model([['c1', 'a', {}], ['c2', 'b', {}]]), tools: r,
          toolLoop: {allowedTools: ['a']}});
        report(lastText(only.run(SEED())));
        """
    )
    assert disabled == ["user", "tool_call"]
    assert allowed == [["c1", '"A"', ""], ["c2", None, "tool not allowed: b"]]


def test_max_iterations(js: JSHarness) -> None:
    message = js.one(
        """
        const r = g.tools.createRegistry().register({name: 't', handler: () => 1});
        let n = 0;
        const loop = g.engines.fromFunction((turn) => { n++;
          turn.blocks.push(g.turns.newToolCallBlock('c' + n, 't', {})); return turn; });
        try { g.createSession({engine: loop, tools: r, toolLoop: {maxIterations: 2}})
          .run({blocks: [g.turns.newUserBlock('x')]}) }
        catch (e) { report(e.message) }
        """
    )
    assert "max iterations (2) reached" in message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            "{toolChoice: 'sometimes'}",
            'invalid toolChoice "sometimes", expected one of: auto, none, required',
        ),
        (
            "{toolErrorHandling: 'explode'}",
            'invalid toolErrorHandling "explode", expected one of: continue, abort, retry',
        ),
        ("{maxIterations: 'many'}", "withToolLoop: maxIterations must be a number"),
        ("{allowedTools: 'a'}", "withToolLoop: allowedTools must be an array of tool names"),
        ("{enabled: 'yes'}", "withToolLoop: enabled must be a boolean"),
        ("{hooks: 3}", "withToolLoop: hooks must be an object"),
    ],
)
def test_loop_option_errors(js: JSHarness, options: str, message: str) -> None:
    assert js.one(
        f"try {{ g.createBuilder().withToolLoop({options}); report('no error') }} "
        "catch (e) { report([e.name, e.message]) }"
    ) == ["TypeError", message]


def test_registry_argument_errors(js: JSHarness) -> None:
    results = js.run(
        """
        const r = g.tools.createRegistry();
        for (const f of [() => r.register(), () => r.call(), () => r.useGoTools([1]),
                         () => g.createBuilder().withTools({}), () => g.createBuilder().withTools(),
                         () => r.register.call({}, {name: 'x', handler: () => 1})]) {
          try { f(); report('no error') } catch (e) { report([e.name, e.message]) }
        }
        """
    )
    assert results == [
        ["TypeError", "register requires a tool spec object"],
        ["TypeError", "call requires tool name"],
        ["TypeError", "useGoTools: tool names must be strings"],
        ["Error", "expected tool registry reference"],
        ["TypeError", "withTools requires registry argument"],
        ["TypeError", "ToolRegistry.register called on something that is not a ToolRegistry"],
    ]


def test_tool_handler_context_carries_run_ids_and_tags(js: JSHarness) -> None:
    ctx = js.one(
        MODEL
        + """
        let seen;
        const r = g.tools.createRegistry().register({name: 't', handler: (a, ctx) => {
          seen = ctx; return 1; }});
        g.createSession({engine: model([['c', 't', {}]]), tools: r}).run(SEED(), {tags: {team: 'qa'}});
        report(seen);
        """
    )
    assert ctx["toolName"] == "t" and ctx["sessionId"] and ctx["inferenceId"]
    assert ctx["tags"] == {"team": "qa"}
    assert ctx["callId"] == "c" and ctx["callName"] == "t"
    # The default execution timeout is 30 s: the deadline lies that far after the call started.
    assert 29_000 <= ctx["deadlineMs"] - ctx["timestampMs"] <= 30_000


def test_a_direct_registry_call_is_named_as_such(js: JSHarness) -> None:
    ctx = js.one(
        """
        let seen;
        const r = g.tools.createRegistry().register({name: 't', handler: (a, ctx) => { seen = ctx }});
        r.call('t', {});
        report(seen);
        """
    )
    assert ctx["toolName"] == "t" and ctx["callId"] == "direct-call" and ctx["callName"] == "t"
    assert ctx["deadlineMs"] > ctx["timestampMs"]
