"""ExecutionHandle settles without a concurrent future unless another thread waits: the
awaiting path stays cheap, and every other way of waiting still sees the one outcome."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from geppetto.engines import EchoEngine, FunctionEngine, RunContext
from geppetto.session import Session
from geppetto.turns import Block, Turn


def _seed() -> Turn:
    return Turn([Block.user("hello")])


async def test_awaiting_on_the_runs_loop_needs_no_thread_future() -> None:
    session = Session(EchoEngine())
    handle = session.start(_seed())
    out = await handle
    assert out.blocks[-1].text and handle.done() and not handle.is_running
    assert handle._future is None
    assert handle.wait() is out  # already settled: the same result, still no future
    assert handle._future is None


async def test_a_thread_waiting_while_the_run_is_pending_gets_the_outcome() -> None:
    release = asyncio.Event()

    async def slow(turn: Turn, ctx: RunContext) -> Turn:
        await release.wait()
        turn.blocks.append(Block.assistant("done"))
        return turn

    handle = Session(FunctionEngine(slow)).start(_seed())
    seen: list[str | None] = []
    waiter = threading.Thread(target=lambda: seen.append(handle.wait(5).blocks[-1].text))
    waiter.start()
    while handle._future is None:  # noqa: ASYNC110 - the thread asked for the cross-thread future
        await asyncio.sleep(0.001)
    release.set()
    await handle
    await asyncio.to_thread(waiter.join, 5)
    assert seen == ["done"]


async def test_errors_reach_every_kind_of_waiter() -> None:
    async def boom(turn: Turn, ctx: RunContext) -> Turn:
        raise RuntimeError("engine broke")

    handle = Session(FunctionEngine(boom)).start(_seed())
    called: list[bool] = []
    handle.add_done_callback(lambda h: called.append(h.done()))
    with pytest.raises(Exception, match="engine broke"):
        await handle
    assert called == [True]
    with pytest.raises(Exception, match="engine broke"):
        await asyncio.to_thread(handle.wait, 1)
    late: list[bool] = []
    handle.add_done_callback(lambda h: late.append(True))  # after settlement: at once
    assert late == [True]


async def test_a_failing_done_callback_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_handle: object) -> None:
        raise ValueError("callback bug")

    handle = Session(EchoEngine()).start(_seed())
    handle.add_done_callback(broken)
    with caplog.at_level(logging.ERROR, logger="geppetto.session"):
        out = await handle
    assert out.blocks[-1].text
    assert "done callback" in caplog.text and "callback bug" in caplog.text


def test_wait_from_sync_code_on_the_background_loop() -> None:
    session = Session(EchoEngine())
    handle = session.start(_seed())
    assert handle.wait(5).blocks[-1].text
    assert session.run(Turn([Block.user("again")]), timeout=5).blocks[-1].text


# -- arun runs inside the calling task ---------------------------------------------------------


def _blocking_engine() -> tuple[FunctionEngine, asyncio.Event]:
    started = asyncio.Event()

    async def forever(turn: Turn, ctx: RunContext) -> Turn:
        turn.blocks.append(Block.assistant("partial"))
        ctx.output = turn
        started.set()
        await asyncio.Event().wait()
        return turn

    return FunctionEngine(forever), started


async def test_arun_makes_no_task_of_its_own() -> None:
    before = len(asyncio.all_tasks())
    seen: list[int] = []

    async def count(turn: Turn, ctx: RunContext) -> Turn:
        seen.append(len(asyncio.all_tasks()))
        turn.blocks.append(Block.assistant("ok"))
        return turn

    out = await Session(FunctionEngine(count)).arun(_seed())
    assert out.blocks[-1].text == "ok" and seen == [before]


async def test_cancel_active_during_arun_raises_inference_cancelled_and_leaves_the_caller_clean() -> None:
    from geppetto.errors import InferenceCancelled

    engine, started = _blocking_engine()
    session = Session(engine)

    async def cancel_soon() -> None:
        await started.wait()
        session.cancel_active()
        session.cancel_active()  # twice: both are taken back

    helper = asyncio.create_task(cancel_soon())
    with pytest.raises(InferenceCancelled):
        await session.arun(_seed())
    await helper
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0.01)  # no stray CancelledError reaches the caller later
    latest = session.latest()
    assert latest is not None and latest.blocks[-1].text == "partial" and not session.is_running


async def test_cancel_active_from_another_thread_during_arun() -> None:
    from geppetto.errors import InferenceCancelled

    engine, started = _blocking_engine()
    session = Session(engine)

    async def cancel_from_thread() -> None:
        await started.wait()
        await asyncio.to_thread(session.cancel_active)

    helper = asyncio.create_task(cancel_from_thread())
    with pytest.raises(InferenceCancelled):
        await session.arun(_seed())
    await helper
    await asyncio.sleep(0.01)


async def test_cancelling_the_caller_still_propagates_cancelled_error_with_history_recorded() -> None:
    engine, started = _blocking_engine()
    session = Session(engine)
    caller = asyncio.create_task(session.arun(_seed()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    latest = session.latest()
    assert latest is not None and latest.blocks[-1].text == "partial" and not session.is_running


async def test_a_timeout_around_arun_is_a_timeout() -> None:
    engine, _started = _blocking_engine()
    session = Session(engine)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await session.arun(_seed())
    assert not session.is_running


async def test_cancel_from_a_sink_as_the_run_ends_does_not_leak_into_the_caller() -> None:
    session = Session(EchoEngine())

    fired: list[bool] = []

    class CancelOnFinish:
        def publish(self, event: object) -> None:
            if getattr(getattr(event, "type", None), "value", "") == "run-finished":
                fired.append(True)
                session.cancel_active()  # the run is ending: must be a no-op for the caller

    out = await session.arun(_seed(), sinks=(CancelOnFinish(),))
    assert out.blocks[-1].text and fired == [True]
    await asyncio.sleep(0.01)  # would raise CancelledError if the cancel leaked
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
