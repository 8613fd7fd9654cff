"""``geppetto batch --executor ray [--address ADDR]``: the same batch as a Ray Data pipeline.

Read: the items still to run (ids already in the output are skipped before the pipeline) become
a dataset of JSON rows. Map: ``map_batches`` over a fixed pool of actors (``concurrency=`` an
actor count); each actor holds one :class:`~geppetto.batch.context.BatchContext` rebuilt from the
picklable :class:`~geppetto.batch.context.BatchConfig` and runs its items with
:func:`~geppetto.batch.runner.run_item` on its own event loop, at most ``per_actor`` at a time,
yielding results as they finish. Rate limits are shared by the pool through one limiter actor
(:mod:`geppetto.batch.ray_limits`). Write: the driver appends each result to the same output
file with the same writer as the local executor (one JSONL file, fsynced per group of results),
so the output format, ``--ordered``, ``--fail-fast`` and resume are the local executor's;
Ray's own ``write_json`` would scatter part files and could not be resumed item by item.

Ray is imported only here, and this module only when ``--executor ray`` is asked for. With
``--address`` the cluster's workers must have geppetto installed; without it a local Ray
instance is started for the run (and stopped after), unless one is already running in this
process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from geppetto.batch.context import BatchConfig, BatchContext
from geppetto.batch.items import BatchItem, parse_item
from geppetto.batch.output import ResultWriter, read_output
from geppetto.batch.plan import BatchPlan, OnWritten
from geppetto.batch.ray_limits import SharedLimits, remote_limiter_factory
from geppetto.batch.result import ERROR, BatchResult
from geppetto.batch.runner import run_item
from geppetto.errors import ConfigError

ITEM = "item"  # input column: the item as JSON (ids may be strings or integers: Arrow could not mix them)
INDEX = "index"  # input order, for --ordered
RESULT = "result"  # output column: the result record as JSON
MAX_ACTORS = 8


class ItemWorker:
    """One actor of the pool (see the module docstring)."""

    def __init__(self, config: BatchConfig, limits: Any, concurrency: int) -> None:
        self.ctx = BatchContext(config, limiter_factory=remote_limiter_factory(limits))
        self.concurrency = max(1, concurrency)
        self._slots: asyncio.Semaphore | None = None

    async def _one(self, raw: str) -> BatchResult:
        assert self._slots is not None
        async with self._slots:
            row = orjson.loads(raw)
            try:
                item = parse_item(row)
            except ValueError as exc:
                return BatchResult(id=row.get("id", "?"), status=ERROR, error=str(exc), finish_class="error")
            return await run_item(item, self.ctx)

    async def __call__(self, batch: dict[str, Any]) -> AsyncIterator[dict[str, list[Any]]]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        tasks = {
            asyncio.ensure_future(self._one(str(raw))): int(index)
            for raw, index in zip(batch[ITEM], batch[INDEX], strict=True)
        }
        pending = set(tasks)
        try:
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                # Everything that finished together goes out as one block.
                yield {
                    INDEX: [tasks[task] for task in finished],
                    RESULT: [orjson.dumps(task.result().to_dict()).decode() for task in finished],
                }
        finally:
            for task in pending:
                task.cancel()


@dataclass(slots=True)
class RayRun:
    """What a Ray run reports: results written, and requests per profile seen by the limiter."""

    written: int = 0
    requests: dict[str, int] | None = None
    actors: int = 0
    per_actor: int = 0


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError(
            f"--executor ray needs Ray Data ({exc}): install it with pip install 'geppetto[ray]' "
            "(or pip install 'ray[data]')"
        ) from None
    return ray


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` or start a local instance; True when this call started it."""
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if not address:
        ray.init(**quiet)
        return True
    try:
        ray.init(address=address, **quiet)
    except Exception as exc:  # unreachable, refused, wrong token: all mean "check the address"
        raise ConfigError(
            f"cannot join the Ray cluster at {address}: {type(exc).__name__}: {exc} "
            "(check --address, and RAY_AUTH_TOKEN when the cluster uses token authentication)"
        ) from None
    return True


def pool_size(cluster_cpus: float, concurrency: int) -> tuple[int, int]:
    """(actors, items in flight per actor): one actor per CPU up to :data:`MAX_ACTORS` and never
    more actors than ``concurrency``, which the pool shares out."""
    actors = max(1, min(int(cluster_cpus) or 1, MAX_ACTORS, concurrency))
    return actors, max(1, math.ceil(concurrency / actors))


def _pending(plan: BatchPlan) -> list[BatchItem]:
    """The plan's items minus those the output already holds (the CLI has usually removed them)."""
    if plan.output is None or not plan.output.exists():
        return list(plan.items)
    done = read_output(plan.output).done()
    return [item for item in plan.items if item.key not in done]


def run_ray(plan: BatchPlan, on_written: OnWritten) -> RayRun:
    """Run ``plan`` on Ray (see the module docstring); ``on_written`` once per durable result."""
    ray = _import_ray()
    report = RayRun()
    items = _pending(plan)
    if not items:
        return report
    started = _connect(ray, plan.address)
    data_context = ray.data.DataContext.get_current()
    saved = (data_context.enable_progress_bars, data_context.print_on_execution_start)
    data_logger = logging.getLogger("ray.data")
    saved_level = data_logger.level
    data_logger.setLevel(logging.ERROR)  # its notices would tear the CLI's progress bar
    try:
        data_context.enable_progress_bars = False  # the CLI draws its own bar
        data_context.print_on_execution_start = False
        cpus = ray.cluster_resources().get("CPU", 1)
        report.actors, report.per_actor = pool_size(cpus, min(plan.concurrency, len(items)))
        if plan.on_status is not None:
            plan.on_status(
                f"ray: {report.actors} actor(s), up to {report.per_actor} item(s) in flight each "
                f"({cpus:g} CPU in the cluster)"
            )
        holder = ray.remote(num_cpus=0)(SharedLimits).remote()
        rows = [
            {ITEM: orjson.dumps(item.to_dict()).decode(), INDEX: index} for index, item in enumerate(items)
        ]
        blocks = min(len(rows), report.actors * 4)  # enough blocks to keep every actor busy
        dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            ItemWorker,
            fn_constructor_kwargs={"config": plan.config, "limits": holder, "concurrency": report.per_actor},
            batch_size=report.per_actor,
            compute=ray.data.ActorPoolStrategy(size=report.actors),
            num_cpus=1,
        )
        report.written = _write(plan, dataset, on_written)
        report.requests = ray.get(holder.requests.remote())
    finally:
        data_context.enable_progress_bars, data_context.print_on_execution_start = saved
        data_logger.setLevel(saved_level)
        if started:
            ray.shutdown()
    return report


def _write(plan: BatchPlan, dataset: Any, on_written: OnWritten) -> int:
    writer = (
        ResultWriter(plan.output, fsync=plan.fsync)
        if plan.output is not None
        else ResultWriter(None, stream=sys.stdout.buffer)
    )
    waiting: dict[int, BatchResult] = {}
    next_index = 0
    written = 0
    with writer:
        for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            ready: list[BatchResult] = []
            for index, raw in zip(block[INDEX], block[RESULT], strict=True):
                result = BatchResult.from_dict(orjson.loads(str(raw)))
                if not plan.ordered:
                    ready.append(result)
                    continue
                waiting[int(index)] = result
                while next_index in waiting:
                    ready.append(waiting.pop(next_index))
                    next_index += 1
            if not ready:
                continue
            stop = next((n for n, r in enumerate(ready) if not r.ok), None) if plan.fail_fast else None
            if stop is not None:
                ready = ready[: stop + 1]
            writer.write(ready)
            written += len(ready)
            for result in ready:
                on_written(result)
            if stop is not None:
                break
    return written


def run_plan(plan: BatchPlan, on_written: OnWritten) -> None:
    """The executor hook of ``geppetto batch --executor ray``."""
    run_ray(plan, on_written)
