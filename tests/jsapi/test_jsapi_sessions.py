"""Sessions from JS (spec §1.8, §3, §9): history, run, runAsync, start, cancellation, options."""

from __future__ import annotations

from pathlib import Path

import pytest

from geppetto.store import TurnStore

from .conftest import JSHarness, make_harness

SEED = "({blocks: [g.turns.newUserBlock('hi')]})"


def test_history_getters(js: JSHarness) -> None:
    empty_latest, empty_turns, count, appended, kept, latest, missing, neg, ranges = js.run(
        """
        const s = g.createSession({engine: g.engines.echo()});
        report(s.latest()); report(s.turns()); report(s.turnCount());
        report(s.append({id: 't0', blocks: [g.turns.newUserBlock('a')]}));
        report(s.append({id: 't1', blocks: [], metadata: {session_id: 'other'}}).metadata);
        s.append({id: 't2', blocks: []});
        report(s.latest().id);
        report(s.getTurn(3)); report(s.getTurn(-1));
        report([s.turnsRange().map((t) => t.id), s.turnsRange(1).map((t) => t.id),
          s.turnsRange(-5, 2).map((t) => t.id),
                s.turnsRange(2, 1).map((t) => t.id), s.turnsRange(1, 99).map((t) => t.id), s.getTurn(1).id]);
        """
    )
    assert empty_latest == {"id": "", "blocks": [], "metadata": {}, "data": {}}
    assert empty_turns == [] and count == 0
    assert appended["id"] == "t0" and appended["metadata"]["session_id"]
    assert kept == {"session_id": "other"}  # an existing session_id is kept
    assert latest == "t2"
    assert missing is None and neg is None
    assert ranges == [["t0", "t1", "t2"], ["t1", "t2"], ["t0", "t1"], [], ["t1", "t2"], "t1"]


def test_snapshots_never_alias_history(js: JSHarness) -> None:
    blocks, texts = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{reply: 'original'}})}});
        const out = s.run({SEED});
        out.blocks[1].payload.text = 'changed'; out.blocks.push({{kind: 'user'}});
        const all = s.turns(); all[0].blocks.length = 0;
        const latest = s.latest(); latest.metadata.session_id = 'x';
        s.getTurn(0).blocks.pop();
        report(s.latest().blocks.length);
        report([s.latest().blocks[1].payload.text, s.latest().metadata.session_id === s.id,
          s.latest() !== s.latest()]);
        """
    )
    assert blocks == 2
    assert texts == ["original", True, True]


def test_run_mutates_the_latest_turn_in_place(js: JSHarness) -> None:
    count, out, latest, sid = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo()}});
        const out = s.run({SEED});
        report(s.turnCount()); report(out); report(s.latest()); report(s.id);
        """
    )
    assert count == 1
    assert out == latest
    assert out["id"] and out["metadata"]["session_id"] == sid and out["metadata"]["inference_id"]
    assert [b["kind"] for b in out["blocks"]] == ["user", "llm_text"]


def test_run_without_seed_and_empty_turns(js: JSHarness) -> None:
    empty, blank, continued = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo()}});
        try {{ s.run() }} catch (e) {{ report([e.message, e.code]) }}
        try {{ s.run({{blocks: []}}) }} catch (e) {{ report(e.message) }}
        s.append({SEED});
        report(s.run().blocks.length);
        """
    )
    assert empty == ["session has no seed turn (or seed turn is empty)", "session_empty_turn"]
    assert blank == "session has no seed turn (or seed turn is empty)"
    assert continued == 2


def test_run_async_registers_before_returning(js: JSHarness) -> None:
    running, second, count_after_reject, settled_running, out_len, count = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{delayMs: 30}})}});
        const p = s.runAsync({SEED});
        report(s.isRunning());
        const p2 = s.runAsync({{blocks: [g.turns.newUserBlock('rejected seed')]}});
        try {{ await p2 }} catch (e) {{ report([e instanceof Error, e.message, e.code]) }}
        report(s.turnCount());
        const out = await p.then((t) => {{ report(s.isRunning()); return t; }});
        report(out.blocks.length); report(s.turnCount());
        """
    )
    assert running is True
    assert second == [True, "session already has an active inference", "session_already_active"]
    assert count_after_reject == 1  # the rejected call did not append its seed
    assert settled_running is False  # idle by the time the promise settles
    assert (out_len, count) == (2, 1)


def test_sync_run_while_active_is_rejected_without_appending(js: JSHarness) -> None:
    error, count = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{delayMs: 30}})}});
        const p = s.runAsync({SEED});
        try {{ s.run({SEED}) }} catch (e) {{ report(e.message) }}
        report(s.turnCount());
        await p;
        """
    )
    assert error == "session already has an active inference" and count == 1


def test_cancel_active_during_run_async(js: JSHarness) -> None:
    rejected, running, finish, again, idle_error = js.run(
        f"""
        const s = g.createSession({{
          engine: g.engines.echo({{reply: 'one two three four', delayMs: 60000}})}});
        const p = s.runAsync({SEED});
        setTimeout(() => s.cancelActive(), 10);
        try {{ await p }} catch (e) {{ report([e instanceof Error, e.message, e.code]) }}
        report(s.isRunning());
        report(s.latest().metadata.inference_result.finish_class);
        s.append({SEED});
        s.cancelActive === undefined || report(s.turnCount());
        try {{ s.cancelActive() }} catch (e) {{ report([e.message, e.code]) }}
        """,
        timeout=20,
    )
    assert rejected == [True, "inference cancelled", "cancelled"]
    assert running is False
    assert finish == "interrupted"  # the cancelled run's turn stays in history, marked interrupted
    assert again == 2
    assert idle_error == ["session has no active inference", "session_not_active"]


def test_cancel_active_during_sync_run(js: JSHarness) -> None:
    code, usable = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{reply: 'slow', delayMs: 60000}})}});
        setTimeout(() => s.cancelActive(), 10);
        try {{ s.run({SEED}) }} catch (e) {{ report(e.code) }}
        const fast = g.createSession({{engine: g.engines.echo()}});
        report(fast.run({SEED}).blocks.length);
        """,
        timeout=20,
    )
    assert (code, usable) == ("cancelled", 2)


def test_start_events_and_ordering(js: JSHarness) -> None:
    order, partials, payload, running_at_settle = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{reply: 'a b c'}})}});
        const order = [];
        const partials = [];
        let first;
        const h = s.start({SEED});
        h.on('*', (e) => {{ order.push(e.type); first = first || e; }})
          .on(g.consts.EventType.PARTIAL, (e) => partials.push(e));
        let runningAtSettle;
        await h.promise.then(() => {{ order.push('settled'); runningAtSettle = s.isRunning(); }});
        report(order); report(partials.map((e) => [e.delta, e.completion]));
          report(first); report(runningAtSettle);
        """
    )
    assert order == ["start", "partial", "partial", "partial", "final", "settled"]
    assert partials == [["a", "a"], [" b", "a b"], [" c", "a b c"]]
    assert (
        payload["type"] == "start" and payload["sessionId"] and payload["inferenceId"] and payload["turnId"]
    )
    assert isinstance(payload["timestampMs"], int)
    assert running_at_settle is False


def test_start_tool_events(js: JSHarness) -> None:
    events = js.one(
        """
        const r = g.tools.createRegistry().register({name: 't', handler: (a) => ({got: a.n})});
        let calls = 0;
        const model = g.engines.fromFunction((turn) => {
          calls++;
          if (calls === 1) turn.blocks.push(g.turns.newToolCallBlock('c1', 't', {n: 1}));
          else turn.blocks.push(g.turns.newAssistantBlock('done'));
          return turn;
        });
        const s = g.createSession({engine: model, tools: r});
        const seen = [];
        const h = s.start({blocks: [g.turns.newUserBlock('x')]}).on('*', (e) => seen.push(e));
        await h.promise;
        report(seen.filter((e) => e.type.startsWith('tool')));
        """
    )
    assert [e["type"] for e in events] == ["tool-call-execute", "tool-call-execution-result"]
    assert events[0]["toolCall"] == {"id": "c1", "name": "t", "input": '{"n":1}'}
    assert events[1]["toolResult"] == {"id": "c1", "result": '{"got":1}'}


def test_start_cancel_and_reuse(js: JSHarness) -> None:
    code, types, idle, done_cancel, rejected, count = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{reply: 'x y', delayMs: 60000}})}});
        const types = [];
        const h = s.start({SEED}).on('*', (e) => types.push(e.type));
        setTimeout(() => h.cancel(), 10);
        try {{ await h.promise }} catch (e) {{ report(e.code) }}
        report(types); report(s.isRunning());
        const quick = g.createSession({{engine: g.engines.echo()}});
        const q = quick.start({SEED});
        await q.promise;
        report(q.cancel() === q);
        const busy = g.createSession({{engine: g.engines.echo({{delayMs: 20}})}});
        const first = busy.start({SEED});
        const second = busy.start({SEED});
        try {{ await second.promise }} catch (e) {{ report(e.message) }}
        await first.promise;
        report(busy.turnCount());
        """,
        timeout=20,
    )
    assert code == "cancelled"
    assert types[0] == "start" and types[-1] == "interrupt"
    assert idle is False and done_cancel is True
    assert rejected == "session already has an active inference"
    assert count == 1


def test_run_options(js: JSHarness) -> None:
    timeout, tags, negative, bad_tags = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{delayMs: 60000}})}});
        try {{ await s.runAsync({SEED}, {{timeoutMs: 20}}) }} catch (e) {{ report([e.message, e.code]) }}
        let seen;
        const t = g.createSession({{engine: g.engines.echo(),
          middlewares: [(turn, next, ctx) => {{ seen = ctx.tags; return next(); }}]}});
        t.run({SEED}, {{tags: {{a: 1}}, timeoutMs: 5000}});
        report(seen);
        try {{ t.run({SEED}, {{timeoutMs: -1}}) }} catch (e) {{ report([e.name, e.message]) }}
        try {{ t.runAsync({SEED}, {{tags: 'x'}}) }} catch (e) {{ report([e.name, e.message]) }}
        """,
        timeout=20,
    )
    assert timeout == ["inference timed out after 20ms (timeoutMs)", "timeout"]
    assert tags == {"a": 1}
    assert negative == ["TypeError", "run: timeoutMs must be >= 0"]
    assert bad_tags == ["TypeError", "runAsync: tags must be an object"]


def test_parallel_run_async_overlaps(js: JSHarness) -> None:
    order, results = js.run(
        """
        const order = [];
        const sessions = Array.from({length: 20}, () =>
          g.createSession({engine: g.engines.echo({reply: 'x', delayMs: 200})}));
        const runs = sessions.map((s, i) => {
          const h = s.start({blocks: [g.turns.newUserBlock('q' + i)]});
          h.on('start', () => order.push('start')).on('final', () => order.push('final'));
          return h.promise;
        });
        const outs = await Promise.all(runs);
        report(order); report(outs.map((t) => t.blocks[0].payload.text));
        """,
        timeout=30,
    )
    assert order.count("start") == order.count("final") == 20
    assert order.index("final") > max(
        i for i, kind in enumerate(order) if kind == "start"
    )  # all started first
    assert results == [f"q{i}" for i in range(20)]


def test_parallel_plain_run_async(js: JSHarness) -> None:
    running = js.one(
        """
        const sessions = Array.from({length: 20}, () =>
          g.createSession({engine: g.engines.echo({delayMs: 100})}));
        const ps = sessions.map((s) => s.runAsync({blocks: [g.turns.newUserBlock('x')]}));
        const runningNow = sessions.filter((s) => s.isRunning()).length;
        await Promise.all(ps);
        report([runningNow, sessions.filter((s) => s.isRunning()).length]);
        """
    )
    assert running == [20, 0]


def test_run_inference(js: JSHarness) -> None:
    out, override, arity, bad_turn = js.run(
        f"""
        report(g.runInference(g.engines.echo({{reply: 'r'}}), {SEED}).blocks.map((b) => b.payload.text));
        report(g.runInference(null, {SEED},
          {{engine: g.engines.echo({{reply: 'opts wins'}})}}).blocks[1].payload.text);
        try {{ g.runInference(g.engines.echo()) }} catch (e) {{ report([e.name, e.message]) }}
        try {{ g.runInference(g.engines.echo(), 'x') }} catch (e) {{ report([e.name, e.message]) }}
        """
    )
    assert out == ["hi", "r"]
    assert override == "opts wins"
    assert arity == ["TypeError", "runInference requires (engine, turn[, options])"]
    assert bad_turn == ["TypeError", "runInference: turn must be an object"]


@pytest.mark.parametrize(
    ("call", "name", "message"),
    [
        ("g.createSession()", "TypeError", "createSession requires options object with engine"),
        ("g.createSession(5)", "TypeError", "options must be an object"),
        ("g.createSession({})", "Error", "builder has no engine configured"),
        ("g.createBuilder().buildSession()", "Error", "builder has no engine configured"),
        ("g.createBuilder().withEngine()", "TypeError", "withEngine requires engine argument"),
        ("g.createBuilder(3)", "TypeError", "createBuilder: options must be an object"),
        (
            "g.createSession({engine: g.engines.echo(), tools: {}})",
            "Error",
            "expected tool registry reference",
        ),
        (
            "g.createSession({engine: g.engines.echo()}).append()",
            "TypeError",
            "append requires a turn object",
        ),
        ("g.createSession({engine: g.engines.echo()}).getTurn()", "TypeError", "getTurn requires index"),
        (
            "g.createSession({engine: g.engines.echo()}).getTurn('1')",
            "TypeError",
            "getTurn: index must be a number",
        ),
        (
            "g.createSession({engine: g.engines.echo()}).run(5)",
            "TypeError",
            "run: seed must be a turn object",
        ),
        (
            "g.createSession({engine: g.engines.echo()}).start({blocks: [{kind: 'user'}]}).on('x')",
            "TypeError",
            "on requires a listener function",
        ),
        (
            "g.createSession({engine: g.engines.echo()}).turnsRange('a')",
            "TypeError",
            "turnsRange: start must be a number",
        ),
        (
            "g.createSession({engine: g.engines.echo(), sessionId: ''})",
            "TypeError",
            "createSession: sessionId must be a non-empty string",
        ),
        ("g.createSession({engine: g.engines.echo(), store: true})", "Error", "no turn store configured"),
        (
            "(0, g.createSession({engine: g.engines.echo()}).turns)()",
            "TypeError",
            "Session.turns called on something that is not a Session",
        ),
    ],
)
def test_session_argument_errors(js: JSHarness, call: str, name: str, message: str) -> None:
    result = js.one(f"try {{ {call}; report('no error') }} catch (e) {{ report([e.name, e.message]) }}")
    if result != "no error" and result[1] != message:
        pytest.fail(f"{call}: {result}")
    assert result == [name, message]


def test_builder_snapshots_are_independent(js: JSHarness) -> None:
    first, second = js.run(
        f"""
        const b = g.createBuilder().withEngine(g.engines.echo({{reply: 'one'}}));
        const s1 = b.buildSession();
        b.withEngine(g.engines.echo({{reply: 'two'}}));
        const s2 = b.buildSession();
        report(s1.run({SEED}).blocks[1].payload.text); report(s2.run({SEED}).blocks[1].payload.text);
        """
    )
    assert (first, second) == ("one", "two")


def test_store_options(tmp_path: Path) -> None:
    store = TurnStore(tmp_path / "turns.db")
    runtime, harness = make_harness(store=store)
    try:
        stored_id, resumed, resumed_latest, forked = harness.run(
            f"""
            const s = g.createSession({{engine: g.engines.echo(), sessionId: 'js-session', store: true}});
            s.run({SEED}); s.run({{blocks: [g.turns.newUserBlock('again')]}});
            report(s.id);
            const r = g.createSession({{engine: g.engines.echo(),
              sessionId: 'js-session', resumeLatest: true}});
            report([r.id, r.turnCount()]);
            const latest = g.createSession({{engine: g.engines.echo(), resumeLatest: true}});
            report([latest.id, latest.turnCount()]);
            const f = g.createSession({{engine: g.engines.echo(), fork: {{sessionId: 'js-session', at: 0}}}});
            report([f.id !== 'js-session', f.turnCount()]);
            """
        )
    finally:
        runtime.close()
        store.close()
    assert stored_id == "js-session"
    assert resumed == ["js-session", 2]
    assert resumed_latest == ["js-session", 2]
    assert forked == [True, 1]
