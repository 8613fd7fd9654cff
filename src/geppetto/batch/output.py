"""The output file: append-only JSONL, fsynced before an item counts as done, readable for resume.

A ``kill -9`` can leave at most a torn last line (a record cut mid-write). :func:`read_output`
ignores it and :class:`ResultWriter` cuts it off before appending, so the next record starts on
a line of its own. When a file holds several records for one id (a ``--retry-failed`` run), the
last one is the item's result.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from geppetto.batch.result import BatchResult


@dataclass(slots=True)
class OutputState:
    """What an existing output file already holds, by id key (``str(id)``): ``ok`` or ``error``."""

    status: dict[str, str] = field(default_factory=dict)
    torn: bool = False  # the last line was cut off (dropped)
    bad_lines: list[int] = field(default_factory=list)

    def done(self, *, retry_failed: bool = False) -> set[str]:
        """Ids a resumed run skips: every recorded id, or only the successful ones."""
        if retry_failed:
            return {key for key, status in self.status.items() if status == "ok"}
        return set(self.status)


def _complete_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` for every newline-terminated line, streamed; a last line without
    its newline (a write cut off) is left out. Raises :class:`FileNotFoundError`."""
    with Path(path).open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if raw.endswith(b"\n"):
                yield number, raw


def read_output(path: str | Path) -> OutputState:
    """Read an output file line by line (missing file: nothing done); memory holds the ids."""
    state = OutputState()
    try:
        with Path(path).open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.endswith(b"\n"):
                    state.torn = state.torn or bool(raw.strip())  # the write never finished
                    continue
                if not raw.strip():
                    continue
                try:
                    record = orjson.loads(raw)
                    key = str(record["id"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    state.bad_lines.append(number)
                    continue
                state.status[key] = str(record.get("status") or "ok")
    except FileNotFoundError:
        return state
    return state


def read_results(path: str | Path) -> list[BatchResult]:
    """Every complete record of an output file, last record per id, in file order of that record."""
    by_key: dict[str, BatchResult] = {}
    for _, raw in _complete_lines(path):
        if raw.strip():
            try:
                result = BatchResult.from_dict(orjson.loads(raw))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            by_key.pop(result.key, None)
            by_key[result.key] = result
    return list(by_key.values())


def _cut_torn_tail(path: Path) -> None:
    """Cut a last line left without its newline; reads only the file's tail."""
    with path.open("rb+") as f:
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        position = end
        while position > 0:  # back to the last newline, a block at a time
            start = max(0, position - (1 << 16))
            f.seek(start)
            block = f.read(position - start)
            found = block.rfind(b"\n")
            if found >= 0:
                f.truncate(start + found + 1)
                break
            position = start
        else:
            f.truncate(0)
        f.flush()
        os.fsync(f.fileno())


class ResultWriter:
    """Appends records; :meth:`write` returns once they are on disk (flush + fsync). With
    ``stream`` (stdout) records are flushed, not synced, and there is nothing to resume."""

    def __init__(
        self, path: str | Path | None, *, fsync: bool = True, stream: IO[bytes] | None = None
    ) -> None:
        if (path is None) == (stream is None):
            raise ValueError("ResultWriter needs a path or a stream")
        self.path = Path(path) if path is not None else None
        self.fsync = fsync and stream is None
        self._stream = stream
        self._file: IO[bytes] | None = None

    def open(self) -> ResultWriter:
        if self._stream is not None:
            self._file = self._stream
            return self
        assert self.path is not None
        if self.path.exists():
            _cut_torn_tail(self.path)
        self._file = self.path.open("ab")
        return self

    def write(self, results: Iterable[BatchResult | dict[str, Any]]) -> int:
        """Append records in one write and one fsync (group commit); returns how many."""
        if self._file is None:
            self.open()
        assert self._file is not None
        lines = [orjson.dumps(r.to_dict() if isinstance(r, BatchResult) else r) + b"\n" for r in results]
        if not lines:
            return 0
        self._file.write(b"".join(lines))
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        return len(lines)

    def close(self) -> None:
        if self._file is not None and self._stream is None:
            self._file.close()
        self._file = None

    def __enter__(self) -> ResultWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


async def write_all(
    results: AsyncIterator[BatchResult],
    writer: ResultWriter,
    on_written: Callable[[BatchResult], None] | None = None,
    *,
    stop: Callable[[BatchResult], bool] | None = None,
) -> None:
    """Write results as they come: a writer thread appends and fsyncs whatever has accumulated
    since its last write (group commit), so a slow disk never holds up the items in flight, and
    a result counts as written (``on_written``) only once it is on disk. ``stop(result)`` true
    ends the run after that result is written (``--fail-fast``)."""
    queue: asyncio.Queue[BatchResult | None] = asyncio.Queue()

    async def drain() -> None:
        finished = False
        while not finished:
            batch: list[BatchResult] = []
            first = await queue.get()
            if first is None:
                return
            batch.append(first)
            while not queue.empty():
                more = queue.get_nowait()
                if more is None:
                    finished = True
                    break
                batch.append(more)
            await asyncio.to_thread(writer.write, batch)
            if on_written is not None:
                for result in batch:
                    on_written(result)

    task = asyncio.create_task(drain())
    try:
        async for result in results:
            queue.put_nowait(result)
            if task.done():
                break  # the writer failed: its error is raised below
            if stop is not None and stop(result):
                break
    finally:
        queue.put_nowait(None)
        close = getattr(results, "aclose", None)
        if close is not None:
            await close()
        await task
