"""The module as a whole: exports, ``consts``, identity of host objects, and bad input of every kind."""

from __future__ import annotations

import pytest

from geppetto.events.types import EventType
from geppetto.js import JSScriptError

from .conftest import JSHarness

EXPORTS = [
    "version",
    "createBuilder",
    "createSession",
    "runInference",
    "turns",
    "engines",
    "middlewares",
    "tools",
    "consts",
    "turnStores",
]


def test_exports(js: JSHarness) -> None:
    keys, version, namespaces, same = js.run(
        """
        report(Object.keys(g)); report(g.version);
        report([Object.keys(g.turns), Object.keys(g.engines),
          Object.keys(g.middlewares), Object.keys(g.tools), Object.keys(g.turnStores)]);
        report(require('geppetto') === g);
        """
    )
    assert keys[: len(EXPORTS)] == EXPORTS  # the seed's exports first, then the reference HEAD's
    head = {"inferenceProfiles", "engine", "agent", "schema", "tool", "toolRegistry"}
    assert head <= set(keys[len(EXPORTS) :])
    assert version == "0.1.0"
    assert namespaces == [
        [
            "normalize",
            "newTurn",
            "appendBlock",
            "newUserBlock",
            "newSystemBlock",
            "newAssistantBlock",
            "newToolCallBlock",
            "newToolUseBlock",
        ],
        ["echo", "fromFunction", "fromProfile", "fromConfig"],
        ["fromJS", "go", "host"],
        ["createRegistry"],
        ["default", "get"],
    ]
    assert same is True


def test_consts(js: JSHarness) -> None:
    consts, frozen = js.run(
        """
        report(g.consts);
        'use strict';
        let writable = true;
        try { g.consts.BlockKind.USER = 'x'; writable = g.consts.BlockKind.USER === 'x'; }
          catch (e) { writable = false; }
        report([Object.isFrozen(g.consts), Object.isFrozen(g.consts.EventType), writable]);
        """
    )
    assert consts["BlockKind"] == {
        "USER": "user",
        "LLM_TEXT": "llm_text",
        "TOOL_CALL": "tool_call",
        "TOOL_USE": "tool_use",
        "SYSTEM": "system",
        "REASONING": "reasoning",
        "OTHER": "other",
    }
    assert set(consts["TurnDataKeys"]) == {
        "TOOL_CONFIG",
        "TOOL_DEFINITIONS",
        "STRUCTURED_OUTPUT_CONFIG",
        "INFERENCE_CONFIG",
        "CLAUDE_INFERENCE_CONFIG",
        "OPENAI_INFERENCE_CONFIG",
        "AGENT_MODE_ALLOWED_TOOLS",
        "AGENT_MODE",
        "RESPONSES_SERVER_TOOLS",
    }
    assert consts["TurnMetadataKeys"]["INFERENCE_RESULT"] == "inference_result"
    assert set(consts["TurnMetadataKeys"]) == {
        "PROVIDER",
        "RUNTIME",
        "SESSION_ID",
        "INFERENCE_ID",
        "TRACE_ID",
        "USAGE",
        "STOP_REASON",
        "MODEL",
        "INFERENCE_RESULT",
    }
    assert set(consts["BlockMetadataKeys"]) == {
        "CLAUDE_ORIGINAL_CONTENT",
        "TOOL_CALLS",
        "MIDDLEWARE",
        "AGENTMODE_TAG",
        "AGENTMODE",
        "INFERENCE_RESULT",
    }
    assert consts["RunMetadataKeys"] == {"TRACE_ID": "trace_id"}
    assert set(consts["PayloadKeys"]) == {
        "TEXT",
        "ID",
        "NAME",
        "ARGS",
        "RESULT",
        "ERROR",
        "IMAGES",
        "ENCRYPTED_CONTENT",
        "SUMMARY",
        "ITEM_ID",
    }
    assert consts["ToolChoice"] == {"AUTO": "auto", "NONE": "none", "REQUIRED": "required"}
    assert consts["ToolErrorHandling"] == {"CONTINUE": "continue", "ABORT": "abort", "RETRY": "retry"}
    assert consts["HookAction"] == {"ABORT": "abort", "RETRY": "retry", "CONTINUE": "continue"}
    assert consts["EventType"] == {event.name: event.value for event in EventType}
    assert {"START", "PARTIAL", "FINAL", "TOOL_CALL", "TOOL_RESULT", "ERROR"} <= set(consts["EventType"])
    assert frozen == [True, True, False]


def test_consts_keys_round_trip_through_the_codec(js: JSHarness) -> None:
    out = js.one(
        """
        const t = {blocks: [], metadata: {}, data: {}};
        for (const k of Object.values(g.consts.TurnMetadataKeys)) t.metadata[k] = 1;
        for (const k of Object.values(g.consts.TurnDataKeys)) t.data[k] = 1;
        const n = g.turns.normalize(t);
        report([Object.keys(n.metadata).sort(), Object.keys(t.metadata).sort(),
          Object.keys(n.data).sort(), Object.keys(t.data).sort()]);
        """
    )
    assert out[0] == out[1] and out[2] == out[3]


def test_host_objects_keep_identity_and_hide_their_reference(js: JSHarness) -> None:
    result = js.one(
        """
        const e = g.engines.echo();
        const s = g.createSession({engine: e});
        const r = g.tools.createRegistry();
        const d = Object.getOwnPropertyDescriptor(s, '__geppetto_ref');
        report([Object.keys(e), Object.keys(s), Object.keys(r), d.enumerable, d.writable, JSON.stringify(e),
                typeof s.run, s.id.length, String(e)]);
        """
    )
    assert result == [["name"], ["id"], [], False, False, '{"name":"echo"}', "function", 36, "[Engine echo]"]


def test_uncaught_errors_fail_the_script_and_the_host_survives(js: JSHarness) -> None:
    with pytest.raises(JSScriptError) as info:
        js.run("g.createSession({engine: g.engines.echo()}).run()")
    assert info.value.message == "session has no seed turn (or seed turn is empty)"
    assert "test.js" in info.value.stack
    with pytest.raises(JSScriptError) as rejected:
        js.run("const s = g.createSession({engine: g.engines.echo()}); s.runAsync();")
    assert rejected.value.kind == "unhandledRejection"
    assert js.one("report(g.runInference(g.engines.echo(), {blocks: [{kind: 'user'}]}).blocks.length)") == 2


def test_throwing_callbacks_never_hang_the_host(js: JSHarness) -> None:
    results = js.run(
        """
        const throwers = [() => { throw new Error('e') }, () => { throw 'str' }, () => { throw null },
                          () => { throw {toString() { throw new Error('nasty') }} },
                            () => Promise.reject(new Error('async'))];
        for (const bad of throwers) {
          const s = g.createSession({engine: g.engines.fromFunction(bad)});
          try { s.run({blocks: [{kind: 'user'}]}); report('no error') }
            catch (e) { report(e instanceof Error && !s.isRunning()) }
          const r = g.tools.createRegistry().register({name: 't', handler: bad});
          try { r.call('t'); report('no error') } catch (e) { report(e.message.startsWith('js tool t:')) }
        }
        """
    )
    assert results == [True] * 10


def test_listener_errors_fail_the_script(js: JSHarness) -> None:
    with pytest.raises(JSScriptError, match="listener broke"):
        js.run(
            """
            const h = g.createSession({engine: g.engines.echo()}).start({blocks: [{kind: 'user'}]});
            h.on('final', () => { throw new Error('listener broke') });
            await h.promise;
            await new Promise((r) => setTimeout(r, 50));
            """
        )


def test_large_ints_and_nested_data_survive(js: JSHarness) -> None:
    out = js.one(
        """
        const s = g.createSession({engine: g.engines.echo()});
        const t = s.run({blocks: [{kind: 'user', payload: {text: 'x', n: 2 ** 40,
          deep: {a: [{b: [1, {c: true}]}]}}}],
                         data: {big: Number.MAX_SAFE_INTEGER}});
        report([t.blocks[0].payload.n, t.blocks[0].payload.deep, t.data['geppetto.big@v1']]);
        """
    )
    assert out == [2**40, {"a": [{"b": [1, {"c": True}]}]}, 2**53 - 1]


def test_lab_globals(js: JSHarness) -> None:
    env, slept, failed = js.run(
        """
        report(ENV.GEPPETTO_TEST);
        let ticks = 0;
        setTimeout(() => ticks++, 1);
        sleep(20);
        report(ticks);
        try { assert(1 === 2, 'math is broken') } catch (e) { report(e.message) }
        assert(true);
        """
    )
    assert env == "1"
    assert slept == 1  # timers kept firing while sleep() blocked the script
    assert failed == "math is broken"


def test_cyclic_and_non_json_values_from_callbacks_are_catchable(js: JSHarness) -> None:
    results = js.run(
        """
        const cyc = () => { const o = {blocks: []}; o.me = o; return o; };
        const s = g.createSession({engine: g.engines.fromFunction(cyc)});
        try { s.run({blocks: [{kind: 'user'}]}) } catch (e) { report(e.message) }
        const r = g.tools.createRegistry().register({name: 'big', handler: () => 10n});
        try { r.call('big') } catch (e) { report(e.message) }
        const mw = g.createSession({engine: g.engines.echo(), middlewares: [(t, next) => next(cyc())]});
        try { mw.run({blocks: [{kind: 'user'}]}) } catch (e) { report(e.message) }
        try { g.createSession({engine: g.engines.echo(), toolLoop: {hooks: cyc()}}) }
        catch (e) { report(e.message) }
        """
    )
    assert results[0] == "js engine callback: TypeError: circular reference"
    assert results[1].startswith("js tool big: TypeError: BigInt")
    assert results[2] == "js-middleware: TypeError: circular reference"
    assert "circular" in results[3]


def test_handles_are_released_after_runs(js: JSHarness) -> None:
    import gc

    js.run(
        """
        for (let i = 0; i < 30; i++) {
          const s = g.createSession({engine: g.engines.echo(), middlewares: [(t, next) => next()]});
          const h = s.start({blocks: [g.turns.newUserBlock('x')]});
          h.on('*', () => {});
          await h.promise;
          await s.runAsync({blocks: [g.turns.newUserBlock('y')]});
        }
        """
    )
    for _ in range(3):
        gc.collect()
        js.runtime.collect_garbage()
    stats = js.runtime.debug_stats()
    assert stats["callbacks"] == 0 and stats["unsettled"] == 0 and stats["js_promises"] == 0
    assert stats["objects"] <= 2  # at most what the harness itself still references
