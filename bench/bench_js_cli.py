"""``require("geppetto")`` benchmarks: module call round trips, a 1,000-block turn through the module's
codec, and the cold start of ``geppetto js run``.

Targets (issue 4, DESIGN.md "Performance budgets"): >= 50k JS -> host round trips per second; a
1,000-block turn across the boundary < 20 ms; ``geppetto js run`` on a trivial script < 250 ms
median. The turn rows go through the real module path (JS object -> JSON -> ``decode_turn`` ->
``Turn`` -> ``encode_turn`` -> JSON -> JS object), so they include the codec, not just the bridge.

    .venv/bin/python bench/bench_js_cli.py [--calls N] [--repeats N] [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import median_ms, report
from geppetto.js import JSRuntime
from geppetto.js.module import install_geppetto_module


def rate(rt: JSRuntime, expr: str, calls: int) -> float:
    def loop(n: int) -> str:
        return (
            f"(() => {{ const g = require('geppetto'); let x; for (let i = 0; i < {n}; i++) x = {expr}; }})()"
        )

    rt.eval(loop(500))  # warm up
    started = time.perf_counter()
    rt.eval(loop(calls))
    return calls / (time.perf_counter() - started)


def round_trip_rows(rt: JSRuntime, calls: int) -> list[dict[str, Any]]:
    rt.eval("var gs = require('geppetto').createSession({engine: require('geppetto').engines.echo()})")
    rows = []
    for label, expr in (
        ("session.isRunning() (method on a host object)", "gs.isRunning()"),
        ("session.turnCount()", "gs.turnCount()"),
        ("turns.newUserBlock('x') (uuid + encode)", "g.turns.newUserBlock('x')"),
    ):
        value = rate(rt, expr, calls)
        rows.append(
            {"call": label, "calls/s": round(value), "target calls/s": 50_000, "met": value >= 50_000}
        )
    return rows


def turn_js(blocks: int) -> str:
    return (
        "({id: 'turn-1', blocks: Array.from({length: BLOCKS}, (_, i) => ({id: 'b' + i, "
        "kind: i % 2 ? 'user' : 'llm_text', role: i % 2 ? 'user' : 'assistant', "
        "payload: {text: 'message number ' + i + ' with some ordinary text in it'}, "
        "metadata: {middleware: 'bench', index: i}})), "
        "metadata: {session_id: 's-1', usage: {input_tokens: 1234, output_tokens: 567}}, "
        "data: {tool_config: {enabled: true}}})"
    ).replace("BLOCKS", str(blocks))


def per_call_ms(rt: JSRuntime, code: str, repeats: int) -> float:
    fn = rt.eval(f"(() => {{ {code} }})")
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def turn_rows(rt: JSRuntime, blocks: int, repeats: int) -> list[dict[str, Any]]:
    rt.eval(
        f"var bigTurn = {turn_js(blocks)}; var bs = require('geppetto').createSession("
        "{engine: require('geppetto').engines.echo()}); bs.append(bigTurn); 1"
    )
    rows = []
    for label, code in (
        (
            "turns.normalize(turn): JS -> decode -> encode -> JS",
            "require('geppetto').turns.normalize(bigTurn)",
        ),
        ("session.append(turn): JS -> Turn, stored, encoded back", "bs.append(bigTurn)"),
        ("session.latest(): history copy -> JS", "bs.latest()"),
    ):
        ms = per_call_ms(rt, code, repeats)
        rows.append({"path": label, "blocks": blocks, "median ms": ms, "target ms": 20, "met": ms < 20})
    return rows


def command() -> list[str]:
    from geppetto.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["js", "run", "x.js"])
    except SystemExit:
        return [sys.executable, "-m", "geppetto.cli.js"]
    return [sys.executable, "-m", "geppetto", "js"]


def cold_start_rows(runs: int) -> list[dict[str, Any]]:
    scripts = {
        "trivial script": "const x = 1 + 1; if (x !== 2) throw new Error('math');\n",
        "require('geppetto').version": "if (!require('geppetto').version) throw new Error('no');\n",
        "one echo session run": (
            "const g = require('geppetto');\n"
            "g.createSession({engine: g.engines.echo()}).run({blocks: [g.turns.newUserBlock('hi')]});\n"
        ),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, source in scripts.items():
            path = Path(tmp) / "bench.js"
            path.write_text(source)
            argv = [*command(), "run", str(path)]
            subprocess.run(argv, check=True, capture_output=True)  # warm the OS caches
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True)
                samples.append(time.perf_counter() - started)
            ms = median_ms(samples)
            target = 250 if label == "trivial script" else "-"
            met = ms < 250 if label == "trivial script" else "-"
            rows.append({"geppetto js run": label, "median ms": ms, "target ms": target, "met": met})
    floor = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        floor.append(time.perf_counter() - started)
    rows.append(
        {
            "geppetto js run": "python -c pass (floor)",
            "median ms": median_ms(floor),
            "target ms": "-",
            "met": "-",
        }
    )
    return rows


def measure(calls: int, repeats: int, runs: int) -> dict[str, list[dict[str, Any]]]:
    """Every table of this script, for ``python -m bench js`` and for ``main``."""
    with JSRuntime() as rt:
        install_geppetto_module(rt)
        round_trips = round_trip_rows(rt, calls)
        turns = turn_rows(rt, 1000, repeats)
    return {"calls": round_trips, "turns": turns, "cold": cold_start_rows(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round-trip measurement")
    parser.add_argument("--repeats", type=int, default=15, help="samples per turn measurement")
    parser.add_argument("--runs", type=int, default=10, help="cold starts per measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    results = measure(args.calls, args.repeats, args.runs)
    calls, turns, cold = results["calls"], results["turns"], results["cold"]
    report("require('geppetto') calls (JS -> host -> JS)", calls)
    report("1,000-block turn through the module codec (median per call)", turns)
    report("Cold start of geppetto js run", cold)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
