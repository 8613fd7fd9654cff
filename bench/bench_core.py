"""Core runtime benchmarks: CLI cold start and per-run session overhead on the echo engine.

Targets (DESIGN.md / issue 2): ``geppetto --help`` median < 150 ms, ``geppetto infer`` on echo
< 300 ms; session overhead per run < 10% or < 100 us over calling the engine directly, measured in
the same process and run.

    .venv/bin/python bench/bench_core.py [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import median_ms, report
from geppetto.background import background_loop
from geppetto.engines import EchoEngine, RunContext
from geppetto.session import Session
from geppetto.turns import Block, Turn

GEPPETTO = str(Path(sys.executable).with_name("geppetto"))


def time_command(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm the page cache and .pyc files
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return samples


def seed() -> Turn:
    return Turn([Block.system("be brief"), Block.user("hi")])


async def per_call_async(fn: Callable[[], Awaitable[object]], calls: int) -> float:
    for _ in range(200):
        await fn()
    started = time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - started) / calls


def per_call_sync(fn: Callable[[], object], calls: int) -> float:
    for _ in range(200):
        fn()
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def overhead_rows(calls: int) -> list[dict[str, object]]:
    engine = EchoEngine()

    async def direct() -> object:
        return await engine.run(seed(), RunContext())

    session = Session(engine)

    async def through_session() -> object:
        return await session.arun(seed())

    async def measure_async() -> tuple[float, float]:
        return await per_call_async(direct, calls), await per_call_async(through_session, calls)

    direct_async, session_async = asyncio.run(measure_async())

    loop = background_loop()
    sync_session = Session(engine)
    direct_sync = per_call_sync(
        lambda: asyncio.run_coroutine_threadsafe(engine.run(seed(), RunContext()), loop).result(), calls
    )
    session_sync = per_call_sync(lambda: sync_session.run(seed()), calls)
    rows = []
    for name, base, ours in (
        ("async (arun)", direct_async, session_async),
        ("sync (run)", direct_sync, session_sync),
    ):
        overhead = ours - base
        rows.append(
            {
                "path": name,
                "engine direct us": base * 1e6,
                "via session us": ours * 1e6,
                "overhead us": overhead * 1e6,
                "overhead %": 100 * overhead / base,
                "target met": overhead < 100e-6 or overhead / base < 0.10,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="process launches per command")
    parser.add_argument("--calls", type=int, default=3000, help="inferences per overhead measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    python_floor = median_ms(time_command([sys.executable, "-c", "pass"], args.runs))
    startup = []
    for label, argv, target in (
        ("geppetto --help", [GEPPETTO, "--help"], 150),
        ("geppetto infer (echo)", [GEPPETTO, "infer", "hi", "--ai-api-type", "echo"], 300),
    ):
        median = median_ms(time_command(argv, args.runs))
        startup.append({"command": label, "median ms": median, "target ms": target, "met": median < target})
    startup.append(
        {"command": "python -c pass (floor)", "median ms": python_floor, "target ms": "-", "met": "-"}
    )
    report("Cold start (whole process, median)", startup)
    overhead = overhead_rows(args.calls)
    report("Per-run session overhead on echo", overhead)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps({"startup": startup, "overhead": overhead}, indent=2) + "\n")


if __name__ == "__main__":
    main()
