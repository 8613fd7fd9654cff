"""Events of an agent run delivered to JS: ``agent().events(emitter | fn)`` (spec §9 "Event emitters").

One :class:`RunEmitterSink` per run. It renders each core event in the reference view on the
publishing thread and queues the payloads; the first payload queued after a delivery posts one
owner job, which hands everything queued by then to the JS dispatchers in one call (under load
the batches grow, so a long text stream costs few owner jobs). The JS dispatcher emits each
payload as ``"event"`` and then under its type (``error`` as ``inference-error``).

Order and lifetime: the run's promise settles through an owner job posted after the sink was
closed, so every event published during the run reaches JS first, and nothing published later
(a straggler after the run ended) is delivered.

Deltas: a ``text-delta``/``reasoning-delta`` carries its segment's whole text so far, so rendering
and shipping it with every delta would make a long stream quadratic. The sink renders deltas
without it (``reference_view(event, delta_text=False)``) and the run's JS dispatcher (one per run,
made by the script's factory) rebuilds it: the previous text of the same segment plus the delta.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from geppetto.events import reference_view
from geppetto.events.types import Event
from geppetto.js.values import JSCallback

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime

log = logging.getLogger("geppetto.js.events")


class RunEmitterSink:
    """Batches one run's reference payloads to the JS dispatchers on the owner thread."""

    __slots__ = ("_closed", "_dispatchers", "_lock", "_pending", "_runtime")

    def __init__(self, runtime: JSRuntime, dispatchers: tuple[JSCallback, ...]) -> None:
        self._runtime = runtime
        self._dispatchers = dispatchers
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._closed = False

    def publish(self, event: Event) -> None:
        if self._closed:
            return
        payloads = reference_view(event, delta_text=False)
        if not payloads:
            return
        with self._lock:
            if self._closed:
                return
            post = not self._pending
            self._pending.extend(payloads)
        if post:
            self._runtime.submit(self.flush)

    def close(self) -> None:
        """Accept nothing more; what was queued is still delivered (before the run settles)."""
        with self._lock:
            self._closed = True

    def flush(self) -> None:
        """Deliver everything queued (owner thread). A dispatcher failure is logged, never raised:
        a broken listener must not break the run."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        for dispatch in self._dispatchers:
            try:
                dispatch(batch)
            except Exception as exc:
                log.warning("geppetto events: event listener failed: %s", exc)
