"""The Ray executor's parts without Ray: the actor's item runner, the remote limiter and the
driver's writer (ordering, fail-fast), on stand-ins for the actor handle and the dataset."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from geppetto.batch import BatchConfig, BatchItem, BatchResult
from geppetto.batch.plan import BatchPlan
from geppetto.batch.ray_executor import INDEX, ITEM, RESULT, ItemWorker, _write
from geppetto.batch.ray_limits import RemoteLimiter, SharedLimits


class _Method:
    def __init__(self, target: Any, name: str, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._fn = getattr(target, name)
        self._name = name
        self._calls = calls

    def remote(self, *args: Any) -> Any:
        self._calls.append((self._name, args))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(self._fn(*args))
        return future


class FakeHandle:
    """Stands in for a Ray actor handle of :class:`SharedLimits`: ``handle.method.remote(...)``
    returns an awaitable, as an ObjectRef is inside an async actor."""

    def __init__(self, target: Any) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        for name in ("reserve", "settle", "observe", "requests"):
            setattr(self, name, _Method(target, name, self.calls))


def rows(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        ITEM: [orjson.dumps(item).decode() for item in items],
        INDEX: list(range(len(items))),
    }


async def test_item_worker_runs_items_and_yields_every_result() -> None:
    holder = SharedLimits()
    handle = FakeHandle(holder)
    config = BatchConfig(flags={"ai-api-type": "echo"}, requests_per_minute=600_000)
    worker = ItemWorker(config, handle, concurrency=2)
    batch = rows([{"id": n, "prompt": f"p{n}"} for n in range(5)] + [{"id": "x", "prompt": ""}])
    seen: dict[int, dict[str, Any]] = {}
    async for block in worker(batch):
        assert len(block[INDEX]) == len(block[RESULT]) >= 1
        for index, raw in zip(block[INDEX], block[RESULT], strict=True):
            assert index not in seen
            seen[index] = orjson.loads(raw)
    assert sorted(seen) == list(range(6))
    assert [seen[n]["id"] for n in range(6)] == [0, 1, 2, 3, 4, "x"]
    assert all(seen[n]["status"] == "ok" and seen[n]["answer"] == "READY" for n in range(5))
    assert seen[5]["status"] == "error" and "non-empty 'prompt'" in seen[5]["error"]
    # Every run took its slot from the shared holder, under the batch's own limits.
    reserves = [args for name, args in handle.calls if name == "reserve"]
    assert len(reserves) == 5 and all(args[:3] == ("(default)", 600_000, None) for args in reserves)
    assert holder.requests() == {"(default)": 5}
    await worker.ctx.aclose()


async def test_remote_limiter_waits_as_long_as_the_holder_says() -> None:
    now = [0.0]
    holder = SharedLimits(clock=lambda: now[0])
    first = RemoteLimiter(FakeHandle(holder), "p", 6000, None)  # 10 ms apart
    second = RemoteLimiter(FakeHandle(holder), "p", 6000, None)  # another actor
    await first.acquire(5)
    await second.acquire(5)  # the holder booked 10 ms later for it: it slept, it did not skip
    assert holder.reserve("p", 6000, None, 1) == 0.02
    first.settle(5, 9)
    second.observe({"x-ratelimit-limit-requests": "10"})
    await asyncio.sleep(0)
    assert holder.reserve("p", 6000, None, 1) > 0.02  # the header tightened the shared limiter


class FakeDataset:
    def __init__(self, blocks: list[list[tuple[int, BatchResult]]]) -> None:
        self.blocks = blocks
        self.consumed = 0

    def iter_batches(self, **_: Any) -> Iterator[dict[str, list[Any]]]:
        for block in self.blocks:
            self.consumed += 1
            yield {
                INDEX: [index for index, _ in block],
                RESULT: [orjson.dumps(result.to_dict()).decode() for _, result in block],
            }


def ok(n: int) -> tuple[int, BatchResult]:
    return n, BatchResult(id=n, answer=f"a{n}")


def test_writer_puts_results_in_input_order_when_asked(tmp_path: Path) -> None:
    items = [BatchItem(id=n, prompt="p") for n in range(5)]
    out = tmp_path / "out.jsonl"
    dataset = FakeDataset([[ok(3), ok(1)], [ok(0)], [ok(4), ok(2)]])
    written: list[BatchResult] = []
    assert _write(BatchPlan(items, output=out, ordered=True), dataset, written.append) == 5
    assert [r.id for r in written] == [0, 1, 2, 3, 4]
    assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == [0, 1, 2, 3, 4]


def test_writer_stops_after_the_first_failure_with_fail_fast(tmp_path: Path) -> None:
    items = [BatchItem(id=n, prompt="p") for n in range(6)]
    out = tmp_path / "out.jsonl"
    failed = BatchResult(id=2, status="error", error="boom", finish_class="error")
    dataset = FakeDataset([[ok(0), ok(1)], [(2, failed), ok(3)], [ok(4), ok(5)]])
    written: list[BatchResult] = []
    _write(BatchPlan(items, output=out, fail_fast=True), dataset, written.append)
    assert [r.id for r in written] == [0, 1, 2]
    assert dataset.consumed == 2  # the rest of the pipeline was not pulled
    assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == [0, 1, 2]
