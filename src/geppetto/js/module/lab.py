"""The ``geppetto-js-lab`` script globals (spec §8): ``assert(cond, msg)``, ``ENV`` and ``sleep(ms)``.

``geppetto js run`` installs them so scripts written for the reference lab run unchanged.
``sleep`` blocks the script like the lab's did, but the owner thread keeps serving callbacks
(inferences running meanwhile can still call into JS).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime

_ASSERT = """
Object.defineProperty(globalThis, 'assert', {
  value: function assert(cond, msg) {
    if (!cond) throw new Error(msg === undefined ? 'assertion failed' : String(msg));
  },
  writable: true, configurable: true, enumerable: false,
});
"""


def install_lab_globals(runtime: JSRuntime, *, environ: Mapping[str, str] | None = None) -> None:
    """Define ``assert``, ``ENV`` (a copy of ``environ``, default the process environment) and ``sleep``."""

    def sleep(ms: Any = 0) -> None:
        if isinstance(ms, bool) or not isinstance(ms, int | float) or not math.isfinite(ms):
            raise TypeError("sleep requires a number of milliseconds")
        if ms > 0:
            runtime.run_blocking(time.sleep, ms / 1000)

    runtime.eval(_ASSERT)
    runtime.set_global("ENV", dict(os.environ if environ is None else environ))
    runtime.set_global("sleep", sleep)
