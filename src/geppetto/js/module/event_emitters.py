"""Events of an agent run delivered to JS: ``agent().events(emitter | fn)`` (spec §9 "Event emitters").

One :class:`RunEmitterSink` per run. It renders each core event in the reference view on the
publishing thread and queues the payloads; the first payload queued after a delivery posts one
owner job, which hands everything queued by then to the JS dispatchers in one call (under load
the batches grow, so a long text stream costs few owner jobs). The JS dispatcher emits each
payload as ``"event"`` and then under its type (``error`` as ``inference-error``).

Order and lifetime: the run's promise settles through an owner job posted after the sink was
closed, so every event published during the run reaches JS first, and nothing published later
(a straggler after the run ended) is delivered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from geppetto.events import reference_view
from geppetto.events.types import Event
from geppetto.js.values import JSCallback

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime

log = logging.getLogger("geppetto.js.events")

View = Callable[[Event], list[dict[str, Any]]]


class RunEmitterSink:
    """Batches one run's reference payloads to the JS dispatchers on the owner thread."""

    __slots__ = ("_closed", "_dispatchers", "_lock", "_pending", "_runtime", "_view")

    def __init__(self, runtime: JSRuntime, dispatchers: tuple[JSCallback, ...]) -> None:
        self._runtime = runtime
        self._dispatchers = dispatchers
        self._view: View = reference_view
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._closed = False

    def publish(self, event: Event) -> None:
        if self._closed:
            return
        payloads = self._view(event)
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
