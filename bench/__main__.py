"""``python -m bench [overhead|streaming|concurrency|coldstart|js|mcp|embed|otel|all|profile] [--json PATH]``

Side-by-side comparisons against one loopback OpenAI-compatible server (its own process), every
client in fresh processes, rounds interleaved; medians and ratios against the ``openai`` SDK on
its aiohttp transport. See docs/performance.md for the latest figures and how to read them.

The ``js`` suite runs in this process (pinned to the clients' CPU): JS -> host round trips, a
1,000-block turn across the boundary (bare bridge and ``require('geppetto')``), and the cold start
of ``geppetto js run``, measured by bench/bench_js.py and bench/bench_js_cli.py. The ``mcp`` suite
(bench/bench_mcp.py) times an MCP stdio tool call through the tool loop against the ``mcp`` client;
``embed`` (bench/bench_embed.py) compares embedding throughput with raw aiohttp and times the caches.

Peers (litellm, pydantic-ai, llm) are measured when installed (``pip install -e '.[bench]'``)
and skipped with the reason otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._report import report
from bench.noise import NOISE_LABEL, noise
from bench.peers import CLIENTS
from bench.runner import Plan, pinned, run_plan
from bench.server import ReplyConfig, ServerProcess
from bench.tables import (
    concurrency_rows,
    concurrency_verdict,
    js_round_trip_rows,
    js_turn_rows,
    js_verdicts,
    overhead_rows,
    overhead_verdict,
    streaming_rows,
    streaming_verdict,
)

ALL_CLIENTS = list(CLIENTS)
CONCURRENCY_CLIENTS = [name for name in ALL_CLIENTS if name != "llm"]  # llm builds a client per call


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for dist in ("geppetto", "openai", "aiohttp", "httpx2", "litellm", "pydantic-ai-slim", "llm"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    peers = os.environ.get("BENCH_PEERS_PATH", "")  # see bench.runner: peers installed apart
    if peers:
        for found in metadata.distributions(path=[peers]):
            name = found.metadata["Name"]
            if name in ("litellm", "pydantic-ai-slim", "llm", "openai"):
                key = name if name != "openai" else "openai (peers' own)"
                out[key] = found.version
    return out


def pick(names: list[str], wanted: list[str] | None) -> list[str]:
    return [name for name in names if not wanted or name in wanted]


def sources(args: argparse.Namespace) -> dict[str, str]:
    """``--compare LABEL=DIR``: label -> a geppetto source tree (a ``src`` folder)."""
    out: dict[str, str] = {}
    for item in args.compare or ():
        label, sep, folder = item.partition("=")
        if not sep or not label or not Path(folder, "geppetto").is_dir():
            raise SystemExit(f"--compare wants LABEL=DIR with DIR/geppetto a package, got {item!r}")
        out[label] = str(Path(folder).resolve())
    return out


def with_compared(names: list[str], args: argparse.Namespace) -> list[str]:
    """The clients plus one ``geppetto@LABEL`` row per ``--compare`` tree, next to ``geppetto``."""
    extra = [f"geppetto@{label}" for label in sources(args)]
    return [*names, *extra]


def run_overhead(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    for mode, reply, title in (
        (
            "json",
            ReplyConfig(chunks=1, force_json=True),
            "one JSON completion, the same bytes for every client",
        ),
        ("sse", ReplyConfig(chunks=10), "a streamed 10-chunk reply (stream=true for every client)"),
    ):
        spec = {
            "mode": mode,
            "chunks": reply.chunks,
            "warmup": args.warmup,
            "reps": args.reps,
            "calls": args.calls,
        }
        clients = with_compared(pick(ALL_CLIENTS, args.clients), args)
        plan = Plan("overhead", reply, spec, clients, args.rounds)
        outcomes = run_plan(plan, url, sources=sources(args))
        rows = overhead_rows(outcomes)
        verdicts = [overhead_verdict(outcomes, c) for c in ("geppetto", "geppetto-engine")]
        shape = f"{args.calls} calls x {args.reps} reps x {args.rounds} processes"
        report(f"Per call, 0 ms latency: {title} ({shape})", rows)
        report("Per-call budget", verdicts)
        results[f"overhead_{mode}"] = {"rows": rows, "verdicts": verdicts, "spec": spec}


def run_streaming(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    reply = ReplyConfig(chunks=args.chunks)
    spec = {"chunks": args.chunks, "reps": max(2, args.reps - 1)}
    clients = with_compared(pick(ALL_CLIENTS, args.clients), args)
    plan = Plan("streaming", reply, spec, clients, args.rounds)
    outcomes = run_plan(plan, url, sources=sources(args))
    rows = streaming_rows(outcomes, args.chunks)
    verdicts = [streaming_verdict(outcomes, args.chunks, c) for c in ("geppetto", "geppetto-engine")]
    report(f"Streaming: one {args.chunks:,}-chunk stream, request to last text event", rows)
    report("Streaming budget", verdicts)
    results["streaming"] = {"rows": rows, "verdicts": verdicts, "spec": spec}


def run_concurrency(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    latency = args.latency_ms
    ideal = latency / 1000
    spec = {"sessions": args.sessions, "warmup": 5, "reps": args.reps, "chunks": 1}
    plan = Plan(
        "concurrency",
        ReplyConfig(latency_ms=latency, chunks=1, force_json=True),
        spec,
        with_compared(pick(CONCURRENCY_CLIENTS, args.clients), args),
        args.rounds,
    )
    outcomes = run_plan(plan, url, sources=sources(args))
    rows = concurrency_rows(outcomes, args.sessions, ideal)
    if not args.clients or "geppetto" in args.clients:
        # geppetto always asks for a stream: also measure it getting a real 10-chunk SSE reply.
        sse = run_plan(
            Plan(
                "concurrency",
                ReplyConfig(latency_ms=latency, chunks=10),
                {**spec, "chunks": 10},
                ["geppetto"],
                args.rounds,
            ),
            url,
        )
        sse_rows = concurrency_rows(sse, args.sessions, ideal)
        for row in sse_rows:
            row["client"] = "geppetto (10-chunk SSE)"
        rows += sse_rows
    verdicts = [concurrency_verdict(outcomes, ideal, c) for c in ("geppetto", "geppetto-engine")]
    report(f"Concurrency: {args.sessions:,} calls started together, {latency:g} ms server latency", rows)
    report("Concurrency budget", verdicts)
    results["concurrency"] = {"rows": rows, "verdicts": verdicts, "spec": spec, "ideal_s": ideal}


def run_coldstart(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    from bench.coldstart import measure

    rows, extra = measure(url + "/n1/v1", args.runs)
    report("Cold start (whole process, median)", rows)
    print(f"\ngeppetto js: {extra.get('js')}")
    if "js us/call" in extra:
        print(f"geppetto js run, per inference: {extra['js us/call']:.0f} us")
    results["coldstart"] = {"rows": rows, **extra}


def run_js(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    """JS host figures; needs no server (``url`` is unused)."""
    from bench import bench_js, bench_js_cli

    repeats = max(5, 5 * args.reps)
    with pinned():
        bridge = bench_js.measure(args.js_calls, repeats, runs=0)
        module = bench_js_cli.measure(args.js_calls, repeats, args.runs)
    calls = js_round_trip_rows(bridge["calls"], module["calls"])
    turns = js_turn_rows(bridge["turns"], module["turns"])
    verdicts = js_verdicts(calls, turns, module["cold"])
    report(f"JS -> host round trips ({args.js_calls:,} calls per row)", calls)
    report(f"1,000-block turn across the boundary (median of {repeats})", turns)
    report(f"Cold start of geppetto js run (median of {args.runs})", module["cold"])
    report("Agent API vs seed API: per-run cost on echo", bridge["agent"])
    report("Agent events to a JS emitter", bridge["emitter"])
    report("JS budget", verdicts)
    results["js"] = {
        "rows": calls,
        "turns": turns,
        "agent": bridge["agent"],
        "emitter": bridge["emitter"],
        "cold": module["cold"],
        "verdicts": verdicts,
        "spec": {"calls": args.js_calls, "repeats": repeats, "runs": args.runs},
    }


def run_mcp(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    """MCP stdio tool calls through geppetto vs the ``mcp`` client (``url`` is unused)."""
    from bench import bench_mcp

    measured = bench_mcp.measure(calls=50, rounds=max(31, 10 * args.rounds))
    report("MCP stdio tool call, per call (same process, rounds interleaved)", measured["rows"])
    report("MCP budget", measured["verdicts"])
    results["mcp"] = measured


def run_embed(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    """Embedding throughput vs raw aiohttp, and cache lookups (its own server; ``url`` is unused)."""
    from bench import bench_embed

    measured = bench_embed.measure(texts=10_000, rounds=max(9, 3 * args.rounds))
    report("Embedding 10,000 short texts (same batches, same server, rounds interleaved)", measured["rows"])
    report("Embedding cache, lookups per second", measured["cache"])
    report("Embedding budget", measured["verdicts"])
    results["embed"] = measured


def run_otel(args: argparse.Namespace, url: str, results: dict[str, Any]) -> None:
    """Per call and streaming with and without geppetto.telemetry (bench/bench_otel.py)."""
    from bench import bench_otel

    calls = max(50, args.calls // 4)
    measured = bench_otel.measure(url, calls=calls, chunks=args.chunks, rounds=args.rounds + 2)
    spec = measured["spec"]
    title = f"Telemetry on and off: {spec['calls']} calls per row, one {spec['chunks']:,}-chunk stream"
    report(f"{title}, {spec['rounds']} interleaved rounds (medians)", measured["rows"])
    results["otel"] = {"rows": measured["rows"], "spec": spec}


SUITES = {
    "overhead": run_overhead,
    "streaming": run_streaming,
    "concurrency": run_concurrency,
    "coldstart": run_coldstart,
    "js": run_js,
    "mcp": run_mcp,
    "embed": run_embed,
    "otel": run_otel,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "suite", nargs="*", default=["all"], choices=[*SUITES, "all", "profile"], help="one or more suites"
    )
    parser.add_argument(
        "--server",
        choices=("raw", "aiohttp"),
        default="raw",
        help="the loopback server: a raw asyncio.Protocol one (uvloop when installed) or aiohttp.web",
    )
    parser.add_argument(
        "--noise", action="store_true", help="keep one core busy with another process during the run"
    )
    parser.add_argument(
        "--compare",
        action="append",
        metavar="LABEL=DIR",
        help="also run the geppetto driver on the source tree DIR (a src folder) as row geppetto@LABEL",
    )
    parser.add_argument("--json", default=None, help="write every table and the versions here")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per client (interleaved)")
    parser.add_argument("--reps", type=int, default=3, help="measured repetitions per process")
    parser.add_argument("--calls", type=int, default=1000, help="sequential calls per overhead rep")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up calls per overhead process")
    parser.add_argument("--chunks", type=int, default=10_000, help="content chunks of the streaming test")
    parser.add_argument("--sessions", type=int, default=1000, help="calls started together")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="server latency for concurrency")
    parser.add_argument("--runs", type=int, default=10, help="launches per cold-start command")
    parser.add_argument("--js-calls", type=int, default=20_000, help="JS -> host calls per js round-trip row")
    parser.add_argument("--clients", nargs="*", default=None, help=f"subset of: {', '.join(ALL_CLIENTS)}")
    parser.add_argument("--quick", action="store_true", help="1 round, 200 calls, 2 reps: a smoke run")
    parser.add_argument(
        "--profile-test",
        default="overhead-json",
        help="profile: overhead-json|overhead-sse|streaming|concurrency",
    )
    parser.add_argument(
        "--profile-callers", default="", help="profile: also print who calls functions matching this"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.calls, args.reps, args.warmup, args.runs = 1, 200, 2, 20, 3
        args.js_calls = 5_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    results: dict[str, Any] = {"versions": versions(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    suites = set(args.suite)
    with ServerProcess(cpu=1, kind=args.server) as server, noise(args.noise):
        results["server"] = server.name
        results["noise"] = NOISE_LABEL if args.noise else "none"
        print(f"server: {server.name}; noise: {results['noise']}", flush=True)
        if "profile" in suites:
            from bench.profiling import profile

            profile(
                server.url,
                args.profile_test,
                args.calls,
                args.chunks,
                args.sessions,
                callers=args.profile_callers,
            )
            return
        for name, suite in SUITES.items():
            if name in suites or "all" in suites:
                suite(args, server.url, results)
    results["settings"] = {k: v for k, v in vars(args).items() if k != "json"}
    print("\n" + " ".join(f"{k}={v}" for k, v in results["versions"].items()))
    print(f"served by: {results['server']}; noise: {results['noise']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
