"""``python -m bench profile --profile-test overhead-json|overhead-sse|streaming|concurrency``:
where geppetto's time goes. Runs the ``geppetto`` and ``openai`` drivers in this process under
cProfile against the bench server and prints the top functions by own time, so a budget miss can
be traced to code. ``concurrency`` profiles one gather of ``--sessions`` calls at 50 ms latency.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
from collections.abc import Awaitable, Callable

from bench.peers import CLIENTS, Driver
from bench.server.config import ReplyConfig, base_path


def _target(test: str, chunks: int) -> tuple[ReplyConfig, str, int]:
    if test == "concurrency":
        return ReplyConfig(latency_ms=50, chunks=1, force_json=True), "call", 0
    if test == "overhead-json":
        return ReplyConfig(chunks=1, force_json=True), "call", 0
    if test == "overhead-sse":
        return ReplyConfig(chunks=10), "stream", 0
    if test == "streaming":
        return ReplyConfig(chunks=chunks), "stream", 1
    raise SystemExit(f"unknown profile test {test!r}")


async def _drive(driver: Driver, method: str, count: int, together: bool = False) -> None:
    once: Callable[[], Awaitable[object]] = getattr(driver, method)
    if together:
        await asyncio.gather(*(once() for _ in range(count)))
        return
    for _ in range(count):
        await once()


def profile(
    server_url: str,
    test: str,
    calls: int,
    chunks: int,
    sessions: int = 1000,
    top: int = 30,
    callers: str = "",
) -> None:
    reply, method, fixed = _target(test, chunks)
    together = test == "concurrency"
    count = sessions if together else fixed or max(200, calls)
    for name in ("openai", "geppetto"):

        async def run(client: str = name) -> cProfile.Profile:
            driver = await CLIENTS[client].factory(server_url + base_path(reply))
            await _drive(driver, method, 20)  # warm-up: imports, pools
            profiler = cProfile.Profile()
            profiler.enable()
            await _drive(driver, method, count, together)
            profiler.disable()
            await driver.aclose()
            return profiler

        profiler = asyncio.run(run())
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        total = stats.total_tt  # type: ignore[attr-defined]
        print(f"\n## {name}: {test}, {count} runs, {total / count * 1e6:.0f} us profiled per run\n")
        stats.sort_stats("tottime").print_stats(top)
        if callers:
            stats.print_callers(callers)
        print(stream.getvalue())
