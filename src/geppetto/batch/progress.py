"""Counting a batch as results land, a rich progress bar on a terminal, and the closing summary.

``rich`` is imported only when a bar is shown (stderr is a terminal and ``--quiet`` is off), so
scripts and ``geppetto --help`` never pay for it. The counts are updated per result, the bar at
most every :data:`REDRAW_INTERVAL` seconds (and once at the end): redrawing it per result cost
more than the batch's own bookkeeping at hundreds of items a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from geppetto.batch.result import BatchResult

REDRAW_INTERVAL = 0.1  # seconds


@dataclass(slots=True)
class BatchStats:
    """Running totals; ``skipped`` are items an earlier run already did, ``invalid`` bad input."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    tokens: int = 0
    cost: float | None = None
    started: float = field(default_factory=time.monotonic)
    failures: list[BatchResult] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def add(self, result: BatchResult) -> None:
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
            if len(self.failures) < 5:
                self.failures.append(result)
        self.tokens += result.tokens
        if result.cost is not None:
            self.cost = (self.cost or 0.0) + result.cost

    def eta(self) -> float | None:
        if not self.done or self.done >= self.total:
            return None
        return (self.total - self.done) * self.elapsed / self.done

    def summary(self) -> str:
        elapsed = self.elapsed
        cost = "cost n/a" if self.cost is None else f"cost ${self.cost:.4f}"
        parts = [f"{self.ok} ok", f"{self.failed} failed"]
        if self.invalid:
            parts.append(f"{self.invalid} bad input")
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        return (
            f"batch: {', '.join(parts)} in {elapsed:.1f}s; {self.done / elapsed:.1f} items/s, "
            f"{self.tokens} tokens ({self.tokens / elapsed:.0f}/s), {cost}"
        )


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "-:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class BatchProgress:
    """Updates ``stats`` per written result and, when ``show``, draws a bar on ``stream``."""

    def __init__(
        self,
        stats: BatchStats,
        stream: IO[str],
        *,
        show: bool,
        interval: float = REDRAW_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self._stream = stream
        self._progress: Any = None
        self._task: Any = None
        self._interval = interval
        self._clock = clock
        self._next_redraw = 0.0
        self.redraws = 0
        if show:
            try:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
            except ImportError:  # rich is a dependency; without it there is just no bar
                return
            self._progress = Progress(
                TextColumn("batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[line]}"),
                console=Console(file=stream),
                transient=False,
            )
            self._task = self._progress.add_task("batch", total=stats.total, line=self._line())

    def _line(self) -> str:
        s = self.stats
        elapsed = s.elapsed
        cost = "" if s.cost is None else f"  ${s.cost:.4f}"
        return (
            f"failed {s.failed}  {s.done / elapsed:.1f} items/s  {s.tokens / elapsed:.0f} tok/s{cost}"
            f"  ETA {_fmt_eta(s.eta())}"
        )

    def __enter__(self) -> BatchProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._redraw()  # the final counts, whatever the throttle skipped
            self._progress.stop()

    def update(self, result: BatchResult) -> None:
        self.stats.add(result)
        if self._progress is not None:
            now = self._clock()
            if now >= self._next_redraw:
                self._next_redraw = now + self._interval
                self._redraw()

    def _redraw(self) -> None:
        self.redraws += 1
        self._progress.update(self._task, completed=self.stats.done, line=self._line())
