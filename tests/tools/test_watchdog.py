"""The shared deadline timer behind tool-call and MCP-request timeouts."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from geppetto.tools.watchdog import watchdog


async def _guarded(seconds: float, work: float) -> str:
    """``work`` seconds of sleep under a ``seconds`` deadline: "done", "timeout" or re-raised."""
    task = asyncio.current_task()
    assert task is not None
    deadline = watchdog().watch(task, seconds)
    try:
        await asyncio.sleep(work)
    except asyncio.CancelledError:
        if deadline.expired():
            return "timeout"
        raise
    finally:
        deadline.forget()
    return "done"


async def test_a_call_that_finishes_in_time_is_not_cancelled() -> None:
    assert await _guarded(5, 0) == "done"
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_an_overdue_call_is_cancelled_and_reported_as_expired() -> None:
    assert await _guarded(0.01, 5) == "timeout"
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_many_calls_share_one_timer_and_each_gets_its_own_verdict() -> None:
    results = await asyncio.gather(*(_guarded(0.05, 0.01 if i % 2 else 5) for i in range(20)))
    assert results == ["done" if i % 2 else "timeout" for i in range(20)]


async def test_an_outer_deadline_survives_an_inner_one_on_the_same_task() -> None:
    task = asyncio.current_task()
    assert task is not None
    outer = watchdog().watch(task, 0.05)
    try:
        assert await _guarded(5, 0) == "done"  # the inner span ends; the outer must still fire
        await asyncio.sleep(5)
        verdict = "slept"
    except asyncio.CancelledError:
        verdict = "outer timeout" if outer.expired() else "other"
    finally:
        outer.forget()
    assert verdict == "outer timeout"


async def test_an_outer_deadline_that_fires_inside_an_inner_span_is_not_the_inner_ones() -> None:
    task = asyncio.current_task()
    assert task is not None
    outer = watchdog().watch(task, 0.02)
    seen: list[str] = []
    try:
        try:
            await _guarded(5, 5)
        except asyncio.CancelledError:
            seen.append("inner re-raised")
            raise
    except asyncio.CancelledError:
        seen.append("outer timeout" if outer.expired() else "other")
    finally:
        outer.forget()
    assert seen == ["inner re-raised", "outer timeout"]


async def test_an_outside_cancel_is_not_taken_for_a_timeout() -> None:
    task = asyncio.create_task(_guarded(5, 5))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_the_watchdog_does_not_keep_its_loop_alive() -> None:
    loop = asyncio.new_event_loop()

    async def arm() -> None:
        task = asyncio.current_task()
        assert task is not None
        watchdog().watch(task, 60).forget()  # the timer stays armed, in the loop only

    loop.run_until_complete(arm())
    loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None
