"""Keep the garbage collector off the start-up heap once the first provider client exists.

Why: importing the SDKs (openai, aiohttp, pydantic) leaves ~90k long-lived container objects.
Under many live sessions the collector's full (oldest-generation) passes walk all of them again
and again; in the 1,000-session bench that was the largest single cost of a run. ``gc.freeze()``
moves what exists now into a permanent generation the collector skips: O(1), nothing is copied,
and later allocations are collected as before. The one trade: an object alive at that moment
that later becomes part of an unreachable cycle is never reclaimed (no collection runs first:
it would cost ~50 ms of start-up to find the ~80 objects it would free).

Set ``GEPPETTO_GC_FREEZE=0`` to opt out (e.g. an application that manages ``gc`` itself).
"""

from __future__ import annotations

import gc
import os

_OFF = ("0", "false", "no", "off")
_state = {"frozen": False}


def freeze_startup_heap() -> bool:
    """Freeze the current heap once per process; returns whether this call froze it."""
    if _state["frozen"]:
        return False
    _state["frozen"] = True
    if os.environ.get("GEPPETTO_GC_FREEZE", "1").strip().lower() in _OFF:
        return False
    gc.freeze()
    return True
