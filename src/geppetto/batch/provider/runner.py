"""Submit items as provider batches, poll them with progress, and yield one outcome per item.

Items are grouped by engine (one provider, model and settings per group) and each group is cut
into batches no larger than the API allows. Every item ends with exactly one outcome: its turn
with the answer appended, or its error (a request the provider rejected, a batch that failed
validation or expired, a body that could not be built), so nothing is dropped.

Resume: with ``state_path`` the ids of the submitted batches are written (fsynced) right after
submission. A re-run with the same state file polls those batches instead of submitting the
items again, for the items still asked for; a batch's record is dropped once its outcomes have
been handed out. Without a state file, stopping the run (Ctrl-C, task cancelled) cancels the
provider batches it submitted, since nothing else could collect them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from geppetto.batch.provider.base import (
    BatchBackend,
    BatchStatus,
    ProgressCallback,
    ProviderBatchOutcome,
    ProviderBatchProgress,
    ProviderBatchRequest,
    backend_for,
    request_body,
)
from geppetto.engines.providers.base import ProviderEngine
from geppetto.engines.providers.errors import make_error
from geppetto.errors import ConfigError, GeppettoError, ProviderError

DEFAULT_POLL_INTERVAL = 10.0
# Status polls that may fail in a row (after the SDK's own retries) before the batch's items are
# recorded as failed; its id stays in the state file so a re-run can still collect it.
MAX_POLL_FAILURES = 5


@dataclass(slots=True)
class _Submitted:
    backend: BatchBackend
    batch_id: str
    requests: dict[str, ProviderBatchRequest]  # custom id -> item
    status: BatchStatus | None = None
    done: bool = False
    poll_failures: int = 0
    collect_failed: bool = False


@dataclass(slots=True)
class _Group:
    engine: ProviderEngine
    backend: BatchBackend
    items: list[ProviderBatchRequest] = field(default_factory=list)


class BatchState:
    """The submitted batches of a run, kept in a small JSON file next to the output."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        if path is not None and path.exists():
            try:
                data = orjson.loads(path.read_bytes() or b"{}")
                self.records = [r for r in data.get("batches", []) if isinstance(r, dict)]
            except (orjson.JSONDecodeError, AttributeError):
                raise ConfigError(
                    f"{path} is not a provider batch state file: remove it (the batches it names "
                    "are then submitted again) or restore it"
                ) from None

    def add(self, submitted: _Submitted) -> None:
        engine = submitted.backend.engine
        self.records.append(
            {
                "provider": engine.config.provider,
                "model": engine.config.model,
                "batch_id": submitted.batch_id,
                "requests": {custom_id: item.id for custom_id, item in submitted.requests.items()},
            }
        )
        self.save()

    def drop(self, batch_id: str) -> None:
        self.records = [record for record in self.records if record.get("batch_id") != batch_id]
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        if not self.records:
            self.path.unlink(missing_ok=True)
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps({"version": 1, "batches": self.records}, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


async def run_provider_batch(
    requests: Iterable[ProviderBatchRequest],
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    on_progress: ProgressCallback | None = None,
    state_path: str | Path | None = None,
) -> AsyncGenerator[ProviderBatchOutcome, None]:
    """Run ``requests`` through their providers' batch APIs (see the module docstring)."""
    state = BatchState(Path(state_path) if state_path is not None else None)
    pending: dict[str, ProviderBatchRequest] = {}
    failed: list[ProviderBatchOutcome] = []
    for item in requests:
        pending[item.id] = item
    groups: dict[int, _Group] = {}
    for item in pending.values():
        group = groups.get(id(item.engine))
        if group is None:
            try:
                group = groups[id(item.engine)] = _Group(item.engine, backend_for(item.engine))
            except GeppettoError as exc:
                failed.append(ProviderBatchOutcome(item.id, error=exc))
                continue
        group.items.append(item)
    for outcome in failed:
        yield outcome
    submitted = _resume(state, pending, groups)
    try:
        for outcome in await _submit_all(groups, submitted, state):
            yield outcome
        while not all(batch.done for batch in submitted):
            for batch in submitted:
                if batch.done:
                    continue
                try:
                    batch.status = await batch.backend.status(batch.batch_id)
                    batch.poll_failures = 0
                except GeppettoError as exc:
                    batch.poll_failures += 1
                    if getattr(exc, "retryable", False) and batch.poll_failures < MAX_POLL_FAILURES:
                        continue  # the provider is busy: the batch is still there, ask again later
                    batch.done = True
                    if not getattr(exc, "retryable", False):
                        state.drop(batch.batch_id)  # gone or refused: a re-run submits the items anew
                    for outcome in _all_failed(batch, _about(batch, exc)):
                        yield outcome
            if on_progress is not None:
                on_progress(ProviderBatchProgress([b.status for b in submitted if b.status is not None]))
            for batch in submitted:
                if not batch.done and batch.status is not None and batch.status.ended:
                    async for outcome in _collect(batch):
                        yield outcome
                    batch.done = True
                    if not batch.collect_failed:  # else a re-run (--retry-failed) collects it again
                        state.drop(batch.batch_id)
            if not all(batch.done for batch in submitted):
                await asyncio.sleep(poll_interval)
    finally:
        if state.path is None:
            await _cancel_unfinished(submitted)


def _resume(
    state: BatchState, pending: dict[str, ProviderBatchRequest], groups: dict[int, _Group]
) -> list[_Submitted]:
    """Batches of an earlier run that still hold requested items; those items are not resubmitted."""
    submitted: list[_Submitted] = []
    claimed: set[str] = set()
    for record in state.records:
        batch_id = record.get("batch_id")
        if not isinstance(batch_id, str) or not batch_id:
            continue
        mapping = {
            str(custom_id): pending[item_id]
            for custom_id, item_id in (record.get("requests") or {}).items()
            if item_id in pending and item_id not in claimed
        }
        if not mapping:
            continue
        group = groups.get(id(next(iter(mapping.values())).engine))
        if group is None or group.engine.config.provider != record.get("provider"):
            continue
        claimed.update(item.id for item in mapping.values())
        submitted.append(_Submitted(group.backend, batch_id, mapping))
    # Records of batches whose items are all done (or now belong to another engine) are dropped.
    kept = {batch.batch_id for batch in submitted}
    if len(kept) != len(state.records):
        state.records = [record for record in state.records if str(record.get("batch_id")) in kept]
        state.save()
    for group in groups.values():
        group.items = [item for item in group.items if item.id not in claimed]
    return submitted


def _chunks(
    group: _Group, failures: list[ProviderBatchOutcome], numbers: Iterator[int]
) -> Iterator[tuple[dict[str, ProviderBatchRequest], list[tuple[str, dict[str, Any]]]]]:
    """The group's items as (custom id -> item, bodies) chunks within the API's request and
    size limits; items whose body cannot be built go to ``failures``."""
    most, budget = max(1, group.backend.max_requests), max(1, group.backend.max_bytes)
    chunk: dict[str, ProviderBatchRequest] = {}
    bodies: list[tuple[str, dict[str, Any]]] = []
    used = 0
    for item in group.items:
        try:
            body = request_body(item.engine, item.turn)
        except GeppettoError as exc:
            failures.append(ProviderBatchOutcome(item.id, error=exc))
            continue
        size = len(orjson.dumps(body)) + 128  # the line's envelope (custom id, method, url)
        if bodies and (len(bodies) >= most or used + size > budget):
            yield chunk, bodies
            chunk, bodies, used = {}, [], 0
        custom_id = f"item-{next(numbers)}"
        chunk[custom_id] = item
        bodies.append((custom_id, body))
        used += size
    if bodies:
        yield chunk, bodies


async def _submit_all(
    groups: dict[int, _Group], submitted: list[_Submitted], state: BatchState
) -> list[ProviderBatchOutcome]:
    failures: list[ProviderBatchOutcome] = []
    numbers = itertools.count()
    for group in groups.values():
        for chunk, bodies in _chunks(group, failures, numbers):
            try:
                await group.engine.config.check_url()
                batch_id = await group.backend.submit(bodies)
            except GeppettoError as exc:
                failures.extend(ProviderBatchOutcome(item.id, error=exc) for item in chunk.values())
                continue
            batch = _Submitted(group.backend, batch_id, chunk)
            submitted.append(batch)
            state.add(batch)
    return failures


async def _collect(batch: _Submitted) -> AsyncIterator[ProviderBatchOutcome]:
    status = batch.status
    assert status is not None
    left = dict(batch.requests)
    try:
        async for custom_id, result, request_id in batch.backend.results(status):
            item = left.pop(custom_id, None)
            if item is None:
                continue  # not ours (or already handed out)
            yield _outcome(batch, custom_id, item, result, request_id)
    except GeppettoError as exc:
        batch.collect_failed = True
        for outcome in _all_failed(batch, _about(batch, exc), only=left):
            yield outcome
        return
    for custom_id, item in left.items():
        what = status.error or f"the batch ended ({status.status}) without a result for this request"
        error = make_error(status.provider, f"batch {batch.batch_id}: {what}", hint="submit it again")
        yield ProviderBatchOutcome(item.id, error=error, batch_id=batch.batch_id, custom_id=custom_id)


def _outcome(
    batch: _Submitted, custom_id: str, item: ProviderBatchRequest, result: Any, request_id: str
) -> ProviderBatchOutcome:
    outcome = ProviderBatchOutcome(item.id, batch_id=batch.batch_id, custom_id=custom_id)
    if isinstance(result, GeppettoError):
        outcome.error = result
        return outcome
    try:
        outcome.turn = batch.backend.turn_for(item.turn, result, request_id)
    except GeppettoError as exc:
        outcome.error = exc
    return outcome


def _about(batch: _Submitted, error: GeppettoError) -> GeppettoError:
    """``error`` naming the batch, so a user can look it up at the provider."""
    if batch.batch_id in str(error) or not isinstance(error, ProviderError):
        return error
    return ProviderError(
        f"batch {batch.batch_id}: {error}",
        provider=error.provider,
        status=error.status,
        retryable=error.retryable,
        request_id=error.request_id,
    )


def _all_failed(
    batch: _Submitted, error: GeppettoError, only: dict[str, ProviderBatchRequest] | None = None
) -> list[ProviderBatchOutcome]:
    items = batch.requests if only is None else only
    return [
        ProviderBatchOutcome(item.id, error=error, batch_id=batch.batch_id, custom_id=custom_id)
        for custom_id, item in items.items()
    ]


async def _cancel_unfinished(submitted: list[_Submitted]) -> None:
    """Best effort, also while being cancelled: a batch nobody can collect only costs money."""
    for batch in submitted:
        if batch.done:
            continue
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.shield(batch.backend.cancel(batch.batch_id))
