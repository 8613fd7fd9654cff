"""A helper thread that watches one running script: its wall-clock deadline and its heap peak.

The deadline is wall-clock time for the whole script, awaiting included, so it cannot live in the
engine (whose own limit counts process CPU time and only while JS runs). The heap peak is there
because quickjs reports running out of memory badly: when even the error object cannot be
allocated it throws a bare ``null``, or the failure lands in a promise reaction that then never
runs. By the time the host sees such a failure the frames that held the memory are gone, so the
runtime asks how close to its limit the heap came, sampled here every ``interval`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# A bare-null failure counts as running out of memory once the heap came this close to the limit.
NEAR_MEMORY_LIMIT = 0.8


def out_of_memory(name: str, message: str, kind: str, *, limit: int, peak: int) -> bool:
    """Whether a script failure is the memory limit: quickjs throws ``InternalError: out of
    memory``, or a bare ``null`` when even that error cannot be allocated, or loses the rejection
    of the script's promise (an unsettled await); those two count only when the heap ``peak``
    came near the ``limit``."""
    if name == "InternalError" and message == "out of memory":
        return True
    bare_null = message == "null" and name in ("", "Error")
    return (bare_null or kind == "unsettledAwait") and peak >= limit * NEAR_MEMORY_LIMIT


class ScriptWatch:
    """Calls ``on_deadline`` once ``timeout`` seconds pass and samples ``read_heap`` meanwhile."""

    def __init__(
        self,
        *,
        timeout: float | None,
        on_deadline: Callable[[], None],
        read_heap: Callable[[], int] | None,
        interval: float = 0.01,
    ) -> None:
        self._timeout = timeout
        self._on_deadline = on_deadline
        self._read_heap = read_heap
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak = 0

    @property
    def needed(self) -> bool:
        return self._timeout is not None or self._read_heap is not None

    def start(self) -> None:
        if self.needed:
            self._thread = threading.Thread(target=self._run, name="geppetto-js-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End the watch (from any thread, also the watch's own callback); takes a last sample."""
        self._stop.set()
        self.sample()

    def sample(self) -> None:
        if self._read_heap is not None:
            self.peak = max(self.peak, self._read_heap())

    def _run(self) -> None:
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            wait = None if self._read_heap is None else self._interval
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                wait = left if wait is None else min(wait, left)
            if self._stop.wait(wait):
                return
            self.sample()
            if deadline is not None and time.monotonic() >= deadline:
                self._on_deadline()
                deadline = None
                if self._read_heap is None:
                    return
