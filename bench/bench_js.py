"""JS host benchmarks: boundary round trips, a 1,000-block turn across the boundary, cold start,
and the agent API's per-run cost against the seed API's.

Targets (issue 4 / host-layer brief): JS -> host calls >= 50k/s; a 1,000-block turn-shaped object
across the boundary in either direction < 20 ms; ``geppetto js run`` on a trivial script < 250 ms
median (measured here as a process that imports the host, runs a trivial script and exits, until
the CLI command exists). Issue 14: ``session.next().user(..).run()`` on echo within 1.2x of the
seed path's per-run cost (``createSession`` + ``run``), both measured in the same run.

    .venv/bin/python bench/bench_js.py [--calls N] [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import median_ms, report
from geppetto.js import JSCallback, JSRuntime


class Target:
    __js_methods__ = ("bump",)

    def bump(self, i: int) -> int:
        return i + 1


def turn(blocks: int) -> dict[str, Any]:
    return {
        "id": "turn-1",
        "blocks": [
            {
                "id": f"block-{i}",
                "kind": "user" if i % 2 else "llm_text",
                "role": "user" if i % 2 else "assistant",
                "payload": {"text": f"message number {i} with some ordinary text in it"},
                "metadata": {"geppetto.middleware@v1": "bench", "index": i},
            }
            for i in range(blocks)
        ],
        "metadata": {"session_id": "s-1", "usage": {"input_tokens": 1234, "output_tokens": 567}},
        "data": {"tool_config": {"enabled": True}},
    }


def call_rate(rt: JSRuntime, expr: str, calls: int) -> float:
    rt.eval(f"(() => {{ let x = 0; for (let i = 0; i < 1000; i++) x = {expr}; return x }})()")  # warm up
    started = time.perf_counter()
    rt.eval(f"(() => {{ let x = 0; for (let i = 0; i < {calls}; i++) x = {expr}; return x }})()")
    return calls / (time.perf_counter() - started)


def round_trip_rows(rt: JSRuntime, calls: int) -> list[dict[str, Any]]:
    rt.set_global("bump", lambda i: i + 1)
    rt.set_global("target", Target())
    rt.register_function("bump", lambda i: i + 1)
    rt.define_js_module("bench", "exports.bump = host.fn('bump')")
    rt.eval("var viaModule = require('bench').bump")
    rows = []
    for label, expr in (
        ("host function (global)", "bump(x)"),
        ("host object method", "target.bump(x)"),
        ("registered function via module", "viaModule(x)"),
    ):
        rate = call_rate(rt, expr, calls)
        rows.append({"path": label, "calls/s": round(rate), "target calls/s": 50_000, "met": rate >= 50_000})
    cb = rt.eval("(x) => x + 1")
    assert isinstance(cb, JSCallback)
    started = time.perf_counter()
    n = calls // 4
    for i in range(n):
        cb(i)
    rate = n / (time.perf_counter() - started)
    rows.append(
        {
            "path": "other thread -> JS callback (owner queue)",
            "calls/s": round(rate),
            "target calls/s": "-",
            "met": "-",
        }
    )
    return rows


def per_call_ms(fn: Any, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def turn_rows(rt: JSRuntime, blocks: int, repeats: int) -> list[dict[str, Any]]:
    data = turn(blocks)
    rt.set_global("makeTurn", lambda: data)
    rt.set_global("takeTurn", lambda t: len(t["blocks"]))
    rt.eval(f"var jsTurn = makeTurn(); jsTurn.blocks.length === {blocks}")
    identity = rt.eval("(t) => t")
    assert isinstance(identity, JSCallback)
    rows = []
    for label, fn in (
        ("host -> JS (JS calls host, gets the turn)", lambda: rt.eval("makeTurn().blocks.length")),
        ("JS -> host (JS passes the turn to host)", lambda: rt.eval("takeTurn(jsTurn)")),
        ("host -> JS -> host (callback returns it)", lambda: identity(data)),
    ):
        ms = per_call_ms(fn, repeats)
        rows.append({"direction": label, "blocks": blocks, "median ms": ms, "target ms": 20, "met": ms < 20})
    return rows


def cold_start_rows(runs: int) -> list[dict[str, Any]]:
    in_process = []
    for _ in range(runs):
        started = time.perf_counter()
        rt = JSRuntime()
        rt.run_script("console.log")
        rt.close()
        in_process.append(time.perf_counter() - started)
    script = (
        "from geppetto.js import JSRuntime\n"
        "rt = JSRuntime()\n"
        "rt.run_script(\"const x = 1 + 1; if (x !== 2) throw new Error('math')\")\n"
        "rt.close()\n"
    )
    argv = [sys.executable, "-c", script]
    subprocess.run(argv, check=True, capture_output=True)
    whole = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        whole.append(time.perf_counter() - started)
    floor = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        floor.append(time.perf_counter() - started)
    return [
        {"what": "JSRuntime() + trivial script + close (in process)", "median ms": median_ms(in_process)},
        {"what": "process: import host, run trivial script, exit", "median ms": median_ms(whole)},
        {"what": "python -c pass (floor)", "median ms": median_ms(floor)},
    ]


# Each loop body is one run; the seed and agent variants do the same work (a fresh conversation
# of one turn, or one more turn of a running conversation, on the echo engine).
AGENT_LOOPS = {
    "seed: createSession({engine}) + run(seed)": (
        "const e = g.engines.echo();",
        "g.createSession({engine: e}).run({blocks: [g.turns.newUserBlock('hi')]});",
    ),
    "agent: session().build().next().user(..).run()": (
        "const a = g.agent().engine(g.engines.echo()).build();",
        "a.session().build().next().user('hi').run();",
    ),
    "seed: one more turn, session.run(next seed)": (
        "const s = g.createSession({engine: g.engines.echo()});",
        "s.run({blocks: [...(s.turnCount() ? s.latest().blocks : []), g.turns.newUserBlock('hi')]});",
    ),
    "agent: one more turn, session.next().user(..).run()": (
        "const s = g.agent().engine(g.engines.echo()).build().session().build();",
        "s.next().user('hi').run();",
    ),
}


def agent_rows(runs: int, rounds: int = 9) -> list[dict[str, Any]]:
    """Median per-run cost of each loop over ``rounds`` rounds of ``runs`` runs (conversations are
    restarted every round, so the multi-turn loops see ``runs`` turns at most)."""
    from geppetto.js.module import install_geppetto_module

    samples: dict[str, list[float]] = {label: [] for label in AGENT_LOOPS}
    with JSRuntime() as rt:
        install_geppetto_module(rt)
        rt.run_script("require('geppetto').agent().engine(require('geppetto').engines.echo()).build()")
        for _ in range(rounds):
            for label, (setup, body) in AGENT_LOOPS.items():
                loop = f"for (let i = 0; i < {runs}; i++) {{ {body} }}"
                script = f"const g = require('geppetto'); {setup}\n{loop}"
                started = time.perf_counter()
                rt.run_script(script)
                samples[label].append((time.perf_counter() - started) / runs)
    per_run = {label: statistics.median(values) * 1000 for label, values in samples.items()}
    pairs = {
        "agent: session().build().next().user(..).run()": "seed: createSession({engine}) + run(seed)",
        "agent: one more turn, session.next().user(..).run()": "seed: one more turn, session.run(next seed)",
    }
    rows = []
    for label, ms in per_run.items():
        base = pairs.get(label)
        ratio = ms / per_run[base] if base else None
        row: dict[str, Any] = {"loop": label, "runs": runs, "median ms/run": ms}
        row["x seed"] = "" if ratio is None else round(ratio, 2)
        row["met (<= 1.2x)"] = "" if ratio is None else ratio <= 1.2
        rows.append(row)
    return rows


EMITTER_SCRIPT = """
const g = require('geppetto');
const EventEmitter = require('events');
const emitter = new EventEmitter();
let deltas = 0, last = '';
emitter.on('text-delta', (ev) => { deltas++; last = ev.text; });
const reply = Array.from({length: CHUNKS}, (_, i) => 'w' + i).join(' ');
const session = g.agent().engine(g.engines.echo({reply})).events(emitter).build().session().build();
const t0 = Date.now();
await session.next().user('go').runAsync().promise;
const ms = Date.now() - t0;
if (deltas !== CHUNKS || last !== reply) throw new Error('lost deltas: ' + deltas);
report({ms});
"""


def emitter_rows(chunks: int = 10_000, rounds: int = 3) -> list[dict[str, Any]]:
    """A ``chunks``-chunk echo stream delivered as ``text-delta`` events to a JS emitter listener
    through ``agent().events(emitter)`` (issue 14 target: >= 50k events/s)."""
    from geppetto.js.module import install_geppetto_module

    results: list[dict[str, Any]] = []
    with JSRuntime() as rt:
        install_geppetto_module(rt)
        rt.set_global("report", results.append)
        for _ in range(rounds):
            rt.run_script(EMITTER_SCRIPT.replace("CHUNKS", str(chunks)))
    ms = statistics.median(r["ms"] for r in results)
    rate = chunks / (ms / 1000) if ms else float("inf")
    return [
        {
            "stream": f"{chunks:,} chunks -> text-delta listener",
            "emitter": 'require("events")',
            "median ms": ms,
            "events/s": round(rate),
            "met (>= 50k/s)": rate >= 50_000,
        }
    ]


def measure(calls: int, repeats: int, runs: int) -> dict[str, list[dict[str, Any]]]:
    """Every table of this script, for ``python -m bench js`` and for ``main``; ``runs=0`` skips
    the cold starts (``python -m bench js`` times ``geppetto js run`` itself instead)."""
    with JSRuntime() as rt:
        round_trips = round_trip_rows(rt, calls)
        turns = turn_rows(rt, 1000, repeats)
    agent = agent_rows(200)
    emitter = emitter_rows()
    cold = cold_start_rows(runs) if runs else []
    return {"calls": round_trips, "turns": turns, "agent": agent, "emitter": emitter, "cold": cold}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000, help="JS -> host calls per measurement")
    parser.add_argument("--repeats", type=int, default=15, help="samples per turn measurement")
    parser.add_argument("--runs", type=int, default=10, help="cold starts per measurement")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    results = measure(args.calls, args.repeats, args.runs)
    calls, turns, cold = results["calls"], results["turns"], results["cold"]
    report("JS -> host round trips", calls)
    report("1,000-block turn across the boundary (median per crossing)", turns)
    report("Agent API vs seed API: per-run cost on echo", results["agent"])
    report("Agent events to a JS emitter", results["emitter"])
    report("Cold start", cold)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
