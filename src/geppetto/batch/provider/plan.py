"""``geppetto batch --provider-batch``: a :class:`~geppetto.batch.plan.BatchPlan` through the
providers' batch APIs, written in the same result format as the local executor.

Each item's engine and seed turn come from the batch context as for a local run; items whose
engine has no batch API, or whose profile or settings are wrong, are written as errors at once.
The rest are submitted (one provider batch per engine), polled every ``plan.poll_interval``
seconds with a status line to ``plan.on_status``, and written as their results arrive. The
submitted batch ids are kept in ``OUTPUT.provider-batch.json`` until collected, so a re-run with
the same output resumes polling instead of paying for the items twice. ``duration_ms`` is the
time from the start of the run to the item's result (a batch has no per-request timing);
``cost`` is the interactive price when a price table is installed (batch APIs bill less).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from geppetto.batch.context import BatchContext
from geppetto.batch.items import BatchItem
from geppetto.batch.output import ResultWriter, read_output
from geppetto.batch.plan import BatchPlan, OnWritten
from geppetto.batch.provider.base import ProviderBatchOutcome, ProviderBatchProgress, ProviderBatchRequest
from geppetto.batch.provider.runner import run_provider_batch
from geppetto.batch.result import ERROR, BatchResult
from geppetto.batch.runner import _check_schema, _fill, seed_turn
from geppetto.engines.providers.base import ProviderEngine
from geppetto.errors import ConfigError, GeppettoError

STATE_SUFFIX = ".provider-batch.json"


def state_path(output: Path | None) -> Path | None:
    """Where the submitted batch ids of ``output`` are kept (``None`` for stdout: no resume)."""
    return None if output is None else output.with_name(output.name + STATE_SUFFIX)


def provider_engine(engine: object) -> ProviderEngine | None:
    """The provider engine inside ``engine`` (settings wrappers expose theirs as ``.engine``)."""
    for _ in range(4):
        if isinstance(engine, ProviderEngine):
            return engine
        engine = getattr(engine, "engine", None)
        if engine is None:
            return None
    return None


def _failed(item: BatchItem, message: str, profile: str | None = None) -> BatchResult:
    return BatchResult(id=item.id, status=ERROR, error=message, finish_class="error", profile=profile)


class _Pending:
    """An item submitted to a provider, waiting for its outcome."""

    __slots__ = ("before", "index", "item", "profile")

    def __init__(self, item: BatchItem, index: int, profile: str | None, before: int) -> None:
        self.item = item
        self.index = index
        self.profile = profile
        self.before = before


def _status_line(progress: ProviderBatchProgress) -> str:
    states = ", ".join(sorted({batch.status for batch in progress.batches})) or "submitted"
    return (
        f"provider batch: {progress.succeeded} done, {progress.failed} failed of {progress.total} "
        f"({len(progress.batches)} batch{'es' if len(progress.batches) != 1 else ''}: {states})"
    )


async def arun_plan(plan: BatchPlan, on_written: OnWritten) -> None:
    """Run ``plan`` through the providers' batch APIs (see the module docstring)."""
    ctx = BatchContext(plan.config)
    started = time.perf_counter()
    items: Iterable[BatchItem] = plan.items
    if plan.output is not None and plan.output.exists():
        done = read_output(plan.output).done()
        items = [item for item in items if item.key not in done]
    early: list[tuple[int, BatchResult]] = []
    requests: list[ProviderBatchRequest] = []
    pending: dict[str, _Pending] = {}
    for index, item in enumerate(items):
        try:
            engine, profile_key = ctx.engine_for(item)
            seed = seed_turn(item, ctx)
        except (GeppettoError, ValueError) as exc:
            early.append((index, _failed(item, str(exc))))
            continue
        profile = None if profile_key == "(default)" else profile_key
        provider = provider_engine(engine)
        if provider is None:
            message = (
                f"{getattr(engine, 'name', type(engine).__name__)} has no provider batch API "
                "(OpenAI chat/responses and Anthropic messages do): run without --provider-batch"
            )
            early.append((index, _failed(item, message, profile)))
            continue
        pending[item.key] = _Pending(item, index, profile, len(seed.blocks))
        requests.append(ProviderBatchRequest(item.key, seed, provider))

    last_status = [""]

    def report(progress: ProviderBatchProgress) -> None:
        line = _status_line(progress)
        if plan.on_status is not None and line != last_status[0]:
            last_status[0] = line
            plan.on_status(line)

    def result_of(outcome: ProviderBatchOutcome) -> tuple[int, BatchResult]:
        entry = pending.pop(outcome.id)
        if outcome.turn is None:
            result = _failed(entry.item, str(outcome.error or "no result"), entry.profile)
        else:
            result = BatchResult(id=entry.item.id, profile=entry.profile)
            _fill(result, outcome.turn, entry.before, ctx)
            if ctx.config.schema is not None:
                _check_schema(result)
        result.duration_ms = round((time.perf_counter() - started) * 1000)
        return entry.index, result

    writer = (
        ResultWriter(plan.output, fsync=plan.fsync)
        if plan.output is not None
        else ResultWriter(None, stream=sys.stdout.buffer)
    )
    sink = _Sink(writer, on_written, ordered=plan.ordered, fail_fast=plan.fail_fast)
    try:
        with writer:
            for index, result in early:
                if sink.add(index, result):
                    return
            if not requests:
                return
            outcomes = run_provider_batch(
                requests,
                poll_interval=plan.poll_interval,
                on_progress=report,
                state_path=state_path(plan.output),
            )
            try:
                async for outcome in outcomes:
                    if sink.add(*result_of(outcome)):
                        return
            finally:
                await outcomes.aclose()
            sink.flush()
    finally:
        await ctx.aclose()


class _Sink:
    """Writes results durably, in input order when asked, and stops on a failure with fail-fast."""

    def __init__(
        self, writer: ResultWriter, on_written: OnWritten, *, ordered: bool, fail_fast: bool
    ) -> None:
        self.writer = writer
        self.on_written = on_written
        self.ordered = ordered
        self.fail_fast = fail_fast
        self.waiting: dict[int, BatchResult] = {}
        self.indexes: list[int] = []

    def add(self, index: int, result: BatchResult) -> bool:
        """True when the run must stop (fail-fast after a failure)."""
        if not self.ordered:
            return self._write(result)
        self.waiting[index] = result
        return False

    def flush(self) -> None:
        for index in sorted(self.waiting):
            if self._write(self.waiting.pop(index)):
                return

    def _write(self, result: BatchResult) -> bool:
        self.writer.write([result])
        self.on_written(result)
        return self.fail_fast and not result.ok


def run_plan(plan: BatchPlan, on_written: OnWritten) -> None:
    """The executor hook of ``geppetto batch --provider-batch``."""
    if plan.address:
        raise ConfigError("--address is for --executor ray, not --provider-batch")
    asyncio.run(arun_plan(plan, on_written))
