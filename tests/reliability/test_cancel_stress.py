"""Cancellation stress: rapid start/cancel/wait cycles on a provider engine over loopback HTTP.

Cancels land at every stage of a run (before its task starts, while the request is in flight,
mid-stream) through both ``handle.cancel()`` and ``session.cancel_active()``. Afterwards nothing
may be left behind: no pending task, no extra thread, no open connection on the server, no extra
file descriptor, and every cancelled turn is in history with its input intact.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from bench.server import LoopbackServer, ReplyConfig, ThreadedServer

from geppetto.background import background_loop
from geppetto.engines.providers import engine_from_options
from geppetto.engines.providers.base import ProviderEngine
from geppetto.errors import InferenceCancelled
from geppetto.events.types import Event, EventType
from geppetto.session import Session
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

RESULT = "geppetto.inference_result@v1"
# A long paced stream: a run that is not cancelled would take seconds, so every cycle is cut short.
SLOW_STREAM = ReplyConfig(chunks=2000, interval_ms=2)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with ThreadedServer(SLOW_STREAM) as running:
        yield running


def engine(server: LoopbackServer) -> ProviderEngine:
    return engine_from_options(
        "openai", "x", openai_base_url=server.base_url(), openai_api_key="k", environ={}, max_retries=0
    )


def threads_besides_executors() -> set[int]:
    """Idents of live threads, less the event loops' default-executor workers (a bounded, reused
    pool that aiohttp's resolver uses). A thread started during the cycles and still alive after
    them is a leak; threads of earlier tests that end meanwhile are not."""
    return {t.ident or 0 for t in threading.enumerate() if not t.name.startswith("asyncio_")}


def new_threads(before: set[int]) -> list[str]:
    """Names of live threads (besides executor workers) that were not in ``before``."""
    added = threads_besides_executors() - before
    return [t.name for t in threading.enumerate() if (t.ident or 0) in added]


def background_tasks(loop: asyncio.AbstractEventLoop) -> int:
    """Tasks pending on the runtime's shared background loop (other tests may own some)."""

    async def pending() -> int:
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])

    return asyncio.run_coroutine_threadsafe(pending(), loop).result(5)


def executor_workers() -> int:
    return len([t for t in threading.enumerate() if t.name.startswith("asyncio_")])


def received_more_than(server: LoopbackServer, count: int) -> Callable[[], bool]:
    return lambda: server.handled > count


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def eventually(check: Callable[[], bool], limit_s: float = 10.0) -> bool:
    """Poll ``check`` until it holds (bounded; the bound is a hang guard, not a performance gate)."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def aeventually(check: Callable[[], bool], limit_s: float = 10.0) -> bool:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class FirstText:
    """Sink that signals the first text event of a run."""

    def __init__(self) -> None:
        self.seen = asyncio.Event()

    def publish(self, event: Event) -> None:
        if event.type is EventType.PARTIAL:
            self.seen.set()


def check_history(session: Session, count: int) -> dict[str, int]:
    """Every cycle left its turn: the user block first and unchanged; tally how each ended."""
    turns = session.turns()
    assert len(turns) == count
    tally: dict[str, int] = {}
    for index, turn in enumerate(turns):
        assert turn.blocks[0].kind is BlockKind.USER and turn.blocks[0].payload == {"text": f"q{index}"}
        result = turn.metadata.get(RESULT)
        outcome = "not started" if result is None else str(result["finish_class"])
        assert outcome in ("not started", "interrupted"), outcome
        texts = [b.payload["text"] for b in turn.blocks if b.kind is BlockKind.LLM_TEXT]
        assert all(text.startswith("t0 ") for text in texts)
        tally[outcome] = tally.get(outcome, 0) + 1
    return tally


@pytest.mark.timeout(300)
async def test_async_start_cancel_wait_cycles_leave_nothing_behind(server: LoopbackServer) -> None:
    await start_cancel_wait_cycles(server, 1_000)


@pytest.mark.heavy
@pytest.mark.timeout(900)
async def test_async_start_cancel_wait_cycles_heavy(server: LoopbackServer) -> None:
    """The same with 10,000 cycles; deselected by default (pyproject addopts), run with ``-m heavy``."""
    await start_cancel_wait_cycles(server, 10_000)


async def start_cancel_wait_cycles(server: LoopbackServer, cycles: int) -> None:
    provider = engine(server)
    session = Session(provider)
    threads, fds = threads_besides_executors(), open_fds()
    mid_stream = 0
    for index in range(cycles):
        sink = FirstText()
        handle = session.start(Turn([Block.user(f"q{index}")]), sinks=[sink])
        stage = index % 4
        if stage == 1:
            await asyncio.sleep(0)  # the task has started: the request is being built or sent
        elif stage == 2:
            handled = server.handled
            assert await aeventually(received_more_than(server, handled))  # the server has the request
        elif stage == 3:
            await asyncio.wait_for(sink.seen.wait(), 10)  # text is streaming
            mid_stream += 1
        if index % 2:
            handle.cancel()
        else:
            session.cancel_active()
        with pytest.raises(InferenceCancelled):
            await handle
        assert not session.is_running and handle.done()

    tally = check_history(session, cycles)
    assert tally.get("interrupted", 0) >= mid_stream > 0
    # Cancelled streams close their connections instead of returning them to the pool half-read.
    assert await aeventually(lambda: server.open_connections() <= 1), server.open_connections()
    await provider.aclose()
    assert await aeventually(lambda: server.open_connections() == 0)
    current = asyncio.current_task()
    assert await aeventually(lambda: not [t for t in asyncio.all_tasks() if t is not current])
    assert eventually(lambda: not new_threads(threads)), new_threads(threads)
    assert executor_workers() <= min(32, (os.cpu_count() or 1) + 4)
    assert await aeventually(lambda: open_fds() <= fds + 2), (open_fds(), fds)


@pytest.mark.timeout(300)
def test_sync_start_cancel_wait_cycles_from_another_thread(server: LoopbackServer) -> None:
    """The synchronous API: runs on the runtime's background loop, cancelled and waited from here."""
    provider = engine(server)
    session = Session(provider)
    loop = background_loop()
    threads, tasks_before = threads_besides_executors(), background_tasks(loop)
    count = 200
    for index in range(count):
        handled = server.handled  # read first: the run starts at once on the background loop
        handle = session.start(Turn([Block.user(f"q{index}")]))
        if index % 2:
            assert eventually(received_more_than(server, handled))
            handle.cancel()
        else:
            session.cancel_active()
        with pytest.raises(InferenceCancelled):
            handle.wait(10)
        assert not session.is_running

    check_history(session, count)
    asyncio.run_coroutine_threadsafe(provider.aclose(), loop).result(10)
    assert eventually(lambda: server.open_connections() == 0)

    assert eventually(lambda: background_tasks(loop) <= tasks_before)
    assert eventually(lambda: not new_threads(threads)), new_threads(threads)
