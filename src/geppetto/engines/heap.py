"""Tune the garbage collector for many live runs once the first provider client exists.

Why: importing the SDKs (openai, aiohttp, pydantic) leaves ~90k long-lived container objects.
Under many live sessions the collector's full (oldest-generation) passes walk all of them again
and again; in the 1,000-session bench that was the largest single cost of a run. ``gc.freeze()``
moves what exists now into a permanent generation the collector skips: O(1), nothing is copied,
and later allocations are collected as before. The one trade: an object alive at that moment
that later becomes part of an unreachable cycle is never reclaimed (no collection runs first:
it would cost ~50 ms of start-up to find the ~80 objects it would free).

The youngest generation's threshold also goes from 700 to 5,000 allocations. Why: a run keeps
~60 container objects alive while it waits on the network; with 700, a thousand waiting runs
meant a young collection every dozen runs started, each pass promoting the waiting runs'
objects to older generations whose passes then walked them again (in the 1,000-session bench
the session row spent a quarter of its CPU there; 5,000 brought its wall time from 182 to
136 ms, same run). The trade: unreachable cycles wait for up to 5,000 allocations instead of
700 before they are freed. Thresholds an application has already changed are left alone.

Set ``GEPPETTO_GC_FREEZE=0`` to opt out of both (e.g. an application that manages ``gc`` itself).
"""

from __future__ import annotations

import gc
import os

_OFF = ("0", "false", "no", "off")
_DEFAULT_THRESHOLDS = (700, 10, 10)  # CPython's
YOUNG_THRESHOLD = 5000
_state = {"frozen": False}


def freeze_startup_heap() -> bool:
    """Freeze the current heap once per process; returns whether this call froze it."""
    if _state["frozen"]:
        return False
    _state["frozen"] = True
    if os.environ.get("GEPPETTO_GC_FREEZE", "1").strip().lower() in _OFF:
        return False
    gc.freeze()
    if gc.get_threshold() == _DEFAULT_THRESHOLDS:
        gc.set_threshold(YOUNG_THRESHOLD, *_DEFAULT_THRESHOLDS[1:])
    return True
