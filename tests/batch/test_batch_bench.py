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
        wall, cpu = await loopback(server.url, 6, 3)
        assert wall > 0 and cpu >= 0
        wall, cpu = await loopback_bare(server.url, 6, 3)
        assert wall > 0 and cpu >= 0
        assert server.handled == 12


def test_the_bench_server_process_serves_the_loopback_batch() -> None:
    """The server the bench measures against: the raw protocol one (uvloop when installed, whose
    transports are no asyncio.Transport subclasses) answers a batch in its own process."""
    import asyncio

    from bench.server import ServerProcess

    with ServerProcess() as server:
        assert server.name.startswith("raw asyncio.Protocol")
        wall, _ = asyncio.run(loopback(server.url, 4, 2))
    assert wall > 0
