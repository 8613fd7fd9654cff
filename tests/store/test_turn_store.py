"""The SQLite turn store: persistence of every run outcome, resume, fork, queries, errors."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from geppetto.engines import EchoEngine, RunContext, StreamAccumulator
from geppetto.errors import EngineError, GeppettoError, InferenceCancelled
from geppetto.events import Usage
from geppetto.session import EngineBuilder, Session, TurnPersister
from geppetto.store import (
    FORKED_FROM_SESSION_ID,
    FORKED_FROM_TURN_ID,
    SessionNotFound,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    TurnNotFound,
    TurnStore,
    default_store_path,
    export_session,
)
from geppetto.turns import Block, BlockKind, Turn, TurnMetaKeys, from_json, from_yaml


class ScriptedEngine:
    """Replies ``partial done``; the prompt ``fail`` fails after ``partial``, ``slow`` hangs there."""

    name = "scripted"

    def __init__(self) -> None:
        self.streaming = threading.Event()

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        prompt = turn.blocks[-1].text
        with StreamAccumulator(turn, ctx, provider="test", model="scripted-1") as acc:
            acc.start()
            acc.add_text("partial ")
            if prompt == "fail":
                raise EngineError("boom")
            if prompt == "slow":
                self.streaming.set()
                await asyncio.sleep(60)
            acc.add_text("done")
            acc.set_usage(Usage(input_tokens=3, output_tokens=2))
            acc.set_stop_reason("stop")
            return acc.finish()


@pytest.fixture
def store(tmp_path: Path) -> TurnStore:
    with TurnStore(tmp_path / "turns.db") as opened:
        yield opened  # type: ignore[misc]


def chat(session: Session, *prompts: str) -> None:
    for prompt in prompts:
        session.append_user_prompt(prompt)
        session.run()


def test_the_store_is_a_turn_persister(store: TurnStore) -> None:
    persister: TurnPersister = store
    assert isinstance(persister, TurnPersister)


def test_completed_failed_and_cancelled_runs_are_persisted(store: TurnStore) -> None:
    engine = ScriptedEngine()
    session = Session(EngineBuilder(engine), store=store)
    session.run(Turn.builder().system("be brief").user("hello").build())
    session.append_user_prompt("fail")
    with pytest.raises(EngineError, match="boom"):
        session.run()
    session.append_user_prompt("slow")
    handle = session.start()
    assert engine.streaming.wait(30)
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        handle.wait(30)

    records = store.list_turns(session.id, with_turns=True)
    assert [r.outcome for r in records] == ["completed", "failed", "cancelled"]
    assert [r.index for r in records] == [0, 1, 2]
    assert [r.parent_seq for r in records] == [None, records[0].seq, records[1].seq]
    completed, failed, cancelled = records
    assert (completed.model, completed.provider, completed.finish_class) == (
        "scripted-1",
        "test",
        "completed",
    )
    assert (completed.input_tokens, completed.output_tokens) == (3, 2)
    assert completed.turn is not None and completed.turn.blocks[-1].text == "partial done"
    assert completed.inference_id == completed.turn.metadata[TurnMetaKeys.INFERENCE_ID.id]
    assert failed.error is not None and "boom" in failed.error
    assert failed.finish_class == "error"
    assert cancelled.finish_class == "interrupted"
    assert cancelled.error == "inference cancelled"
    assert cancelled.turn is not None
    assert [b.kind for b in cancelled.turn.blocks][-2:] == [BlockKind.USER, BlockKind.LLM_TEXT]
    assert cancelled.turn.blocks[-1].text == "partial "
    # what the store returns is what the session holds
    assert [t.blocks for t in store.load_turns(session.id)] == [t.blocks for t in session.turns()]
    assert store.check() == []


def test_resume_continues_a_stored_session(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    with TurnStore(path) as first:
        original = Session(EngineBuilder(EchoEngine("one")), store=first)
        original.run(Turn.builder().user("a").build())
        chat(original, "b")
        session_id = original.id

    with TurnStore(path) as store:
        resumed = Session(
            EngineBuilder(EchoEngine("two")),
            session_id=session_id,
            turns=store.load_turns(session_id),
            store=store,
        )
        assert resumed.turn_count == 2
        chat(resumed, "c")
        latest = store.latest(session_id)
    assert latest is not None and latest.turn is not None
    texts = [block.text for block in latest.turn.blocks]
    assert texts == ["a", "one", "b", "one", "c", "two"]
    assert latest.index == 2
    assert latest.turn.metadata[TurnMetaKeys.SESSION_ID.id] == session_id


def test_session_resume_picks_the_latest_or_a_prefix(tmp_path: Path) -> None:
    with TurnStore(tmp_path / "turns.db") as store:
        with pytest.raises(SessionNotFound, match="holds no session to resume yet"):
            Session.resume(store, EchoEngine("x"))
        older = Session(EchoEngine("old"), session_id="aaaa-older", store=store)
        older.run(Turn.builder().user("1").build())
        newer = Session(EchoEngine("new"), session_id="bbbb-newer", store=store)
        newer.run(Turn.builder().user("2").build())
        chat(newer, "3")

        latest = Session.resume(store, EchoEngine("again"))
        assert latest.id == "bbbb-newer" and latest.turn_count == 2
        chat(latest, "4")
        assert [t.blocks[-1].text for t in store.load_turns("bbbb-newer")][-1] == "again"

        by_prefix = Session.resume(store, EchoEngine("x"), session_id="aaaa", last=1)
        assert by_prefix.id == "aaaa-older" and by_prefix.turn_count == 1
        with pytest.raises(SessionNotFound, match="no stored session 'zzz'"):
            Session.resume(store, session_id="zzz")


def test_unknown_sessions_are_clear_errors(store: TurnStore) -> None:
    with pytest.raises(SessionNotFound, match=r"no stored session 'nope' in .*turns\.db"):
        store.load_turns("nope")
    with pytest.raises(SessionNotFound):
        store.fork("nope")
    with pytest.raises(SessionNotFound):
        store.resolve_session("nope")
    assert isinstance(SessionNotFound("x"), GeppettoError)


def test_fork_shares_blocks_with_its_source(store: TurnStore) -> None:
    builder = EngineBuilder(EchoEngine("reply"))
    source = Session(builder, store=store)
    source.run(Turn.builder().system("sys").user("first").build())
    chat(source, "second")
    before = store.counts()

    fork_id = store.fork(source.id, at=0)
    after = store.counts()
    assert after["blocks"] == before["blocks"]  # nothing copied
    assert after["turns"] == before["turns"] + 1
    assert after["turn_blocks"] == before["turn_blocks"] + 3  # the fork references the 3 shared blocks
    source_turn = store.get_turn(source.id, 0).turn
    forked = store.load_turns(fork_id)
    assert len(forked) == 1 and source_turn is not None
    assert forked[0].blocks == source_turn.blocks
    assert forked[0].metadata[TurnMetaKeys.SESSION_ID.id] == fork_id
    assert forked[0].metadata[FORKED_FROM_SESSION_ID] == source.id
    assert forked[0].metadata[FORKED_FROM_TURN_ID] == source_turn.id
    info = store.session_info(fork_id)
    assert (info.forked_from_session, info.forked_from_turn_id) == (source.id, source_turn.id)
    assert store.list_turns(fork_id)[0].parent_seq == store.get_turn(source.id, 0).seq

    # continuing the fork adds only its new blocks; history stays shared
    continued = Session(builder, session_id=fork_id, turns=store.load_turns(fork_id), store=store)
    chat(continued, "other branch")
    assert store.counts()["blocks"] == after["blocks"] + 2
    latest = store.latest(fork_id)
    assert latest is not None and latest.turn is not None
    assert [b.text for b in latest.turn.blocks] == ["sys", "first", "reply", "other branch", "reply"]
    # the source is untouched
    assert len(store.load_turns(source.id)) == 2


def test_fork_at_index_turn_id_and_errors(store: TurnStore) -> None:
    session = Session(EngineBuilder(EchoEngine()), store=store)
    session.run(Turn.builder().user("a").build())
    chat(session, "b", "c")
    turns = store.list_turns(session.id)
    by_negative = store.fork(session.id, at=-2)
    by_id = store.fork(session.id, at=turns[0].turn_id)
    latest = store.fork(session.id)
    assert store.list_turns(by_negative)[0].turn_id == turns[1].turn_id
    assert store.list_turns(by_id)[0].turn_id == turns[0].turn_id
    assert store.list_turns(latest)[0].turn_id == turns[2].turn_id
    with pytest.raises(TurnNotFound, match="index 3 is out of range"):
        store.fork(session.id, at=3)
    with pytest.raises(TurnNotFound, match="no stored turn with id 'zzz'"):
        store.fork(session.id, at="zzz")
    with pytest.raises(StoreError, match="already exists"):
        store.fork(session.id, new_session_id=latest)


def test_queries_by_session_latest_time_range_and_prefix(store: TurnStore) -> None:
    builder = EngineBuilder(EchoEngine())
    a = Session(builder, session_id="aaaa-1", store=store)
    b = Session(builder, session_id="aaab-2", store=store)
    a.run(Turn.builder().user("first of a").build())
    b.run(Turn.builder().user("first of b").build())
    chat(a, "second of a")

    assert store.latest_session_id() == "aaaa-1"
    assert [info.id for info in store.list_sessions()] == ["aaaa-1", "aaab-2"]
    assert [info.id for info in store.list_sessions(limit=1)] == ["aaaa-1"]
    info = store.session_info("aaaa-1")
    assert (info.title, info.turn_count, info.last_model, info.last_outcome) == (
        "first of a",
        2,
        "echo",
        "completed",
    )

    every = store.list_turns()
    assert [r.session_id for r in every] == ["aaaa-1", "aaab-2", "aaaa-1"]
    assert [r.index for r in every] == [0, 0, 1]
    assert [r.seq for r in store.list_turns(limit=2)] == [every[1].seq, every[2].seq]
    assert [r.seq for r in store.list_turns(limit=2, newest_first=True)] == [every[2].seq, every[1].seq]
    stamp = every[2].created_at_ms
    assert all(r.created_at_ms >= stamp for r in store.list_turns(since_ms=stamp))
    assert every[2].seq in [r.seq for r in store.list_turns(since_ms=stamp)]
    assert all(r.created_at_ms < stamp for r in store.list_turns(until_ms=stamp))
    assert store.list_turns(since_ms=stamp + 10**9) == []
    assert store.list_turns(outcome="failed") == []
    assert len(store.list_turns(phase="final")) == 3 and store.list_turns(phase="draft") == []
    assert store.latest("aaab-2", since_ms=stamp + 10**9) is None

    latest = store.latest()
    assert latest is not None and latest.turn is not None and latest.turn.blocks[-2].text == "second of a"
    assert store.resolve_session("aaab") == "aaab-2"
    with pytest.raises(SessionNotFound, match="ambiguous"):
        store.resolve_session("aaa")


def test_delete_keeps_blocks_still_used_by_forks(store: TurnStore) -> None:
    session = Session(EngineBuilder(EchoEngine()), store=store)
    session.run(Turn.builder().user("a").build())
    chat(session, "b")
    fork_id = store.fork(session.id, at=0)
    assert store.delete_session(session.id) == 2
    with pytest.raises(SessionNotFound):
        store.session_info(session.id)
    assert [b.text for b in store.load_turns(fork_id)[0].blocks] == ["a", "READY"]
    assert store.counts()["blocks"] == 2
    assert store.delete_session(fork_id) == 1
    assert store.counts() == {"sessions": 0, "turns": 0, "blocks": 0, "turn_blocks": 0}
    assert store.check() == []


def test_export_as_yaml_json_and_latest_turn(store: TurnStore) -> None:
    session = Session(EngineBuilder(EchoEngine()), store=store)
    session.run(Turn.builder().user("a").build())
    chat(session, "b")
    import orjson
    import yaml

    document = orjson.loads(export_session(store, session.id, "json"))
    assert document["session"]["id"] == session.id
    assert [t["outcome"] for t in document["turns"]] == ["completed", "completed"]
    assert [b["kind"] for b in document["turns"][1]["turn"]["blocks"]] == [
        "user",
        "llm_text",
        "user",
        "llm_text",
    ]
    assert yaml.safe_load(export_session(store, session.id, "yaml")) == document
    latest = session.latest()
    assert latest is not None
    assert from_yaml(export_session(store, session.id, "yaml", latest_only=True)).blocks == latest.blocks
    assert from_json(export_session(store, session.id, "json", latest_only=True)).metadata == latest.metadata


def test_blocks_keep_their_payload_and_metadata(store: TurnStore) -> None:
    block = Block.tool_use("call-1", '{"b":1,"a":2}')
    block.metadata["geppetto.middleware@v1"] = "x"
    turn = Turn(
        [Block.tool_call("call-1", "add", {"z": 1, "a": [1, 2]}), block], data={"k": {"n": 1}}, id="t1"
    )
    store.save_turn("s1", turn)
    loaded = store.load_turns("s1")[0]
    assert loaded == turn
    assert list(loaded.blocks[1].payload) == list(block.payload)  # key order kept


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    TurnStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations(name, applied_at_ms) VALUES ('9999_from_the_future', 0)")
    with pytest.raises(
        StoreVersionError, match=r"written by a newer geppetto .*9999_from_the_future"
    ) as info:
        TurnStore(path)
    assert str(path) in str(info.value)


def test_corrupt_and_foreign_files_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 200)
    with pytest.raises(StoreCorruptError, match="corrupt or not a SQLite database") as info:
        TurnStore(garbage)
    assert str(garbage) in str(info.value) and "--store PATH" in str(info.value)
    assert garbage.read_bytes().startswith(b"this is not sqlite")  # never overwritten

    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x)")
    with pytest.raises(StoreCorruptError, match="not a geppetto turn store"):
        TurnStore(foreign)

    directory = tmp_path / "dir.db"
    directory.mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        TurnStore(directory)


def test_a_locked_store_is_a_clear_error_and_never_half_written(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    store = TurnStore(path, busy_timeout=0.05)
    store.save_turn("s", Turn([Block.user("kept")]))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreLockedError, match=r"is locked by another process") as info:
            store.save_turn("s", Turn([Block.user("lost")]))
        assert str(path) in str(info.value)
        # a session keeps going when its store is locked: the run succeeds, the turn is not saved
        session = Session(EngineBuilder(EchoEngine()), session_id="s", store=store)
        assert session.run(Turn([Block.user("still runs")])).blocks[-1].text == "READY"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [r.block_count for r in store.list_turns("s")] == [1]
    assert store.check() == []
    store.close()


def test_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GEPPETTO_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "geppetto" / "turns.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home" / ".local" / "share" / "geppetto" / "turns.db"
    monkeypatch.setenv("GEPPETTO_STORE", str(tmp_path / "x.db"))
    assert default_store_path() == tmp_path / "x.db"
    with TurnStore() as store:
        assert store.path == tmp_path / "x.db"
