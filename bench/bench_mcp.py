"""MCP tool-call overhead: one stdio server, called through geppetto and through the ``mcp`` client.

Target (issue 16): an MCP stdio tool call through the tool loop costs <= 1.1x the same call made
with the ``mcp`` package's ``ClientSession`` directly, measured in the same process and run.
Rows (per tool call, medians over interleaved rounds):

* ``mcp ClientSession.call_tool`` — the floor: the SDK's session called directly;
* ``ToolRegistry.acall`` — geppetto's executor on an MCP tool (argument check, timeout, result
  mapping), without the loop;
* ``tool loop`` — a session whose scripted model asks for ``calls`` tool calls in one turn (run one
  at a time) and then answers: the whole tool loop, its events and the model's two passes amortised
  over the calls.

Every row talks to the same ``examples/mcp/server.py`` process through the same SDK session (the
floor calls ``MCPConnection.client_session()`` directly), so the rows differ only by what geppetto
adds: two server processes would differ by their own scheduling more than geppetto does. The
server is started pinned to the server CPU and the client then runs on the client CPU, as in the
other suites (no migrations). Rounds are short and interleaved, and the verdict is the median of
each round's own ratio to the floor: a round's rows see the same machine, so the ratio of a
round is steadier than the ratio of two medians taken over minutes of drift; the rows' order
alternates from round to round, so none is always the first after a change of load. The
``client CPU`` columns are this process's CPU time per call (``time.process_time``): what
geppetto itself costs over the SDK, much less disturbed by the other load on the machine than
the wall clock, which the verdict keeps (it is what the issue asks).

    .venv/bin/python bench/bench_mcp.py [--calls N] [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report

SERVER = str(Path(__file__).resolve().parent.parent / "examples" / "mcp" / "server.py")
TARGET = 1.1


async def per_call(fn: Callable[[], Awaitable[int]], calls: int) -> tuple[float, float]:
    """Seconds per tool call, wall clock and this process's CPU: ``fn`` makes some calls and
    says how many. The CPU figure is the client's own work (the server is another process),
    which other load on the machine disturbs far less than the wall clock."""
    done = 0
    cpu = time.process_time()
    started = time.perf_counter()
    while done < calls:
        done += await fn()
    return (time.perf_counter() - started) / done, (time.process_time() - cpu) / done


def _scripted_model(tool: str, calls: int) -> Any:
    from geppetto.engines import FunctionEngine
    from geppetto.turns import Block, BlockKind

    def model(turn: Any) -> Any:
        if any(block.kind is BlockKind.TOOL_USE for block in turn.blocks):
            turn.blocks.append(Block.assistant("done"))
        else:
            for index in range(calls):
                turn.blocks.append(Block.tool_call(f"call-{index}", tool, {"a": index, "b": 1}))
        return turn

    return FunctionEngine(model)


async def measure_async(calls: int, rounds: int, per_turn: int) -> list[dict[str, Any]]:
    from bench.runner import CLIENT_CPU, SERVER_CPU
    from geppetto.mcp import MCPServer, MCPToolset
    from geppetto.session import EngineBuilder, Session
    from geppetto.tools import ToolConfig, ToolRegistry
    from geppetto.turns import Block, Turn

    toolset = MCPToolset([MCPServer.stdio("calc", sys.executable, [SERVER])])
    try:
        with _pinned(SERVER_CPU):  # the server process inherits this CPU
            registry = ToolRegistry(await toolset.tools())
        _pin(CLIENT_CPU)
        client = await toolset.connection("calc").client_session()
        config = ToolConfig(max_parallel_tools=1, max_iterations=3)
        builder = EngineBuilder(_scripted_model("calc_add", per_turn)).with_tools(registry, config)
        session = Session(builder)

        async def direct() -> int:
            result = await client.call_tool("add", {"a": 1, "b": 2})
            assert not result.is_error
            return 1

        async def executor() -> int:
            await registry.acall("calc_add", {"a": 1, "b": 2}, config=config)
            return 1

        async def loop() -> int:
            await session.arun(Turn([Block.user("add")]))
            return per_turn

        samples: dict[str, list[float]] = {"direct": [], "executor": [], "loop": []}
        cpu: dict[str, list[float]] = {key: [] for key in samples}
        fns = {"direct": direct, "executor": executor, "loop": loop}
        for fn in fns.values():  # warm-up: connections, caches, first-call imports
            await per_call(fn, max(20, per_turn))
        for index in range(rounds):  # interleaved, so drift hits every row alike
            order = list(fns) if index % 2 == 0 else list(reversed(fns))  # no row always first
            for key in order:
                wall, own = await per_call(fns[key], calls)
                samples[key].append(wall)
                cpu[key].append(own)
    finally:
        await toolset.aclose()
    floor = statistics.median(samples["direct"])
    cpu_floor = statistics.median(cpu["direct"])
    paired = {
        key: statistics.median(v / d for v, d in zip(samples[key], samples["direct"], strict=True))
        for key in samples
    }
    labels = {
        "direct": "mcp ClientSession.call_tool (floor)",
        "executor": "geppetto ToolRegistry.acall",
        "loop": f"geppetto tool loop ({per_turn} calls per turn, one at a time)",
    }
    rows = []
    for key, label in labels.items():
        median = statistics.median(samples[key])
        rows.append(
            {
                "path": label,
                "us/call": median * 1e6,
                "extra us/call": (median - floor) * 1e6,
                "vs floor": median / floor,
                "median round ratio": paired[key],
                "client CPU us/call": statistics.median(cpu[key]) * 1e6,
                "extra CPU us/call": (statistics.median(cpu[key]) - cpu_floor) * 1e6,
            }
        )
    return rows


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratio = float(rows[-1]["median round ratio"])
    return {
        "check": f"tool loop <= {TARGET}x the mcp client",
        "ratio": ratio,
        "ok": "yes" if ratio <= TARGET else "NO",
    }


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


@contextmanager
def _pinned(cpu: int) -> Iterator[None]:
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    _pin(cpu)
    try:
        yield
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)


def measure(calls: int = 50, rounds: int = 31, per_turn: int = 10) -> dict[str, Any]:
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    try:
        rows = asyncio.run(measure_async(calls, rounds, per_turn))
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
    return {"rows": rows, "verdicts": [verdict(rows)], "spec": {"calls": calls, "rounds": rounds}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="tool calls per row and round")
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds (median)")
    parser.add_argument("--per-turn", type=int, default=10, help="tool calls the model asks for per turn")
    parser.add_argument("--json", default=None, help="write the table here")
    args = parser.parse_args()
    result = measure(args.calls, args.rounds, args.per_turn)
    report(f"MCP stdio tool call ({args.calls} calls x {args.rounds} rounds)", result["rows"], args.json)
    report("MCP budget", result["verdicts"])


if __name__ == "__main__":
    main()
