"""Batch throughput: the local executor against a bare ``asyncio.gather`` over ``Session.arun``.

Targets (issue 19), measured here, never as timed tests:

* echo: 10,000 items through ``geppetto.batch`` (items/s, the output written and fsynced) reach
  at least 0.8x the items/s of ``asyncio.gather(*(Session(engine).arun(seed) ...))`` in the same
  process and run (rounds interleaved);
* loopback: 2,000 items against the bench server (its own process) at 50 ms latency with
  concurrency 256 finish within 1.5x of the ideal ``2000 / 256 x 50 ms``.

The loopback server is :class:`bench.server.ServerProcess`'s raw ``asyncio.Protocol`` one (uvloop
when installed), far cheaper per request than aiohttp.web, so the client is what is measured;
its name is a row of the report. Beside the wall times the report gives the client's CPU time
(``time.process_time``) of the batch and of the bare ``Session.arun`` floor in the same rounds:
their difference per item is the batch layer's own cost, which load on a shared machine blurs
far less than wall time.

    .venv/bin/python bench/bench_batch.py [--items N] [--rounds N] [--server-items N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report

ECHO_TARGET = 0.8
SERVER_TARGET = 1.5


async def bare_gather(count: int) -> float:
    from geppetto.engines.echo import EchoEngine
    from geppetto.session import Session
    from geppetto.turns.model import Turn

    engine = EchoEngine()
    started = time.perf_counter()
    seeds = [Turn.builder().user(f"item {n}").build() for n in range(count)]
    await asyncio.gather(*(Session(engine).arun(seed) for seed in seeds))
    return count / (time.perf_counter() - started)


async def batch_local(count: int, concurrency: int, out_dir: Path) -> float:
    from geppetto.batch import BatchConfig, BatchContext, BatchItem
    from geppetto.batch.plan import BatchPlan, arun_local
    from geppetto.engines.echo import EchoEngine

    output = out_dir / f"out-{time.monotonic_ns()}.jsonl"
    written = 0

    def on_written(_: Any) -> None:
        nonlocal written
        written += 1

    started = time.perf_counter()
    items = [BatchItem(id=n, prompt=f"item {n}") for n in range(count)]
    plan = BatchPlan(items=items, config=BatchConfig(), output=output, concurrency=concurrency)
    await arun_local(plan, on_written, BatchContext(plan.config, engine=EchoEngine()))
    rate = count / (time.perf_counter() - started)
    assert written == count
    output.unlink()
    return rate


def _flags(url: str) -> dict[str, Any]:
    return {
        "ai-api-type": "openai",
        "ai-engine": "m",
        "openai-base-url": url + "/d50/json/v1",
        "openai-api-key": "sk-bench",
        "max-retries": 0,
    }


async def loopback(url: str, count: int, concurrency: int) -> tuple[float, float]:
    """``(wall s, CPU s)`` of the batch: ``run`` over ``count`` items (results counted)."""
    from geppetto.batch import BatchConfig, BatchItem, run

    flags = _flags(url)
    items = [BatchItem(id=n, prompt=f"item {n}") for n in range(count)]
    started, cpu = time.perf_counter(), time.process_time()
    failed = 0
    async for result in run(items, config=BatchConfig(flags=flags), concurrency=concurrency):
        failed += not result.ok
    if failed:
        raise RuntimeError(f"{failed} loopback item(s) failed")
    return time.perf_counter() - started, time.process_time() - cpu


async def loopback_bare(url: str, count: int, concurrency: int) -> tuple[float, float]:
    """The same requests as :func:`loopback` through ``Session.arun`` under a semaphore: the floor."""
    from geppetto.engines.providers import create_provider_engine
    from geppetto.session import Session
    from geppetto.settings import Settings, apply_fields
    from geppetto.turns.model import Turn

    settings = apply_fields(Settings(), _flags(url))
    engine = create_provider_engine(settings, environ={})
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await Session(engine).arun(Turn.builder().user(f"item {n}").build())

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(n) for n in range(count)))
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    await engine.aclose()
    return wall, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-items", type=int, default=2_000)
    parser.add_argument("--server-concurrency", type=int, default=256)
    parser.add_argument("--server-rounds", type=int, default=4, help="interleaved loopback rounds")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    gather_rates: list[float] = []
    batch_rates: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bare_gather(200))  # warm imports
        for _ in range(args.rounds):
            gather_rates.append(asyncio.run(bare_gather(args.items)))
            batch_rates.append(asyncio.run(batch_local(args.items, args.concurrency, Path(tmp))))
    gather = statistics.median(gather_rates)
    batch = statistics.median(batch_rates)

    from bench.server import ServerProcess

    server = ServerProcess().start()  # the raw asyncio.Protocol server (uvloop when installed)
    try:
        asyncio.run(loopback(server.url, 50, 50))  # warm the client and the server
        batch_runs, bare_runs = [], []
        for round_ in range(args.server_rounds):  # interleaved, the order alternating
            n, c = args.server_items, args.server_concurrency
            if round_ % 2 == 0:
                batch_runs.append(asyncio.run(loopback(server.url, n, c)))
                bare_runs.append(asyncio.run(loopback_bare(server.url, n, c)))
            else:
                bare_runs.append(asyncio.run(loopback_bare(server.url, n, c)))
                batch_runs.append(asyncio.run(loopback(server.url, n, c)))
    finally:
        server.stop()
    wall = min(w for w, _ in batch_runs)
    floor = min(w for w, _ in bare_runs)
    batch_cpu = statistics.median(c for _, c in batch_runs)
    bare_cpu = statistics.median(c for _, c in bare_runs)
    ideal = args.server_items / args.server_concurrency * 0.05
    rows: list[dict[str, Any]] = [
        {"row": "bare asyncio.gather over Session.arun", "value": round(gather), "unit": "items/s"},
        {
            "row": f"geppetto.batch local, concurrency {args.concurrency}, fsynced",
            "value": round(batch),
            "unit": "items/s",
        },
        {"row": f"echo ratio (target >= {ECHO_TARGET})", "value": round(batch / gather, 3), "unit": "x"},
        {
            "row": f"loopback 50 ms: {args.server_items} items, concurrency {args.server_concurrency}",
            "value": round(wall, 3),
            "unit": "s",
        },
        {"row": "loopback server", "value": server.name, "unit": ""},
        {"row": "loopback, bare Session.arun under a semaphore", "value": round(floor, 3), "unit": "s"},
        {
            "row": "loopback client CPU per item: batch (median)",
            "value": round(batch_cpu / args.server_items * 1e6),
            "unit": "us",
        },
        {
            "row": "loopback client CPU per item: bare Session.arun (median)",
            "value": round(bare_cpu / args.server_items * 1e6),
            "unit": "us",
        },
        {
            "row": "loopback batch layer CPU per item (batch - bare)",
            "value": round((batch_cpu - bare_cpu) / args.server_items * 1e6),
            "unit": "us",
        },
        {"row": "loopback ideal (items / concurrency x 50 ms)", "value": round(ideal, 3), "unit": "s"},
        {"row": f"loopback ratio (target <= {SERVER_TARGET})", "value": round(wall / ideal, 3), "unit": "x"},
    ]
    report("batch: local executor vs bare gather; loopback at 50 ms", rows, args.json)


if __name__ == "__main__":
    main()
