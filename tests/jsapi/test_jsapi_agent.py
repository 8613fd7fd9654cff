"""``agent()`` -> sessions -> turn builders -> RunResult, from the reference's Go tests
(api_session_test.go, api_agent_sync_test.go, module_hardcut_test.go)."""

from __future__ import annotations

import json

import pytest

from geppetto.js import JSScriptError

# The reference's sessionEchoEngine as a JS function engine: it replies with the user and
# assistant texts it saw.
ECHO_HISTORY = """
const historyEngine = g.engines.fromFunction((turn) => {
  const users = [], assistants = [];
  for (const b of turn.blocks) {
    if (b.kind === 'user') users.push(b.payload.text);
    if (b.kind === 'llm_text') assistants.push(b.payload.text);
  }
  const text = 'users=' + users.join(',') + ' assistants=' + assistants.join(',');
  turn.blocks.push({kind: 'llm_text', payload: {text}});
  return turn;
});
"""


def test_agent_exports_and_has_no_run_ask_system(js) -> None:
    out = js.one(
        """
        const agent = g.agent().name('a1').engine(g.engines.echo()).build();
        const own = (k) => Object.prototype.hasOwnProperty.call(agent, k);
        report({name: agent.name, session: typeof agent.session, run: own('run'), ask: own('ask'),
                system: own('system'), runAsync: own('runAsync'), exported: typeof g.agent});
        """
    )
    assert out == {
        "name": "a1", "session": "function", "run": False, "ask": False, "system": False,
        "runAsync": False, "exported": "function",
    }  # fmt: skip


def test_build_without_engine_is_the_reference_error(js) -> None:
    message = r"agent build requires engine\(\.\.\.\) or inference\(settings\)"
    with pytest.raises(JSScriptError, match=message):
        js.run("g.agent().name('x').build();")


def test_multiturn_session_keeps_history(js) -> None:
    got = js.one(
        ECHO_HISTORY
        + """
        const agent = g.agent().engine(historyEngine).build();
        const session = agent.session().id('chat-a').build();
        const r1 = session.next().system('be terse').user('one').run();
        const firstId = r1.outputTurn().toJSON().id;
        const r2 = session.next().user('two').run();
        const second = r2.outputTurn().toJSON();
        report(JSON.stringify({
          id: session.id(),
          turnCount: session.turnCount(),
          latestText: r2.text(),
          firstIdPreserved: session.turn(0).toJSON().id === firstId,
          newTurnId: second.id !== firstId && second.id.length > 0,
          inputBlocks: r2.inputTurn().toJSON().blocks.length,
        }));
        """
    )
    assert got == (
        '{"id":"chat-a","turnCount":2,"latestText":"users=one assistants=\\nusers=one,two '
        'assistants=users=one assistants=","firstIdPreserved":true,"newTurnId":true,"inputBlocks":4}'
    )


def test_base_and_fork(js) -> None:
    got = js.one(
        ECHO_HISTORY
        + """
        const agent = g.agent().engine(historyEngine).build();
        const main = agent.session().id('main').build();
        const r1 = main.next().user('root').run();
        const baseId = r1.outputTurn().toJSON().id;
        const fork = main.fork().id('fork').build();
        const imported = fork.latestTurn().toJSON();
        const r2 = fork.next().user('branch').run();
        report(JSON.stringify({
          mainTurns: main.turnCount(),
          forkTurns: fork.turnCount(),
          importedBaseIdPreserved: imported.id === baseId,
          forkSessionId: fork.id(),
          latestText: r2.text(),
          forkNewTurnId: r2.outputTurn().toJSON().id !== baseId,
          forkMeta: [imported.metadata['geppetto.forkedFromSource@v1'],
                     imported.metadata['geppetto.forkedFromSessionID@v1'],
                     imported.metadata['geppetto.forkedFromTurnID@v1'] === baseId,
                     typeof imported.metadata['geppetto.forkedAtMs@v1']],
        }));
        """
    )
    assert json.loads(got) == {
        "mainTurns": 1,
        "forkTurns": 2,
        "importedBaseIdPreserved": True,
        "forkSessionId": "fork",
        "latestText": "users=root assistants=\nusers=root,branch assistants=users=root assistants=",
        "forkNewTurnId": True,
        "forkMeta": ["fork", "main", True, "number"],
    }


def test_fork_at_turn_wrapper_and_index(js) -> None:
    got = js.one(
        ECHO_HISTORY
        + """
        const agent = g.agent().engine(historyEngine).build();
        const main = agent.session().id('main-at').build();
        main.next().user('first').run();
        main.next().user('second').run();
        const firstTurn = main.turn(0);
        const fork = main.fork({ at: firstTurn }).id('fork-at').build();
        const result = fork.next().user('branch').run();
        const byIndex = main.fork({ at: 1 }).build();
        report(JSON.stringify({
          forkTurns: fork.turnCount(),
          importedBaseIdPreserved: fork.turn(0).toJSON().id === firstTurn.toJSON().id,
          latestText: result.text(),
          byIndexBase: byIndex.latestTurn().toJSON().id === main.turn(1).toJSON().id,
          byIndexName: typeof byIndex.id(),
        }));
        """
    )
    assert json.loads(got) == {
        "forkTurns": 2,
        "importedBaseIdPreserved": True,
        "latestText": "users=first assistants=\nusers=first,branch assistants=users=first assistants=",
        "byIndexBase": True,
        "byIndexName": "string",
    }


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("agent.session().build().fork()", "cannot fork an empty session"),
        ("const s = agent.session().build(); s.next().user('x').run(); s.fork({at: 5})",
         "session.fork at index 5 is out of range"),
        ("agent.session().build().fork({at: 'x'})", "session.fork at must be a turn index or TurnWrapper"),
        ("agent.session().build().fork(42)",
         "session.fork options must be an object, TurnWrapper, null, or undefined"),
        ("const s = agent.session().build(); s.close(); s.next()", "session is closed"),
        ("agent.session().build().next().run()", r"session has no seed turn \(or seed turn is empty\)"),
        ("agent.session().build().next().user('x').run({timeoutMs: -1})", "timeoutMs must be >= 0"),
        ("agent.session().resumeLatest().build()", "resumeLatest requires a readable TurnStore"),
        ("agent.session().build().next().user('x').run('nope')", "run options must be an object"),
    ],
)  # fmt: skip
def test_reference_errors(js, script: str, message: str) -> None:
    with pytest.raises(JSScriptError, match=message):
        js.run("const agent = g.agent().engine(g.engines.echo()).build();\n" + script + ";")


def test_run_async_resolves_a_run_result(js) -> None:
    got = js.run(
        ECHO_HISTORY
        + """
        const agent = g.agent().engine(historyEngine).build();
        const session = agent.session().id('async-session').build();
        const handle = session.next().user('async').runAsync();
        report({keys: Object.keys(handle).sort(), on: typeof handle.on, running: session.isRunning()});
        handle.promise.then((result) => {
          report({text: result.text(), turns: session.turnCount(), running: session.isRunning()});
        });
        """
    )
    assert got == [
        {"keys": ["cancel", "close", "promise"], "on": "undefined", "running": True},
        {"text": "users=async assistants=", "turns": 1, "running": False},
    ]


def test_run_async_rejects_with_an_error_object(js) -> None:
    got = js.one(
        """
        const boom = g.engines.fromFunction(() => { throw new Error('engine boom'); });
        const session = g.agent().engine(boom).build().session().id('error-object-test').build();
        session.next().user('fail').runAsync().promise.then(
          () => report('resolved'),
          (err) => report({isError: err instanceof Error, message: err.message}),
        );
        """
    )
    assert got == {"isError": True, "message": "js engine callback: engine boom"}


def test_run_result_shape_and_runtime_metadata(js) -> None:
    got = js.one(
        """
        const agent = g.agent().name('meta-agent').engine(g.engines.echo({reply: 'hi'})).build();
        const session = agent.session().id('m1').name('meta-session').metadata('trace_id', 't-1').build();
        const r = session.next().user('x').metadata('custom', 7).run();
        const json = r.toJSON();
        report({
          keys: Object.keys(json).sort(),
          text: r.text(), jsonText: json.text,
          inputRuntime: r.inputTurn().toJSON().metadata.runtime === undefined,
          effectiveRuntime: r.effectiveTurn().toJSON().metadata.runtime,
          outputTrace: r.outputTurn().toJSON().metadata.trace_id,
          custom: r.outputTurn().toJSON().metadata['geppetto.custom@v1'],
          stop: r.stopReason(), events: r.events(), name: session.name(),
          cloneEqual: JSON.stringify(r.outputTurn().clone().toJSON())
            === JSON.stringify(r.outputTurn().toJSON()),
        });
        """
    )
    assert got == {
        "keys": ["effectiveTurn", "inputTurn", "outputTurn", "text"],
        "text": "hi",
        "jsonText": "hi",
        "inputRuntime": True,
        "effectiveRuntime": {"agentName": "meta-agent", "sessionName": "meta-session"},
        "outputTrace": "t-1",
        "custom": 7,
        "stop": "stop",
        "events": [],
        "name": "meta-session",
        "cloneEqual": True,
    }


def test_turn_builder_is_immutable(js) -> None:
    got = js.one(
        """
        const session = g.agent().engine(g.engines.echo()).build().session().build();
        const base = session.next().system('sys');
        const a = base.user('a');
        const b = base.user('b');
        const ra = a.run();
        const rb = session.next().user('c').run();
        report({
          a: ra.inputTurn().toJSON().blocks.map((x) => x.payload.text),
          bRunnable: typeof b.run,
          c: rb.inputTurn().toJSON().blocks.map((x) => x.payload.text),
        });
        """
    )
    assert got == {"a": ["sys", "a"], "bRunnable": "function", "c": ["sys", "a", "READY", "c"]}


def test_multimodal_user_message(js, tmp_path) -> None:
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n")
    got = js.one(
        f"""
        const session = g.agent().engine(g.engines.echo()).build().session().build();
        const b = session.next().user((m) => m.text('What is this?').text('and this?')
          .imageURL('https://example.invalid/a.png', {{detail: 'low'}})
          .imageFile({json.dumps(str(png))})
          .imageBytes('AAAA')
          .imageBytes('BBBB', 'image/gif'));
        const r = b.run();
        report(r.inputTurn().toJSON().blocks[0].payload);
        """
    )
    assert got == {
        "text": "What is this?\nand this?",
        "images": [
            {"url": "https://example.invalid/a.png", "detail": "low"},
            {"media_type": "image/png", "content": "iVBORw0K"},
            {"media_type": "application/octet-stream", "content": "AAAA"},
            {"media_type": "image/gif", "content": "BBBB"},
        ],
    }


def test_tags_reach_middleware_and_run_defaults_merge(js) -> None:
    got = js.one(
        """
        const seen = [];
        const agent = g.agent().engine(g.engines.echo())
          .middleware((turn, next, ctx) => { seen.push(ctx.tags); return next(turn); })
          .runDefaults({tags: {a: 1, b: 1}}).build();
        const session = agent.session().runDefaults({tags: {b: 2}}).build();
        session.next().user('x').run({tags: {c: 3}});
        report(seen);
        """
    )
    assert got == [{"a": 1, "b": 2, "c": 3}]


def test_timeout_cancels_the_run(js) -> None:
    got = js.one(
        """
        const session = g.agent().engine(g.engines.echo({delayMs: 2000})).build().session().build();
        try { session.next().user('x').run({timeoutMs: 20}); report('no error'); }
        catch (e) { report({message: e.message, code: e.code, running: session.isRunning()}); }
        """
    )
    expected = {"message": "inference timed out after 20ms (timeoutMs)", "code": "timeout", "running": False}
    assert got == expected


def test_dts_declares_the_agent_objects_as_they_are(js) -> None:
    from .test_jsapi_dts import declared_exports, interface_members

    real = js.one(
        """
        const names = (o) => [...new Set([...Object.keys(o),
          ...Object.getOwnPropertyNames(Object.getPrototypeOf(o))])].filter((k) => k !== 'constructor');
        const builder = g.agent();
        const agent = builder.engine(g.engines.echo()).build();
        const sb = agent.session();
        const session = sb.build();
        const tb = session.next();
        let message;
        tb.user((m) => { message = m; return m; });
        const result = tb.user('x').run();
        const handle = session.next().user('y').runAsync();
        report({AgentBuilder: names(builder), Agent: names(agent), SessionBuilder: names(sb),
                AgentSession: names(session), SessionTurnBuilder: names(tb), MessageBuilder: names(message),
                RunResult: names(result), AgentAsyncHandle: Object.keys(handle)});
        """
    )
    assert "agent" in declared_exports()
    for name, members in real.items():
        assert interface_members(name) == set(members), name


# The reference's synchronousToolCallingEngine: first call asks for tool "X", then says "done".
TOOL_CALLER = """
let engineCalls = 0;
const toolCaller = (tool) => g.engines.fromFunction((turn) => {
  engineCalls++;
  if (engineCalls === 1) {
    turn.blocks.push({kind: 'tool_call', payload: {id: 'call-1', name: tool, args: {text: 'hello'}}});
  } else {
    turn.blocks.push({kind: 'llm_text', payload: {text: 'done'}});
  }
  return turn;
});
"""


def test_go_tool_uses_the_host_registry(js) -> None:
    got = js.one(
        TOOL_CALLER
        + """
        const agent = g.agent().engine(toolCaller('go_double')).goTool('go_double')
          .toolLoop({ maxIterations: 3 }).build();
        const session = agent.session().id('go-tool-test').build();
        const result = session.next().user('please call echo').run({ timeoutMs: 5000 });
        const uses = result.outputTurn().toJSON().blocks.filter((b) => b.kind === 'tool_use');
        report({text: result.text(), uses: uses.length});
        """.replace("{text: 'hello'}", "{n: 21}")
    )
    assert got == {"text": "done", "uses": 1}


def test_js_tool_registry_runs_on_the_owner_without_deadlock(js) -> None:
    got = js.one(
        TOOL_CALLER
        + """
        let toolCalls = 0, toolCtxName = null;
        const registry = g.tools.createRegistry().register({
          name: 'echo', description: 'Echo input text', parameters: {type: 'object'},
          handler: (args, ctx) => { toolCalls++; toolCtxName = ctx.toolName; return {echoed: args.text}; },
        });
        const agent = g.agent().engine(toolCaller('echo')).tool(registry).toolLoop({ maxIterations: 3 })
          .build();
        const result = agent.session().id('sync-tool-test').build().next().user('please call echo')
          .run({ timeoutMs: 5000 });
        report({toolCalls, toolCtxName, finalText: result.text()});
        """
    )
    assert got == {"toolCalls": 1, "toolCtxName": "echo", "finalText": "done"}


def test_tool_loop_hooks_in_run_async(js) -> None:
    got = js.one(
        TOOL_CALLER
        + """
        const seen = [];
        const registry = g.tools.createRegistry().register({
          name: 'echo', description: 'Echo', handler: (args) => ({echoed: args.text}),
        });
        const agent = g.agent().engine(toolCaller('echo')).tool(registry)
          .toolLoop({maxIterations: 3, hooks: {beforeToolCall: (p) => { seen.push(p.call.name); }}}).build();
        const handle = agent.session().build().next().user('x').runAsync();
        handle.promise.then((r) => report({seen, text: r.text()}));
        """
    )
    assert got == {"seen": ["echo"], "text": "done"}


def test_unknown_go_tool_is_the_reference_error(js) -> None:
    with pytest.raises(JSScriptError, match='resolved runtime tool "nope" not present in registry'):
        js.run("g.agent().engine(g.engines.echo()).goTool('nope').build().session().build();")
    with pytest.raises(JSScriptError, match=r"agent\(\)\.goTool name must not be empty"):
        js.run("g.agent().goTool('  ');")


WORKSPACE_REGISTRY = """\
slug: workspace
profiles:
  default:
    slug: default
    inference_settings:
      api:
        api_keys:
          openai-api-key: test-key
      chat:
        api_type: openai
        engine: gpt-4o-mini
  assistant:
    slug: assistant
    stack:
      - profile_slug: default
    inference_settings:
      chat:
        engine: gpt-5-mini
  offline:
    slug: offline
    inference_settings:
      chat: {api_type: echo, engine: echo}
"""


def test_agent_from_a_registry_profile(js, tmp_path) -> None:
    """The reference's TestAgentSessionBuildFromProfileWithAPISettings, plus a run on an echo profile."""
    path = tmp_path / "profiles.yaml"
    path.write_text(WORKSPACE_REGISTRY)
    js.runtime.set_global("profilePath", str(path))
    smoke, agent, text = js.run(
        """
        const registry = g.inferenceProfiles.load(profilePath);
        const settings = registry.resolve('assistant');
        const snapshot = settings.toJSON();
        const agent = g.agent().name('missing-api-settings-smoke').inference(settings).build();
        const session = agent.session().id('missing-api-settings-session').build();
        report({
          profile: snapshot.provenance.profileSlug, registry: snapshot.provenance.registrySlug,
          model: snapshot.chat.engine, apiType: snapshot.chat.api_type,
          session: session.id(), hasSessionNext: typeof session.next === 'function',
        });
        report(agent);
        const offline = g.agent().inference(registry.resolve('offline')).build().session().build();
        report(offline.next().user('ping').run().text());
        """
    )
    assert smoke == {
        "profile": "assistant", "registry": "workspace", "model": "gpt-5-mini", "apiType": "openai",
        "session": "missing-api-settings-session", "hasSessionNext": True,
    }  # fmt: skip
    engine = agent.agent.engine
    assert engine.name == "inferenceSettings"
    assert engine.metadata["profileSlug"] == "assistant"
    assert engine.settings.resolved.settings.chat.engine == "gpt-5-mini"
    assert text == "READY"


def test_inference_rejects_plain_objects(js) -> None:
    message = r"agent\(\)\.inference requires a registry-resolved InferenceSettings wrapper"
    with pytest.raises(JSScriptError, match=message):
        js.run("g.agent().inference({chat: {engine: 'x'}});")


def test_run_async_rejects_a_run_that_cannot_start_and_throws_on_bad_options(js) -> None:
    got = js.one(
        """
        const session = g.agent().engine(g.engines.echo()).build().session().build();
        let thrown = null;
        try { session.next().user('x').runAsync({timeoutMs: -1}); } catch (e) { thrown = e.message; }
        const builder = session.next();
        session.close();
        builder.user('x').runAsync().promise.catch((e) => report({thrown, rejected: e.message}));
        """
    )
    assert got == {"thrown": "timeoutMs must be >= 0", "rejected": "session is closed"}


def test_closing_the_runtime_cancels_run_async() -> None:
    """The reference's TestRuntimeCloseCancelsRunAsyncExecutionContext."""
    from geppetto.errors import InferenceCancelled

    from .conftest import make_harness

    runtime, harness = make_harness()
    try:
        harness.runtime.eval(
            "var gg = require('geppetto');"
            "var s = gg.agent().engine(gg.engines.echo({delayMs: 60000})).build().session().build();"
            "var h = s.next().user('block until runtime close').runAsync(); h.promise.catch(() => {}); 1"
        )
        (js_session,) = list(harness.host._sessions)
        handle = js_session.session._active
        assert handle is not None and handle.is_running
    finally:
        runtime.close()
    with pytest.raises(InferenceCancelled):
        handle.wait(10)
    assert not js_session.session.is_running
