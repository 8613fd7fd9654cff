"""A prepared batch and the local executor that runs it.

The CLI turns its arguments into a :class:`BatchPlan` (items still to run, the picklable config,
where results go) and hands it to an executor: ``run_local`` here, or another one (a Ray
pipeline, a provider's batch API) with the same signature. An executor calls ``on_written(result)``
once per item, after the result is durably in the output, and nothing else: progress and the
summary are the caller's.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from geppetto.batch.context import BatchConfig, BatchContext
from geppetto.batch.items import BatchItem
from geppetto.batch.output import ResultWriter, write_all
from geppetto.batch.result import BatchResult
from geppetto.batch.runner import run

OnWritten = Callable[[BatchResult], None]


@dataclass(slots=True)
class BatchPlan:
    """``items`` are the ones left to run (done ids already removed): a list, or a re-iterable
    stream (the CLI's :class:`geppetto.batch.source.InputSource`, read as the batch runs);
    ``output`` ``None`` means stdout. ``address`` is for executors that connect somewhere
    (``--address``)."""

    items: Iterable[BatchItem]
    config: BatchConfig = field(default_factory=BatchConfig)
    output: Path | None = None
    concurrency: int = 8
    ordered: bool = False
    fail_fast: bool = False
    fsync: bool = True
    address: str | None = None
    # --provider-batch: seconds between status polls; executors' status lines go to on_status
    poll_interval: float = 10.0
    on_status: Callable[[str], None] | None = None


def _writer(plan: BatchPlan) -> ResultWriter:
    if plan.output is None:
        return ResultWriter(None, stream=sys.stdout.buffer)
    return ResultWriter(plan.output, fsync=plan.fsync)


async def arun_local(plan: BatchPlan, on_written: OnWritten, context: BatchContext | None = None) -> None:
    """Run the plan on this event loop, ``plan.concurrency`` items at a time."""
    ctx = context or BatchContext(plan.config)
    stop = (lambda result: not result.ok) if plan.fail_fast else None
    with _writer(plan) as writer:
        try:
            results = run(plan.items, context=ctx, concurrency=plan.concurrency, ordered=plan.ordered)
            await write_all(results, writer, on_written, stop=stop)
        finally:
            await ctx.aclose()


def run_local(plan: BatchPlan, on_written: OnWritten) -> None:
    """The local executor: one process, asyncio concurrency."""
    asyncio.run(arun_local(plan, on_written))
