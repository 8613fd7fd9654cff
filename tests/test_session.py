from __future__ import annotations

import asyncio
import threading
import time

import pytest

from geppetto.background import THREAD_NAME, background_loop
from geppetto.engines import EchoEngine, FunctionEngine, RunContext
from geppetto.errors import (
    EngineError,
    InferenceCancelled,
    SessionAlreadyActive,
    SessionBuilderMissing,
    SessionEmptyTurn,
    SessionError,
    SessionNotActive,
)
from geppetto.events import CollectingSink, EventType
from geppetto.middleware import system_prompt
from geppetto.session import EngineBuilder, Session
from geppetto.turns import Block, BlockKind, Turn, TurnMetaKeys


def seed(text: str = "hi") -> Turn:
    return Turn([Block.user(text)])


def slow_session(delay_ms: float = 5_000) -> Session:
    return Session(EchoEngine("a b c d", delay_ms=delay_ms))


def test_run_appends_reply_to_latest_turn_and_stamps_ids() -> None:
    session = Session(EngineBuilder(EchoEngine()).with_middleware(system_prompt("sys")))
    out = session.run(seed())
    assert session.turn_count == 1
    assert [b.kind for b in out.blocks] == [BlockKind.SYSTEM, BlockKind.USER, BlockKind.LLM_TEXT]
    assert out.id
    assert TurnMetaKeys.SESSION_ID.get(out.metadata) == session.id
    assert TurnMetaKeys.INFERENCE_ID.get(out.metadata)
    assert session.latest() == out


def test_reference_error_messages() -> None:
    with pytest.raises(SessionEmptyTurn, match=r"^session has no seed turn \(or seed turn is empty\)$"):
        Session(EchoEngine()).run()
    with pytest.raises(SessionEmptyTurn):
        Session(EchoEngine()).run(Turn())
    with pytest.raises(SessionNotActive, match=r"^session has no active inference$"):
        Session(EchoEngine()).cancel_active()
    with pytest.raises(SessionBuilderMissing):
        Session().run(seed())
    with pytest.raises(SessionError, match="base engine is nil"):
        Session(EngineBuilder()).run(seed())


def test_second_start_is_rejected_without_touching_history() -> None:
    session = slow_session()
    handle = session.start(seed("first"))
    assert session.is_running and handle.is_running
    with pytest.raises(SessionAlreadyActive, match=r"^session already has an active inference$"):
        session.start(seed("second"))
    assert session.turn_count == 1
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        handle.wait(5)
    assert not session.is_running


def test_snapshots_never_alias_history() -> None:
    session = Session(EchoEngine())
    out = session.run(Turn([Block.tool_call("c", "f", {"xs": [1]}), Block.user("q")]))
    out.blocks.clear()
    session.latest().blocks[0].payload["args"]["xs"].append(2)  # type: ignore[union-attr]
    for turn in session.turns():
        turn.metadata.clear()
    session.get_turn(0).blocks.pop()  # type: ignore[union-attr]
    kept = session.latest()
    assert kept is not None and len(kept.blocks) == 3
    assert kept.blocks[0].payload["args"] == {"xs": [1]}
    assert TurnMetaKeys.SESSION_ID.get(kept.metadata) == session.id


def test_append_copies_and_stamps_the_session_id() -> None:
    session = Session(EchoEngine(), session_id="fixed")
    original = seed()
    returned = session.append(original)
    original.blocks.clear()
    assert session.id == "fixed"
    assert TurnMetaKeys.SESSION_ID.get(returned.metadata) == "fixed"
    assert session.get_turn(0).blocks  # type: ignore[union-attr]
    foreign = Turn([Block.user("x")], metadata={TurnMetaKeys.SESSION_ID.id: "other"})
    assert TurnMetaKeys.SESSION_ID.get(session.append(foreign).metadata) == "other"


def test_append_without_copy_hands_the_turn_over() -> None:
    session = Session(EchoEngine())
    handed = seed("mine now")
    returned = session.append(handed, copy=False)
    assert returned is handed  # history holds this very object: no copy either way
    assert TurnMetaKeys.SESSION_ID.get(handed.metadata) == session.id  # stamped in place
    snapshot = session.get_turn(0)
    assert snapshot is not None and snapshot is not handed
    snapshot.blocks.clear()
    assert session.get_turn(0).blocks[0].text == "mine now"  # type: ignore[union-attr]


def test_history_getters_clamp_like_the_reference() -> None:
    session = Session(EchoEngine(), turns=[seed(str(i)) for i in range(4)])
    assert session.get_turn(-1) is None and session.get_turn(4) is None
    assert [t.blocks[0].text for t in session.turns_range(1, 3)] == ["1", "2"]
    assert [t.blocks[0].text for t in session.turns_range(-5)] == ["0", "1", "2", "3"]
    assert session.turns_range(3, 1) == []
    assert session.turns_range(10, 20) == []
    assert Session(EchoEngine()).latest() is None and Session(EchoEngine()).turns() == []


def test_append_user_prompt_builds_on_the_latest_turn() -> None:
    session = Session(EchoEngine())
    session.run(seed("one"))
    first_id = session.latest().id  # type: ignore[union-attr]
    turn = session.append_user_prompt("two", "", "three")
    assert turn.id and turn.id != first_id
    assert [b.text for b in turn.blocks] == ["one", "READY", "two", "three"]
    assert TurnMetaKeys.INFERENCE_ID.get(turn.metadata) is None
    second = session.run()
    assert [b.text for b in second.blocks][-1] == "READY" and session.turn_count == 2
    other = session.append_user_prompt("x")
    assert other.id != turn.id


def test_append_user_prompt_refuses_while_running() -> None:
    session = slow_session()
    handle = session.start(seed())
    with pytest.raises(SessionAlreadyActive):
        session.append_user_prompt("x")
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        handle.wait(5)


def test_cancel_keeps_input_and_records_partial_output() -> None:
    sink = CollectingSink()
    session = Session(EngineBuilder(EchoEngine("a b c d", delay_ms=30)).with_sink(sink))
    handle = session.start(seed())
    deadline = time.monotonic() + 5
    while not any(e.type is EventType.PARTIAL for e in sink.events) and time.monotonic() < deadline:
        time.sleep(0.005)
    session.cancel_active()
    with pytest.raises(InferenceCancelled):
        handle.wait(5)
    handle.cancel()  # idempotent after completion
    kept = session.latest()
    assert kept is not None and kept.blocks[0].text == "hi"
    partial = kept.blocks[-1]
    assert partial.kind is BlockKind.LLM_TEXT and partial.text and "a b c d".startswith(partial.text)
    result = TurnMetaKeys.INFERENCE_RESULT.get(kept.metadata)
    assert result is not None and result["finish_class"] == "interrupted"
    assert sink.events[-1].type is EventType.INTERRUPT
    assert session.run(seed("again")).blocks[-1].text == "a b c d"  # the session stays usable


def test_failed_run_keeps_input_and_raises_the_engine_error() -> None:
    def broken(turn: Turn) -> Turn:
        raise RuntimeError("provider down")

    session = Session(EngineBuilder(FunctionEngine(broken)).with_middleware(system_prompt("sys")))
    with pytest.raises(EngineError, match="provider down"):
        session.run(seed("keep me"))
    kept = session.latest()
    assert kept is not None and [b.text for b in kept.blocks] == ["sys", "keep me"]
    assert not session.is_running


async def test_arun_and_awaiting_a_handle() -> None:
    session = Session(EchoEngine("async"))
    out = await session.arun(seed())
    assert out.blocks[-1].text == "async"
    handle = session.start(session.append_user_prompt("more"))
    assert (await handle).blocks[-1].text == "async"
    with pytest.raises(SessionError, match="would block the event loop"):
        session.start(session.append_user_prompt("x")).wait()
    await asyncio.sleep(0.01)


async def test_cancelling_the_awaiting_task_cancels_arun() -> None:
    session = slow_session()
    task = asyncio.create_task(session.arun(seed()))
    await asyncio.sleep(0.02)
    assert session.is_running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if not session.is_running:
            break
        await asyncio.sleep(0.01)
    assert not session.is_running
    result = TurnMetaKeys.INFERENCE_RESULT.get(session.latest().metadata)  # type: ignore[union-attr]
    assert result is not None and result["finish_class"] == "interrupted"


async def test_cancel_before_the_task_starts_releases_the_session() -> None:
    session = slow_session()
    handle = session.start(seed())
    handle.cancel()  # before the loop ever ran the task
    with pytest.raises(InferenceCancelled):
        await handle
    assert not session.is_running
    assert session.latest().blocks[-1].text == "hi"  # type: ignore[union-attr]


async def test_many_sessions_run_concurrently_on_one_loop() -> None:
    sessions = [Session(EchoEngine("x", delay_ms=100)) for _ in range(50)]
    started = time.monotonic()
    outs = await asyncio.gather(*(s.arun(seed()) for s in sessions))
    assert all(o.blocks[-1].text == "x" for o in outs)
    assert time.monotonic() - started < 3.0  # 50 x 100 ms run serially would take 5 s


def test_exclusivity_under_thread_contention() -> None:
    gate = threading.Event()
    active = 0
    peak = 0
    lock = threading.Lock()

    async def engine(turn: Turn, ctx: RunContext) -> Turn:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        await asyncio.sleep(0.002)
        with lock:
            active -= 1
        return turn.append(Block.assistant("ok"))

    session = Session(FunctionEngine(engine), turns=[seed()])
    wins = 0
    rejections = 0

    def contend() -> None:
        nonlocal wins, rejections
        gate.wait()
        for _ in range(50):
            try:
                handle = session.start()
            except SessionAlreadyActive:
                with lock:
                    rejections += 1
                continue
            handle.wait(5)
            with lock:
                wins += 1

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(30)
    assert peak == 1
    assert wins >= 1 and wins + rejections == 400
    assert not session.is_running


def test_stress_start_cancel_wait_cycles_leave_nothing_running() -> None:
    loop = background_loop()
    session = slow_session(delay_ms=1_000)
    session.append(seed())
    baseline_threads = threading.active_count()
    for index in range(1_000):
        handle = session.start()
        assert session.is_running
        if index % 2:
            handle.cancel()
        else:
            session.cancel_active()
        with pytest.raises(InferenceCancelled):
            handle.wait(5)
        assert not session.is_running
    assert threading.active_count() == baseline_threads
    assert [t for t in threading.enumerate() if t.name == THREAD_NAME]

    async def pending() -> int:
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])

    assert asyncio.run_coroutine_threadsafe(pending(), loop).result(5) == 0
    assert session.turn_count == 1


def test_handle_input_is_the_turn_the_run_started_from() -> None:
    session = Session(EchoEngine())
    handle = session.start(Turn([Block.tool_call("c", "f", {"n": 1}), Block.user("q")]))
    handle.wait(5)
    snapshot = handle.input
    assert [b.kind for b in snapshot.blocks] == [BlockKind.TOOL_CALL, BlockKind.USER]
    snapshot.blocks[0].payload["args"]["n"] = 99
    assert session.latest().blocks[0].payload["args"] == {"n": 1}  # type: ignore[union-attr]
    assert handle.input is snapshot


class RecordingStore:
    def __init__(self, session: list[Session] | None = None) -> None:
        self.saved: list[tuple[str, str, str | None, int, bool]] = []
        self.sessions = session or []

    def persist_turn(self, session_id: str, turn: Turn, *, outcome: object, error: str | None) -> None:
        still_active = bool(self.sessions) and self.sessions[0].is_running
        self.saved.append((session_id, str(outcome), error, len(turn.blocks), still_active))


def test_every_run_outcome_is_persisted_before_the_handle_settles() -> None:
    def broken(turn: Turn) -> Turn:
        raise RuntimeError("down")

    store = RecordingStore()
    ok = Session(EchoEngine(), store=store)
    store.sessions.append(ok)
    ok.run(seed())
    assert store.saved == [(ok.id, "completed", None, 2, True)]

    failing = Session(FunctionEngine(broken), store=store)
    with pytest.raises(EngineError):
        failing.run(seed())
    assert store.saved[-1][1:4] == ("failed", "function engine: down", 1)

    slow = slow_session()
    slow.store = store
    handle = slow.start(seed())
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        handle.wait(5)
    assert store.saved[-1][1:3] == ("cancelled", "inference cancelled")


def test_a_failing_store_never_fails_the_run(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStore:
        def persist_turn(self, session_id: str, turn: Turn, *, outcome: object, error: str | None) -> None:
            raise OSError("disk full")

    session = Session(EchoEngine(), store=BrokenStore())
    assert session.run(seed()).blocks[-1].text == "READY"
    assert "could not persist turn" in caplog.text
