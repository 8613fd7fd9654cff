"""Local model benchmark: generation speed through geppetto vs xllamacpp called directly.

Targets (issue 20, above DESIGN.md's 0.95x): tokens/s through geppetto >= 0.98x the runtime
called directly, by best-of-N and by median; time to first token within 1.1x of direct. Also
``geppetto infer --stream`` spawn-to-first-byte next to a bare ``python -c`` that loads the same
model with xllamacpp and prints its first token (whole processes, median of ``--spawns``).

What makes the comparison fair: all three paths use one loaded model (one llama.cpp server, the
same threads), the same request dict (geppetto's own ``build_request``: same prompt, template,
temperature 0 and token cap), so they generate the same tokens, and every run's text is checked
against the direct one. Each path is warmed up first (the prompt is then in llama.cpp's cache,
so what is timed is generation). Rounds run every path once, in an order that rotates through
all six permutations. Time to first token is measured the same way on every path: from the
call to the first text reaching the caller (direct: its callback; geppetto: the first
``partial`` event at a sink). Besides the long runs, ``--ttft-runs`` short runs (2 tokens)
measure it with more samples. Ratios are given by best, by median, and as the median of the
per-round ratios (each round's paths ran back to back under the same load). The load average
is printed before and after: on a shared machine only the ratios mean much.

    .venv/bin/python bench/bench_local.py [--runs N] [--tokens N] [--ttft-runs N] [--threads N]
        [--model PATH] [--spawns N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report
from geppetto.engines.base import RunContext
from geppetto.engines.local import LocalEngine, create_local_engine
from geppetto.engines.local_model import import_runtime
from geppetto.events import CallbackSink, EventType
from geppetto.events.types import Event
from geppetto.session import EngineBuilder, Session
from geppetto.turns import Turn, TurnMetaKeys

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
TARGET = 0.98  # geppetto / direct tokens/s, best-of-N and median
TTFT_MAX = 1.1  # geppetto / direct time to first token (median)

# The same load settings as geppetto.engines.local_model._load, with xllamacpp alone.
BARE = """
import sys, xllamacpp as xlc
params = xlc.CommonParams()
params.model.path = sys.argv[1]
params.n_ctx = 4096; params.n_parallel = 1; params.verbosity = 0; params.ui = False
params.port = 0; params.hostnames = ["127.0.0.1"]; params.n_threads_http = 1
server = xlc.Server(params)
state = {"first": True}
def on_chunk(chunk):
    for choice in chunk.get("choices") or ():
        text = (choice.get("delta") or {}).get("content")
        if text:
            sys.stdout.write(text)
            if state["first"]:
                sys.stdout.flush()
                state["first"] = False
    return False
request = {"messages": [{"role": "user", "content": "Hi"}], "stream": True, "max_tokens": 8,
           "temperature": 0.0}
server.handle_chat_completions(request, on_chunk)
sys.stdout.write("\\n")
"""


def first_byte_seconds(argv: list[str], env: dict[str, str]) -> float:
    """Spawn ``argv`` and time until its first stdout byte (then let it finish)."""
    import subprocess

    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    elapsed = time.perf_counter() - started
    proc.stdout.read()
    proc.wait(120)
    if not first or proc.returncode:
        raise RuntimeError(f"{argv[:4]} printed nothing or failed (exit {proc.returncode})")
    return elapsed


def spawn_rows(model_path: Path, runs: int) -> list[dict[str, Any]]:
    """``geppetto infer --stream`` vs a bare xllamacpp script, spawn to first byte, interleaved."""
    import os
    import tempfile

    env = dict(os.environ)
    env["GEPPETTO_STORE"] = os.path.join(tempfile.mkdtemp(prefix="bench-local-"), "turns.db")
    geppetto = [
        sys.executable, "-m", "geppetto", "infer", "--stream", "--no-store", "--ai-api-type", "local",
        "--ai-engine", str(model_path), "--ai-max-response-tokens", "8", "Hi",
    ]  # fmt: skip
    paths = {
        "python -c (xllamacpp loads the model)": [sys.executable, "-c", BARE, str(model_path)],
        "geppetto infer --stream (local)": geppetto,
    }
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for argv in paths.values():
        first_byte_seconds(argv, env)  # warm-up: page cache, .pyc
    for index in range(runs):
        for name in list(paths) if index % 2 == 0 else list(paths)[::-1]:
            samples[name].append(first_byte_seconds(paths[name], env))
    bare = statistics.median(samples[next(iter(paths))])
    return [
        {
            "command": name,
            "median ms": round(statistics.median(values) * 1000, 1),
            "min-max ms": f"{min(values) * 1000:.0f}-{max(values) * 1000:.0f}",
            "x bare": round(statistics.median(values) / bare, 3),
        }
        for name, values in samples.items()
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


class Sample:
    """One generation: output tokens, wall time, time to the first text, and the text."""

    def __init__(self, tokens: int, seconds: float, ttft: float, text: str) -> None:
        self.tokens, self.seconds, self.ttft, self.text = tokens, seconds, ttft, text

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def run_direct(server: Any, request: dict[str, Any]) -> Sample:
    """The runtime on its own: a streaming call whose callback only collects the text."""
    parts: list[str] = []
    usage: dict[str, Any] = {}
    first: list[float] = []
    started = time.perf_counter()

    def on_chunk(chunk: dict[str, Any]) -> bool:
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                if not first:
                    first.append(time.perf_counter())
                parts.append(text)
        if "usage" in chunk:
            usage.update(chunk["usage"] or {})
        return False

    server.handle_chat_completions(request, on_chunk)
    elapsed = time.perf_counter() - started
    ttft = (first or [started])[0] - started
    return Sample(int(usage.get("completion_tokens") or 0), elapsed, ttft, "".join(parts))


def _first_text_sink(first: list[float]) -> CallbackSink:
    def on_partial(event: Event) -> None:
        if not first:
            first.append(time.perf_counter())

    return CallbackSink(on_partial, types=[EventType.PARTIAL])


async def run_engine(engine: LocalEngine) -> Sample:
    """geppetto's engine with a sink listening to every partial event."""
    first: list[float] = []
    turn = Turn.builder().user(PROMPT).build()
    started = time.perf_counter()
    out = await engine.run(turn, RunContext(sink=_first_text_sink(first)))
    return _sample(out, started, first)


async def run_session(engine: LocalEngine) -> Sample:
    """A full geppetto session run (history, snapshots, events) on the same engine."""
    first: list[float] = []
    session = Session(EngineBuilder(engine))
    turn = Turn.builder().user(PROMPT).build()
    started = time.perf_counter()
    out = await session.arun(turn, sinks=[_first_text_sink(first)])
    return _sample(out, started, first)


def _sample(out: Turn, started: float, first: list[float]) -> Sample:
    elapsed = time.perf_counter() - started
    usage = TurnMetaKeys.USAGE.get(out.metadata) or {}
    ttft = (first or [started])[0] - started
    return Sample(int(usage.get("output_tokens") or 0), elapsed, ttft, out.assistant_text())


PathFn = Callable[[], Awaitable[Sample]]
DIRECT = "xllamacpp direct"


def paths_for(engine: LocalEngine, server: Any) -> dict[str, PathFn]:
    """The three paths, all on one loaded model and one request."""
    request = engine.build_request(Turn.builder().user(PROMPT).build())

    async def direct() -> Sample:
        return run_direct(server, request)  # blocks the loop on purpose: nothing else runs

    return {
        DIRECT: direct,
        "geppetto engine": lambda: run_engine(engine),
        "geppetto session": lambda: run_session(engine),
    }


async def measure(paths: dict[str, PathFn], rounds: int) -> dict[str, list[Sample]]:
    """Warm every path up, then run ``rounds`` rounds, each path once per round, the order
    rotating through every permutation; every text must equal the direct path's."""
    reference = ""
    for name, path in paths.items():
        text = (await path()).text
        reference = reference or text
        if text != reference:
            raise RuntimeError(f"{name} generated other text than {DIRECT}: {text!r} vs {reference!r}")
    samples: dict[str, list[Sample]] = {name: [] for name in paths}
    orders = list(itertools.permutations(paths))
    for index in range(rounds):
        for name in orders[index % len(orders)]:
            sample = await paths[name]()
            if sample.text != reference:
                raise RuntimeError(f"{name} generated other text than {DIRECT} in round {index}")
            samples[name].append(sample)
        print(f"round {index + 1}/{rounds} done (load {load_average()})", file=sys.stderr, flush=True)
    return samples


def _ratio(value: float, base: float) -> float:
    return round(value / base, 3) if base else 0.0


def throughput_rows(samples: dict[str, list[Sample]]) -> list[dict[str, Any]]:
    direct = samples[DIRECT]
    direct_best = max(s.tokens_per_second for s in direct)
    direct_median = statistics.median(s.tokens_per_second for s in direct)
    direct_ttft = statistics.median(s.ttft for s in direct)
    rows = []
    for name, runs in samples.items():
        best = max(s.tokens_per_second for s in runs)
        median = statistics.median(s.tokens_per_second for s in runs)
        paired = statistics.median(
            s.tokens_per_second / d.tokens_per_second for s, d in zip(runs, direct, strict=True)
        )
        ttft = statistics.median(s.ttft for s in runs)
        rows.append(
            {
                "path": name,
                "runs": len(runs),
                "tokens": int(statistics.median(s.tokens for s in runs)),
                "best_tok_s": round(best, 1),
                "median_tok_s": round(median, 1),
                "vs_direct": _ratio(best, direct_best),
                "median_vs_direct": _ratio(median, direct_median),
                "paired_median": round(paired, 3),
                "ttft_ms": round(ttft * 1000, 2),
                "ttft_vs_direct": _ratio(ttft, direct_ttft),
            }
        )
    return rows


def ttft_rows(samples: dict[str, list[Sample]]) -> list[dict[str, Any]]:
    direct = samples[DIRECT]
    direct_median = statistics.median(s.ttft for s in direct)
    rows = []
    for name, runs in samples.items():
        ttfts = sorted(s.ttft for s in runs)
        paired = statistics.median(s.ttft / d.ttft for s, d in zip(runs, direct, strict=True) if d.ttft)
        median = statistics.median(ttfts)
        rows.append(
            {
                "path": name,
                "runs": len(runs),
                "median_ms": round(median * 1000, 2),
                "p25-p75 ms": f"{ttfts[len(ttfts) // 4] * 1000:.2f}-{ttfts[3 * len(ttfts) // 4] * 1000:.2f}",
                "min_ms": round(ttfts[0] * 1000, 2),
                "vs_direct": _ratio(median, direct_median),
                "paired_median": round(paired, 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="rounds of long runs (each path once per round)")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--tokens", type=int, default=64, help="max tokens per long run")
    parser.add_argument(
        "--ttft-runs", type=int, default=60, help="rounds of 2-token runs for time to first token"
    )
    parser.add_argument("--model", default="", help="a .gguf path (default: the bundled SmolLM2)")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON to this file")
    parser.add_argument("--spawns", type=int, default=5, help="launches per spawn-to-first-byte command")
    args = parser.parse_args(argv)

    load_before = load_average()
    rss_start = peak_rss_mb()
    started = time.perf_counter()
    import_runtime()
    import_seconds = time.perf_counter() - started
    engine = create_local_engine(args.model, temperature=0.0, max_tokens=args.tokens, n_threads=args.threads)
    rss_before_load = peak_rss_mb()
    started = time.perf_counter()
    loaded = engine.load()
    load_wall = time.perf_counter() - started
    # the same model (the process cache is keyed by file and load options), a 2-token cap
    short = create_local_engine(args.model, temperature=0.0, max_tokens=2, n_threads=args.threads)
    if short.load() is not loaded:
        raise RuntimeError("the short-run engine did not share the loaded model")

    async def measure_all() -> tuple[dict[str, list[Sample]], dict[str, list[Sample]]]:
        long = await measure(paths_for(engine, loaded.server), args.runs)
        quick = await measure(paths_for(short, loaded.server), args.ttft_runs) if args.ttft_runs else {}
        return long, quick

    long_samples, quick_samples = asyncio.run(measure_all())
    rows = throughput_rows(long_samples)
    first_rows = ttft_rows(quick_samples) if quick_samples else []
    load_after = load_average()
    setup: list[dict[str, Any]] = [
        {"metric": "model", "value": f"{engine.model} ({loaded.info.path.name})"},
        {"metric": "threads / n_ctx", "value": f"{loaded.options.n_threads} / {loaded.options.n_ctx}"},
        {"metric": "load average before / after (1, 5, 15 min)", "value": f"{load_before}  |  {load_after}"},
        {"metric": "runtime import (s)", "value": round(import_seconds, 3)},
        {"metric": "model load (s)", "value": round(load_wall, 3)},
        {"metric": "peak RSS at start (MB)", "value": round(rss_start, 1)},
        {"metric": "peak RSS before load (MB)", "value": round(rss_before_load, 1)},
        {"metric": "peak RSS at end (MB)", "value": round(peak_rss_mb(), 1)},
    ]
    spawns = spawn_rows(loaded.info.path, args.spawns) if args.spawns else []
    report(f"Local model: {args.tokens}-token runs through geppetto vs xllamacpp direct", rows)
    if first_rows:
        report(
            "Local model: time to first token (2-token runs, call to first text at the caller)", first_rows
        )
    report("Local model: load and memory", setup)
    if spawns:
        report(f"Local model: spawn to first byte (median of {args.spawns})", spawns)
    ours = [row for row in rows if row["path"] != DIRECT]
    worst = min(min(row["vs_direct"], row["median_vs_direct"]) for row in ours)
    ttft_source = [row for row in first_rows if row["path"] != DIRECT] or ours
    worst_ttft = max(row["vs_direct"] if first_rows else row["ttft_vs_direct"] for row in ttft_source)
    met = worst >= TARGET and worst_ttft <= TTFT_MAX
    verdict = "PASS" if met else "BELOW TARGET"
    print(
        f"\nworst geppetto/direct tokens/s (best and median of {args.runs}): {worst:.3f} (>= {TARGET}); "
        f"worst time to first token: {worst_ttft:.3f}x direct (<= {TTFT_MAX}): {verdict}"
    )
    if args.json_path:
        payload = {
            "throughput": rows,
            "ttft": first_rows,
            "setup": setup,
            "spawn": spawns,
            "worst_ratio": worst,
            "worst_ttft_ratio": worst_ttft,
            "target": TARGET,
            "ttft_target": TTFT_MAX,
        }
        Path(args.json_path).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
