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
