"""``bench/bench_batch.py`` still works: its drivers run a tiny batch each (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench.bench_batch import bare_gather, batch_local, loopback, loopback_bare
from bench.server import LoopbackServer as BenchServer


async def test_echo_drivers_run_every_item(tmp_path: Path) -> None:
    assert await bare_gather(20) > 0
    assert await batch_local(20, 4, tmp_path) > 0  # asserts internally that all 20 were written


async def test_loopback_drivers_run_every_item() -> None:
    async with BenchServer() as server:  # the bench's own server, in this process (50 ms replies)
        assert await loopback(server.url, 6, 3) > 0
        assert await loopback_bare(server.url, 6, 3) > 0
        assert server.handled == 12
