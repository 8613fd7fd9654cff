"""Local model benchmark: generation speed through geppetto vs xllamacpp called directly.

Target (DESIGN.md / issue 7): tokens/s through geppetto >= 0.95x the runtime called directly.
Both paths use the same loaded model (one llama.cpp server), the same request and temperature 0,
so they generate the same tokens; runs alternate between the paths and the median is reported.
The prompt is cached by llama.cpp after the first run, so the time measured is generation.
Also reported: runtime import time, model load time and peak memory (ru_maxrss).

    .venv/bin/python bench/bench_local.py [--runs N] [--tokens N] [--model PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
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
TARGET = 0.95


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Sample:
    """One generation: output tokens, wall time, and time to the first text."""

    def __init__(self, tokens: int, seconds: float, ttft: float) -> None:
        self.tokens, self.seconds, self.ttft = tokens, seconds, ttft

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
    return Sample(int(usage.get("completion_tokens") or 0), elapsed, (first or [started])[0] - started)


def _counting_sink(first: list[float]) -> CallbackSink:
    def on_partial(event: Event) -> None:
        if not first:
            first.append(time.perf_counter())

    return CallbackSink(on_partial, types=[EventType.PARTIAL])


async def run_engine(engine: LocalEngine) -> Sample:
    """geppetto's engine with a sink listening to every partial event."""
    first: list[float] = []
    turn = Turn.builder().user(PROMPT).build()
    started = time.perf_counter()
    out = await engine.run(turn, RunContext(sink=_counting_sink(first)))
    return _sample(out, started, first)


async def run_session(engine: LocalEngine) -> Sample:
    """A full geppetto session run (history, snapshots, events) on the same engine."""
    first: list[float] = []
    session = Session(EngineBuilder(engine))
    started = time.perf_counter()
    out = await session.arun(Turn.builder().user(PROMPT).build(), sinks=[_counting_sink(first)])
    return _sample(out, started, first)


def _sample(out: Turn, started: float, first: list[float]) -> Sample:
    elapsed = time.perf_counter() - started
    usage = TurnMetaKeys.USAGE.get(out.metadata) or {}
    return Sample(int(usage.get("output_tokens") or 0), elapsed, (first or [started])[0] - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per path")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--tokens", type=int, default=128, help="max tokens per run")
    parser.add_argument("--model", default="", help="a .gguf path (default: the bundled SmolLM2)")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    rss_start = peak_rss_mb()
    started = time.perf_counter()
    import_runtime()
    import_seconds = time.perf_counter() - started
    engine = create_local_engine(args.model, temperature=0.0, max_tokens=args.tokens, n_threads=args.threads)
    rss_before_load = peak_rss_mb()
    started = time.perf_counter()
    loaded = engine.load()
    load_wall = time.perf_counter() - started

    request = engine.build_request(Turn.builder().user(PROMPT).build())

    async def direct() -> Sample:
        return run_direct(loaded.server, request)  # blocks the loop on purpose: nothing else runs

    paths = {
        "xllamacpp direct": direct,
        "geppetto engine": lambda: run_engine(engine),
        "geppetto session": lambda: run_session(engine),
    }
    samples: dict[str, list[Sample]] = {name: [] for name in paths}

    async def measure() -> None:
        await paths["xllamacpp direct"]()  # warm-up: fills the prompt cache
        names = list(paths)
        for index in range(args.runs):
            order = names if index % 2 == 0 else names[::-1]
            for name in order:
                samples[name].append(await paths[name]())

    asyncio.run(measure())

    # Best-of-N is the headline (other load on a shared machine only ever slows a run down);
    # the median is shown next to it.
    direct = samples["xllamacpp direct"]
    direct_best = max(s.tokens_per_second for s in direct)
    direct_median = statistics.median(s.tokens_per_second for s in direct)
    rows = []
    for name, runs in samples.items():
        best = max(s.tokens_per_second for s in runs)
        median = statistics.median(s.tokens_per_second for s in runs)
        rows.append(
            {
                "path": name,
                "runs": len(runs),
                "tokens": int(statistics.median(s.tokens for s in runs)),
                "best_tok_s": round(best, 1),
                "median_tok_s": round(median, 1),
                "ttft_ms": round(statistics.median(s.ttft for s in runs) * 1000, 1),
                "vs_direct": round(best / direct_best, 3) if direct_best else 0.0,
                "median_vs_direct": round(median / direct_median, 3) if direct_median else 0.0,
                "target": "" if name == "xllamacpp direct" else f">= {TARGET}",
            }
        )
    setup = [
        {"metric": "model", "value": f"{engine.model} ({loaded.info.path.name})"},
        {"metric": "threads / n_ctx", "value": f"{loaded.options.n_threads} / {loaded.options.n_ctx}"},
        {"metric": "runtime import (s)", "value": round(import_seconds, 3)},
        {"metric": "model load (s)", "value": round(load_wall, 3)},
        {"metric": "peak RSS at start (MB)", "value": round(rss_start, 1)},
        {"metric": "peak RSS before load (MB)", "value": round(rss_before_load, 1)},
        {"metric": "peak RSS at end (MB)", "value": round(peak_rss_mb(), 1)},
    ]
    report("Local model: generation through geppetto vs xllamacpp direct", rows)
    report("Local model: load and memory", setup)
    worst = min(row["vs_direct"] for row in rows if row["path"] != "xllamacpp direct")
    verdict = "PASS" if worst >= TARGET else "BELOW TARGET"
    print(f"\nworst geppetto/direct ratio (best of {args.runs}): {worst:.3f} (target >= {TARGET}): {verdict}")
    if args.json_path:
        payload = {"throughput": rows, "setup": setup, "worst_ratio": worst, "target": TARGET}
        Path(args.json_path).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
