"""Agent persistence: session > agent > host default precedence, resumeLatest and the store errors
(the reference's api_session_test.go resume test and the seed-system §9 persistence rules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from geppetto.js import JSScriptError
from geppetto.store import TurnStore

from .conftest import JSHarness, make_harness


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TurnStore]:
    with TurnStore(tmp_path / "turns.db") as opened:
        yield opened


@pytest.fixture
def other(tmp_path: Path) -> Iterator[TurnStore]:
    with TurnStore(tmp_path / "other.db") as opened:
        yield opened


@pytest.fixture
def sjs(store: TurnStore, other: TurnStore) -> Iterator[JSHarness]:
    runtime, harness = make_harness(store=store, turn_stores={"other": other})
    yield harness
    runtime.close()


def _count(store: TurnStore, session_id: str) -> int:
    return sum(1 for record in store.list_turns() if record.session_id == session_id)


def test_agent_store_persists_each_run_once(sjs: JSHarness, store: TurnStore) -> None:
    sjs.run(
        """
        const ts = g.turnStores.default();
        const s = g.agent().engine(g.engines.echo()).store(ts).build().session().id('agent-level').build();
        s.next().user('a').run();
        s.next().user('b').runAsync();
        """
    )
    assert _count(store, "agent-level") == 2


def test_nothing_chosen_persists_nothing(sjs: JSHarness, store: TurnStore) -> None:
    sjs.run("g.agent().engine(g.engines.echo()).build().session().id('none').build().next().user('a').run();")
    assert _count(store, "none") == 0


def test_session_choice_beats_the_agent_choice(sjs: JSHarness, store: TurnStore, other: TurnStore) -> None:
    sjs.run(
        """
        const agent = g.agent().engine(g.engines.echo()).store(g.turnStores.default()).build();
        agent.session().id('to-other').store(g.turnStores.get('other')).build().next().user('a').run();
        agent.session().id('off').persist(false).build().next().user('a').run();
        agent.session().id('inherited').build().next().user('a').run();
        const offAgent = g.agent().engine(g.engines.echo()).store(null).build();
        offAgent.session().id('session-default').defaultStore().build().next().user('a').run();
        offAgent.session().id('session-persist').persist().build().next().user('a').run();
        """
    )
    assert (_count(other, "to-other"), _count(store, "to-other")) == (1, 0)
    assert _count(store, "off") == 0
    assert _count(store, "inherited") == 1
    assert _count(store, "session-default") == 1
    assert _count(store, "session-persist") == 1


def test_agent_default_store_and_persist_flags(sjs: JSHarness, store: TurnStore) -> None:
    sjs.run(
        """
        for (const [id, agent] of [
          ['default-store', g.agent().engine(g.engines.echo()).defaultStore()],
          ['persist', g.agent().engine(g.engines.echo()).persist(true)],
          ['persist-default', g.agent().engine(g.engines.echo()).persistDefault()],
          ['persist-to', g.agent().engine(g.engines.echo()).persistTo(g.turnStores.default())],
          ['disabled', g.agent().engine(g.engines.echo()).defaultStore().persist(false)],
        ]) agent.build().session().id(id).build().next().user('a').run();
        """
    )
    ids = ("default-store", "persist", "persist-default", "persist-to")
    counts = {sid: _count(store, sid) for sid in ids}
    assert counts == {"default-store": 1, "persist": 1, "persist-default": 1, "persist-to": 1}
    assert _count(store, "disabled") == 0


def test_resume_latest_from_store(sjs: JSHarness, store: TurnStore) -> None:
    got = sjs.one(
        """
        const ts = g.turnStores.default();
        const agent = g.agent().engine(g.engines.echo({reply: 'r'})).build();
        const first = agent.session().id('resume-me').store(ts).build();
        first.next().user('persisted').run();
        const resumed = agent.session().id('resume-me').store(ts).resumeLatest().build();
        const r2 = resumed.next().user('continued').run();
        report({
          turnCount: resumed.turnCount(),
          users: r2.inputTurn().toJSON().blocks.filter((b) => b.kind === 'user').map((b) => b.payload.text),
          text: r2.text(),
          importedSession: resumed.turn(0).toJSON().metadata.session_id,
          notForked: resumed.turn(0).toJSON().metadata['geppetto.forkedFromSource@v1'] === undefined,
        });
        """
    )
    assert got == {
        "turnCount": 2, "users": ["persisted", "continued"], "text": "r\nr",
        "importedSession": "resume-me", "notForked": True,
    }  # fmt: skip
    assert _count(store, "resume-me") == 2


def test_resume_latest_reads_the_host_default_store_and_other_sessions(sjs: JSHarness) -> None:
    got = sjs.one(
        """
        const agent = g.agent().engine(g.engines.echo({reply: 'r'})).build();
        agent.session().id('origin').defaultStore().build().next().user('hello').run();
        const copy = agent.session().id('copy').resumeLatest({sessionId: 'origin'}).build();
        const none = agent.session().id('fresh').resumeLatest().build();
        report([copy.turnCount(), copy.latestTurn().toJSON().metadata.session_id, none.turnCount()]);
        """
    )
    assert got == [1, "copy", 0]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("agent.session().id('missing').resumeLatest({required: true}).build()",
         'no stored turn found for session "missing"'),
        ("const s = agent.session().build(); s.next().user('x').run();"
         "agent.session().base(s.latestTurn()).resumeLatest().build()",
         r"session builder cannot use both base\(turn\) and resumeLatest\(\)"),
        ("agent.session().resumeLatest('x')", "resumeLatest options must be an object"),
        ("g.agent().store({})", r"agent\(\)\.store requires a TurnStore wrapper or null"),
        ("g.agent().persistTo()", r"agent\(\)\.persistTo requires a TurnStore wrapper or null"),
        ("agent.session().store(null)", r"session\(\)\.store requires a TurnStore wrapper"),
        ("agent.session().base({})", r"session\(\)\.base requires a Go-owned Turn wrapper"),
    ],
)  # fmt: skip
def test_store_errors(sjs: JSHarness, script: str, message: str) -> None:
    with pytest.raises(JSScriptError, match=message):
        sjs.run("const agent = g.agent().engine(g.engines.echo()).build();\n" + script + ";")


def test_default_store_without_a_host_store_is_an_error(js: JSHarness) -> None:
    with pytest.raises(JSScriptError, match="geppetto default turn persistence is not configured"):
        js.run("g.agent().engine(g.engines.echo()).defaultStore();")
    with pytest.raises(JSScriptError, match="resumeLatest requires a readable TurnStore"):
        js.run("g.agent().engine(g.engines.echo()).build().session().resumeLatest().build();")
