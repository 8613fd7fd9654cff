"""Turn stores from JS (issue 8, spec §9): persistence of every run outcome, ``resumeLatest``,
``fork``, the ``turnStores`` namespace, and ``geppetto js run --store`` / ``--no-store``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geppetto.store import TurnStore

from .conftest import JSHarness, make_harness
from .test_jsapi_cli import geppetto_js, interrupt_js_run

# ``run(seed)`` appends the seed as the next turn: ``next`` carries the history on, like a chat would
ASK = (
    "const ask = (t) => ({blocks: [g.turns.newUserBlock(t)]});\n"
    "const next = (s, t) => ({blocks: [...s.latest().blocks, g.turns.newUserBlock(t)]});\n"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TurnStore]:
    with TurnStore(tmp_path / "turns.db") as opened:
        yield opened


@pytest.fixture
def sjs(store: TurnStore) -> Iterator[JSHarness]:
    """A harness whose host default store is ``store`` and with a second store named ``other``."""
    other = TurnStore(store.path.with_name("other.db"))
    runtime, harness = make_harness(store=store, turn_stores={"other": other})
    yield harness
    runtime.close()
    other.close()


def _errors(js: JSHarness, calls: list[str]) -> list[Any]:
    body = "".join(
        f"try {{ {c}; report('no error') }} catch (e) {{ report([e.name, e.message]) }}\n" for c in calls
    )
    return js.run(ASK + body)


# -- persistence ---------------------------------------------------------------------------------


def test_completed_failed_and_cancelled_runs_are_persisted(sjs: JSHarness, store: TurnStore) -> None:
    sjs.run(
        ASK
        + """
        const ok = g.createSession({engine: g.engines.echo({reply: 'fine'}), sessionId: 'ok', store: true});
        ok.run(ask('one'));
        await ok.runAsync(next(ok, 'two'));
        const bad = g.createSession({sessionId: 'bad', store: 'default',
          engine: g.engines.fromFunction(() => { throw new Error('engine exploded'); })});
        try { bad.run(ask('boom')); } catch (e) { report(e.message); }
        const slow = g.createSession({engine: g.engines.echo({reply: 'never', delayMs: 600000}),
          sessionId: 'slow', store: g.turnStores.default()});
        const h = slow.start(ask('wait'));
        h.on('start', () => h.cancel());
        try { await h.promise; } catch (e) { report(e.code); }
        """
    )
    ok = store.list_turns("ok", with_turns=True)
    assert [t.outcome for t in ok] == ["completed", "completed"]
    assert ok[1].turn is not None and [b.payload.get("text") for b in ok[1].turn.blocks] == [
        "one",
        "fine",
        "two",
        "fine",
    ]
    [bad] = store.list_turns("bad")
    assert (bad.outcome, bad.error is not None and "engine exploded" in bad.error) == ("failed", True)
    [slow] = store.list_turns("slow")
    assert slow.outcome == "cancelled"


def test_sessions_without_a_store_option_persist_nothing(sjs: JSHarness, store: TurnStore) -> None:
    sjs.run(
        ASK
        + """
        g.createSession({engine: g.engines.echo(), sessionId: 'plain'}).run(ask('x'));
        g.createSession({engine: g.engines.echo(), sessionId: 'off', store: false}).run(ask('x'));
        g.createSession({engine: g.engines.echo(), sessionId: 'nul', store: null}).run(ask('x'));
        g.createBuilder({engine: g.engines.echo(), sessionId: 'b', store: true}).withStore(false)
          .buildSession().run(ask('x'));
        """
    )
    assert store.counts()["turns"] == 0


def test_builder_with_store_and_named_stores(sjs: JSHarness, store: TurnStore) -> None:
    names = sjs.run(
        ASK
        + """
        const b = g.createBuilder({engine: g.engines.echo(), sessionId: 'built'}).withStore();
        b.buildSession().run(ask('to default'));
        const other = g.turnStores.get('other');
        g.createBuilder({engine: g.engines.echo(), sessionId: 'elsewhere'}).withStore(other)
          .buildSession().run(ask('to other'));
        g.createSession({engine: g.engines.echo(), sessionId: 'by-name', store: 'other'}).run(ask('x'));
        report([other.name(), other.sessions().map((s) => s.id).sort(), g.turnStores.get('other') === other,
                g.turnStores.default().name(), g.turnStores.get('default').name()]);
        """
    )
    assert names == [["other", ["by-name", "elsewhere"], True, "default", "default"]]
    assert [s.id for s in store.list_sessions()] == ["built"]


# -- resume and fork -------------------------------------------------------------------------------


def test_resume_latest_continues_a_stored_session(sjs: JSHarness, store: TurnStore) -> None:
    by_id, by_object, latest, texts = sjs.run(
        ASK
        + """
        const s = g.createSession({engine: g.engines.echo({reply: 'r'}), sessionId: 'conv', store: true});
        s.run(ask('first')); s.run(next(s, 'second'));
        const a = g.createSession({engine: g.engines.echo(), sessionId: 'conv', resumeLatest: true});
        report([a.id, a.turnCount()]);
        const b = g.createSession({engine: g.engines.echo(), resumeLatest: {sessionId: 'conv', limit: 1}});
        report([b.id, b.turnCount()]);
        const c = g.createSession({engine: g.engines.echo({reply: 'third reply'}), resumeLatest: true});
        const out = c.run(next(c, 'third'));
        report([c.id, c.turnCount()]);
        report(out.blocks.map((x) => x.payload.text));
        """
    )
    assert by_id == ["conv", 2]
    assert by_object == ["conv", 1]
    assert latest == ["conv", 3]
    assert texts == ["first", "r", "second", "r", "third", "third reply"]
    assert [t.index for t in store.list_turns("conv")] == [0, 1, 2]  # the resumed run was persisted


def test_resume_latest_without_stored_turns(sjs: JSHarness, store: TurnStore) -> None:
    fresh, required = sjs.run(
        ASK
        + """
        const s = g.createSession({engine: g.engines.echo(), sessionId: 'new-one', resumeLatest: true});
        s.run(ask('hello'));
        report([s.id, s.turnCount()]);
        try {
          g.createSession({engine: g.engines.echo(), resumeLatest: {sessionId: 'ghost', required: true}});
        } catch (e) { report([e.name, e.message]); }
        """
    )
    assert fresh == ["new-one", 1]
    assert [t.session_id for t in store.list_turns()] == ["new-one"]
    assert required == ["Error", 'no stored turn found for session "ghost"']


def test_store_errors(sjs: JSHarness, store: TurnStore) -> None:
    assert _errors(
        sjs,
        [
            "g.createSession({engine: g.engines.echo(), store: false, resumeLatest: true})",
            "g.createSession({engine: g.engines.echo(), store: false, fork: {sessionId: 'x'}})",
            "g.createSession({engine: g.engines.echo(), store: 'missing'})",
            "g.createSession({engine: g.engines.echo(), store: 3})",
            "g.createSession({engine: g.engines.echo(), resumeLatest: 'yes'})",
            "g.createSession({engine: g.engines.echo(), resumeLatest: {sessionId: 'a', limt: 1}})",
            "g.createSession({engine: g.engines.echo(), fork: {sessionId: 'nope'}})",
            "g.createSession({engine: g.engines.echo(), fork: {sessionId: 'x', at: 1.5}})",
            "g.createSession({engine: g.engines.echo(), fork: {sessionId: 'x'}, resumeLatest: true})",
            "g.createSession({engine: g.engines.echo(), sessionId: 'a', resumeLatest: {sessionId: 'b'}})",
            "g.turnStores.get('')",
            "g.turnStores.get('nope')",
            "g.turnStores.default().list({outcome: 'great'})",
            "g.turnStores.default().list(7)",
        ],
    ) == [
        ["Error", "resumeLatest requires a readable TurnStore"],
        ["Error", "fork requires a readable TurnStore"],
        ["Error", 'geppetto turn store "missing" is not configured'],
        ["TypeError", "createSession: store must be true, false, null, a store name or a turnStores wrapper"],
        ["TypeError", "createSession: resumeLatest must be a boolean or an object"],
        ["TypeError", "createSession: resumeLatest: unknown query key 'limt'"],
        ["Error", f"no stored session 'nope' in {store.path}; "
         "'geppetto sessions list' shows the stored ones"],
        ["TypeError", "createSession: fork.at must be a turn index or a turn id"],
        ["Error", "resumeLatest and fork cannot be combined: choose one"],
        ["Error", 'resumeLatest.sessionId "b" differs from sessionId "a"; '
         "use fork to continue a stored session under a new id"],
        ["TypeError", "turnStores.get requires a store name"],
        ["Error", 'geppetto turn store "nope" is not configured'],
        ["TypeError", "TurnStore.list: outcome must be one of completed, failed, cancelled"],
        ["TypeError", "TurnStore.list: query must be an object"],
    ]  # fmt: skip


def test_without_a_host_store(js: JSHarness) -> None:
    assert _errors(
        js,
        [
            "g.createSession({engine: g.engines.echo(), resumeLatest: true})",
            "g.createSession({engine: g.engines.echo(), resumeLatest: {required: true}})",
            "g.createSession({engine: g.engines.echo(), fork: {sessionId: 'x'}})",
            "g.createBuilder({engine: g.engines.echo()}).withStore().buildSession()",
            "g.turnStores.default()",
            "g.createSession({engine: g.engines.echo(), store: false}).run(ask('fine'))",
        ],
    ) == [
        ["Error", "resumeLatest requires a readable TurnStore"],
        ["Error", "resumeLatest requires a readable TurnStore"],
        ["Error", "fork requires a readable TurnStore"],
        ["Error", "no turn store configured"],
        ["Error", "geppetto turnStores.default is not configured"],
        "no error",
    ]


def test_fork_shares_history(sjs: JSHarness, store: TurnStore) -> None:
    first, second, new_ids = sjs.run(
        ASK
        + """
        const s = g.createSession({engine: g.engines.echo({reply: 'r'}), sessionId: 'src', store: true});
        const t0 = s.run(ask('zero')); s.run(next(s, 'one'));
        const f = g.createSession({engine: g.engines.echo({reply: 'forked'}), sessionId: 'fork-a',
          fork: {sessionId: 'src', at: 0}});
        const out = f.run(next(f, 'branch'));
        report([f.id, f.turnCount(), out.blocks.map((b) => b.payload.text)]);
        const byId = g.createSession({engine: g.engines.echo(), fork: {sessionId: 'src', at: t0.id}});
        const latest = g.createSession({engine: g.engines.echo(), fork: {sessionId: 'src'}});
        report([byId.latest().blocks.length, latest.latest().blocks.length]);
        report([byId.id !== 'src', latest.id !== byId.id]);
        """
    )
    assert first == ["fork-a", 2, ["zero", "r", "branch", "forked"]]
    assert second == [2, 4]
    assert new_ids == [True, True]
    info = store.session_info("fork-a")
    assert (info.forked_from_session, info.turn_count) == ("src", 2)  # the fork's own run was stored
    assert [t.outcome for t in store.list_turns("src")] == ["completed", "completed"]  # source untouched


# -- turnStores namespace ----------------------------------------------------------------------------


def test_turn_store_wrapper_queries(sjs: JSHarness) -> None:
    listed, limited, latest, none, failed_only, sessions, unknown = sjs.run(
        ASK
        + """
        const a = g.createSession({engine: g.engines.echo({reply: 'ra'}), sessionId: 'a', store: true});
        a.run(ask('a1')); a.run(next(a, 'a2'));
        const bad = g.createSession({sessionId: 'b', store: true,
          engine: g.engines.fromFunction(() => { throw new Error('nope'); })});
        try { bad.run(ask('b1')); } catch (e) {}
        const ts = g.turnStores.default();
        report(ts.list({sessionId: 'a'}).map((s) => [s.sessionId, s.index, s.outcome, s.turn.blocks.length]));
        report(ts.list({limit: 1}).map((s) => s.sessionId));
        const last = ts.loadLatest({sessionID: 'a'});
        report([last.turnId === a.latest().id, typeof last.inferenceId, last.phase, last.createdAtMs > 0]);
        report(ts.loadLatest({sessionId: 'nobody'}));
        report(ts.list({outcome: 'failed'}).map((s) => [s.sessionId, s.error]));
        report(ts.sessions().map((s) => [s.id, s.turnCount, s.lastOutcome]));
        report(ts.list({sessionId: 'nobody'}));
        """
    )
    assert listed == [["a", 0, "completed", 2], ["a", 1, "completed", 4]]
    assert limited == ["b"]
    assert latest == [True, "string", "final", True]
    assert none is None
    assert failed_only == [["b", "js engine callback: nope"]]
    assert sessions == [["b", 1, "failed"], ["a", 2, "completed"]]
    assert unknown == []


def test_snapshots_have_the_reference_shape(sjs: JSHarness) -> None:
    """``{convId, sessionId, turnId, phase, runtimeKey, inferenceId, createdAtMs, turn, toJSON()}``
    with ``turn`` a TurnWrapper (the seed-era extras ``index``/``outcome``/``error``/``model`` stay)."""
    keys, facts, wrapper, json_form, aliases = sjs.run(
        ASK
        + """
        const engine = (key) => g.engines.fromFunction((turn) => {
          turn.metadata = Object.assign({}, turn.metadata, {runtime: key});
          turn.blocks.push(g.turns.newAssistantBlock('ok'));
          return turn;
        });
        const a = g.createSession({engine: engine('rt-plain'), sessionId: 'shape', store: true});
        a.run(ask('one'));
        const b = g.createSession({engine: engine({runtime_key: ' rt-map '}), sessionId: 'shape2',
          store: true});
        b.run(ask('two'));
        const ts = g.turnStores.default();
        const snap = ts.loadLatest({convId: 'shape', phase: 'final'});
        report(Object.keys(snap).sort());
        report([snap.convId, snap.sessionId, snap.turnId === a.latest().id, snap.phase, snap.runtimeKey,
                snap.inferenceId === a.latest().metadata.inference_id, typeof snap.createdAtMs,
                ts.loadLatest({conversationId: 'shape2'}).runtimeKey]);
        const t = snap.turn;
        const plain = t.toJSON(); plain.blocks.push({kind: 'user'});
        const copy = t.clone();
        report([typeof t.toJSON, typeof t.clone, t.toJSON().blocks.length, copy !== t,
                copy.toJSON().blocks.length, JSON.stringify(copy) === JSON.stringify(t.toJSON()),
                t.blocks.length, Object.isFrozen(t.blocks), Object.keys(t).length]);
        const j = snap.toJSON();
        report([typeof j.turn.blocks, j.turn.blocks[1].payload.text, j.convId,
                JSON.parse(JSON.stringify(snap)).turn.id === snap.turn.id]);
        report([ts.list({conversationId: 'shape'}).length, ts.list({sessionID: 'shape2'}).length,
                ts.list({convId: 'shape', sinceMs: 0, limit: 5}).length]);
        """
    )
    assert keys == [
        "convId", "createdAtMs", "error", "index", "inferenceId", "model", "outcome", "phase",
        "runtimeKey", "sessionId", "turn", "turnId",
    ]  # fmt: skip
    assert facts == ["shape", "shape", True, "final", "rt-plain", True, "number", "rt-map"]
    assert wrapper == ["function", "function", 2, True, 2, True, 2, True, 0]
    assert json_form == ["object", "ok", "shape", True]
    assert aliases == [1, 1, 1]


def test_turn_store_close(tmp_path: Path) -> None:
    """``close()`` releases a store the module opened (a later query reopens it); a store the host
    handed in open stays open."""
    opened: list[TurnStore] = []

    def opener() -> TurnStore:
        opened.append(TurnStore(tmp_path / f"lazy{len(opened)}.db"))
        return opened[-1]

    handed = TurnStore(tmp_path / "handed.db")
    runtime, harness = make_harness(store=opener, turn_stores={"handed": handed})
    try:
        got = harness.run(
            ASK
            + """
            const ts = g.turnStores.default();
            g.createSession({engine: g.engines.echo(), sessionId: 'c', store: true}).run(ask('x'));
            report([ts.close(), ts.list().length]);
            const h = g.turnStores.get('handed');
            h.close(); h.close();
            report(h.list().length);
            try { ts.close.call({}); } catch (e) { report([e.name, e.message]); }
            """
        )
    finally:
        runtime.close()
    assert got[0] == [None, 0]  # reopened by list(): a fresh store (the opener made a new file)
    assert got[1] == 0
    assert got[2] == ["TypeError", "TurnStore.close called on something that is not a TurnStore"]
    assert len(opened) == 2
    assert handed.list_sessions() == []  # still usable: the script did not close it
    for store in (*opened, handed):
        store.close()


# -- geppetto js run ----------------------------------------------------------------------------------


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text("const g = require('geppetto');\n" + ASK + body, encoding="utf-8")
    return path


def test_js_run_resume_across_processes(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    first = _script(
        tmp_path,
        "first.js",
        "const s = g.createSession({engine: g.engines.echo({reply: 'one'}),\n"
        "  sessionId: 'cross', store: true});\n"
        "s.run(ask('hello'));\n",
    )
    second = _script(
        tmp_path,
        "second.js",
        "const s = g.createSession({engine: g.engines.echo({reply: 'two'}),\n"
        "  resumeLatest: {sessionId: 'cross', required: true}});\n"
        "assert(s.turnCount() === 1, `resumed ${s.turnCount()} turns`);\n"
        "const out = s.run(next(s, 'again'));\n"
        "assert(out.blocks.map((b) => b.payload.text).join() === 'hello,one,again,two', 'history');\n",
    )
    for script in (first, second):
        result = geppetto_js(script, "--store", db)
        assert result.returncode == 0, result.stderr
    with TurnStore(db) as store:
        assert [t.outcome for t in store.list_turns("cross")] == ["completed", "completed"]


def test_js_run_default_store_is_lazy(tmp_path: Path) -> None:
    db = tmp_path / "data" / "turns.db"
    env = {"GEPPETTO_STORE": str(db)}
    plain = _script(tmp_path, "plain.js", "g.createSession({engine: g.engines.echo()}).run(ask('x'));\n")
    result = geppetto_js(plain, env=env)
    assert result.returncode == 0, result.stderr
    assert not db.exists() and not db.parent.exists()  # never asked for: no database file
    stored = _script(
        tmp_path, "stored.js", "g.createSession({engine: g.engines.echo(), store: true}).run(ask('x'));\n"
    )
    result = geppetto_js(stored, env=env)
    assert result.returncode == 0, result.stderr
    with TurnStore(db) as store:
        assert store.counts()["turns"] == 1


def test_js_run_no_store(tmp_path: Path) -> None:
    db = tmp_path / "turns.db"
    script = _script(
        tmp_path,
        "nostore.js",
        "try { g.turnStores.default(); } catch (e) { console.log(e.message); }\n"
        "g.createSession({engine: g.engines.echo(), store: true});\n",
    )
    result = geppetto_js(script, "--no-store", env={"GEPPETTO_STORE": str(db)})
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "geppetto turnStores.default is not configured"
    assert "no turn store configured" in result.stderr
    assert not db.exists()
    both = geppetto_js(script, "--no-store", "--store", db)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_js_run_ctrl_c_persists_the_cancelled_run(tmp_path: Path) -> None:
    db = tmp_path / "turns.db"
    script = _script(
        tmp_path,
        "long.js",
        "const s = g.createSession({engine: g.engines.echo({reply: 'never', delayMs: 600000}),\n"
        "  sessionId: 'interrupted', store: true});\n"
        "setTimeout(() => console.log('started'), 0);\n"
        "s.run(ask('wait'));\n",
    )
    code, _, _ = interrupt_js_run(script, "--store", str(db))
    assert code == 130
    with TurnStore(db) as store:
        assert [t.outcome for t in store.list_turns("interrupted")] == ["cancelled"]
