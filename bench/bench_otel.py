"""Telemetry cost: the per-call and streaming benchmarks with and without ``geppetto.telemetry``.

One process, one loopback server process, rounds interleaved so drift hits every row alike.
Modes (what ``geppetto.telemetry.state`` holds while a row runs):

* ``off`` - nothing instrumented: no telemetry sink exists (the default);
* ``events only`` - no telemetry, but a sink that ignores every event is attached to each run:
  what the lifecycle events cost by themselves (engines build them only when a run has a sink);
* ``instrument(), no SDK`` - ``instrument()`` on the API's default providers (no SDK configured:
  spans are non-recording);
* ``instrument(), SDK`` - an SDK tracer provider that records every span (then drops it: no
  exporter I/O) and an SDK meter provider with an in-memory reader.

Rows: ``await Session(engine).arun(seed)`` on the OpenAI chat engine, per call against a one-chunk
JSON reply (us/call), and one ``chunks``-chunk stream through a session with a counting sink
(chunks/s). Each also reports this process's CPU time (``time.process_time``), which other load
on the machine disturbs much less than wall time: the cost of telemetry is CPU spent here.

    .venv/bin/python -m bench otel [--calls N] [--chunks N] [--rounds N]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

MODES = ("off", "events only", "instrument(), no SDK", "instrument(), SDK")


def _switches() -> dict[str, Callable[[], None]]:
    """How to put the process into each mode."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from geppetto.telemetry import instrument, uninstrument

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def api_only() -> None:
        instrument()

    def sdk() -> None:
        instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)

    return {
        "off": uninstrument,
        "events only": uninstrument,
        "instrument(), no SDK": api_only,
        "instrument(), SDK": sdk,
    }


class _Ignore:
    __slots__ = ()

    def publish(self, event: Any) -> None:
        pass


class _Count:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def publish(self, event: Any) -> None:
        if event.type.value == "partial":
            self.count += 1


async def _measure(url: str, calls: int, chunks: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    from bench.server import ReplyConfig
    from bench.server.config import base_path
    from geppetto.engines.providers import engine_from_options
    from geppetto.session import Session
    from geppetto.telemetry import uninstrument
    from geppetto.turns import Block, Turn

    def engine(config: ReplyConfig) -> Any:
        base = url + base_path(config)
        return engine_from_options("openai", "x", openai_base_url=base, openai_api_key="bench", environ={})

    call_engine = engine(ReplyConfig(chunks=1, force_json=True))
    stream_engine = engine(ReplyConfig(chunks=chunks))
    switches = _switches()
    kinds = ("call", "call_cpu", "stream", "stream_cpu")
    samples: dict[str, dict[str, list[float]]] = {m: {k: [] for k in kinds} for m in MODES}

    async def per_call(sinks: tuple[Any, ...]) -> tuple[float, float]:
        """Seconds of wall time and of this process's CPU per call."""
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            await Session(call_engine).arun(Turn([Block.user("Hi")]), sinks=sinks)
        return (time.perf_counter() - started) / calls, (time.process_time() - cpu) / calls

    async def stream(sinks: tuple[Any, ...]) -> tuple[float, float]:
        """Chunks per second, and CPU seconds per chunk."""
        sink = _Count()
        started, cpu = time.perf_counter(), time.process_time()
        await Session(stream_engine).arun(Turn([Block.user("Hi")]), sinks=(sink, *sinks))
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
        if sink.count != chunks:
            raise AssertionError(f"streamed {sink.count} chunks, expected {chunks}")
        return chunks / elapsed, used / chunks

    try:
        extra = {mode: (_Ignore(),) if mode == "events only" else () for mode in MODES}
        for mode in MODES:  # warm-up: connections, imports, first spans
            switches[mode]()
            await per_call(extra[mode])
            await stream(extra[mode])
        for _ in range(rounds):
            for mode in MODES:
                switches[mode]()
                mode_samples = samples[mode]
                wall, cpu = await per_call(extra[mode])
                mode_samples["call"].append(wall)
                mode_samples["call_cpu"].append(cpu)
                rate, cpu = await stream(extra[mode])
                mode_samples["stream"].append(rate)
                mode_samples["stream_cpu"].append(cpu)
    finally:
        uninstrument()
        await call_engine.aclose()
        await stream_engine.aclose()
    return samples


def rows_from(samples: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    def median(mode: str, kind: str) -> float:
        return statistics.median(samples[mode][kind])

    rows = []
    for mode in MODES:
        rows.append(
            {
                "telemetry": mode,
                "us/call": median(mode, "call") * 1e6,
                "cpu us/call": median(mode, "call_cpu") * 1e6,
                "cpu vs off": median(mode, "call_cpu") / median("off", "call_cpu"),
                "chunks/s": median(mode, "stream"),
                "cpu us/chunk": median(mode, "stream_cpu") * 1e6,
                "chunk cpu vs off": median(mode, "stream_cpu") / median("off", "stream_cpu"),
            }
        )
    return rows


def measure(
    url: str | None = None, calls: int = 300, chunks: int = 10_000, rounds: int = 5
) -> dict[str, Any]:
    """Run the comparison (starting a loopback server process when ``url`` is not given)."""
    from bench.runner import pinned
    from bench.server import ServerProcess

    if url is None:
        with ServerProcess(cpu=1) as server:
            return measure(server.url, calls, chunks, rounds)
    with pinned():
        samples = asyncio.run(_measure(url, calls, chunks, rounds))
    spec = {"calls": calls, "chunks": chunks, "rounds": rounds}
    return {"rows": rows_from(samples), "spec": spec, "samples": samples}
