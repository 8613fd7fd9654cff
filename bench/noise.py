"""``--noise``: another process keeps one core busy for the whole run.

Users' machines are never idle, so the budgets that slipped under load (``geppetto infer`` on
echo, the JS rows) are also judged with a competitor for the CPU. The noise process is a pure
Python busy loop, not pinned: the scheduler places it as it would any background job. It is
ended (by its own pid) when the run ends, and exits by itself within 0.5 s if the parent dies.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

NOISE_LABEL = "one busy-looping process (unpinned)"

_BUSY = """
import os, time
parent = os.getppid()
while os.getppid() == parent:
    until = time.monotonic() + 0.5
    while time.monotonic() < until:
        pass
"""


@contextlib.contextmanager
def noise(enabled: bool) -> Iterator[subprocess.Popen[bytes] | None]:
    if not enabled:
        yield None
        return
    proc = subprocess.Popen([sys.executable, "-c", _BUSY])
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
