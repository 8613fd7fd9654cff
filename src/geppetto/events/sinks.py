"""Event sinks: where published events go.

A sink is anything with ``publish(event)``. Publishing is synchronous and must not block: it
runs on the inference's event loop between stream chunks. Sinks that need to do slow work
(write to a socket, call into JS) hand the event off (see :class:`QueueSink`).

Views: the sinks here show the seed view by default (``view="seed"``: the core lifecycle
events with ``event.seed`` false are skipped, so seed consumers see what they always saw);
``view="core"`` passes every core event. :class:`ReferenceSink` receives the reference's
payload dicts instead (``views.reference_view``). A sink written elsewhere receives every
core event and can filter on ``event.seed``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, Literal, Protocol, TextIO, runtime_checkable

from geppetto.events.types import (
    CanonicalEventType,
    ErrorEvent,
    Event,
    EventType,
    FinalEvent,
    InterruptEvent,
    PartialEvent,
    parse_event_type,
)
from geppetto.events.views import reference_types, reference_view
from geppetto.terminal_text import safe_text

View = Literal["seed", "core"]

log = logging.getLogger("geppetto.events")


@runtime_checkable
class EventSink(Protocol):
    def publish(self, event: Event) -> None: ...


def wanted_types(sinks: Iterable[object]) -> frozenset[type] | None:
    """The event classes some sink acts on, or ``None`` for all of them.

    A sink may declare ``event_types`` (a frozenset of event classes): the only events it does
    anything with. When every sink of a run declares one, publishers skip building the events
    nobody would look at (``RunContext.wants``); one sink without it means every event is built.
    Why: a server streaming text reads the deltas only, and the lifecycle events around them
    (segments, metadata, finals) were a tenth of its CPU per request.
    """
    wanted: set[type] = set()
    for sink in sinks:
        declared = getattr(sink, "event_types", None)
        if declared is None:
            return None
        wanted.update(declared)
    return frozenset(wanted)


@functools.cache
def event_classes(
    types: frozenset[object] | None = None, *, seed_only: bool = False
) -> frozenset[type] | None:
    """The event classes a sink that keeps only ``types`` (``None``: any) and, with
    ``seed_only``, only seed-view events acts on; ``None`` when that is every event. What the
    sinks here declare as ``event_types``. Only geppetto's own classes (``events.types`` and
    ``events.canonical``) are looked for: they are the ones its producers ask about."""
    if types is None and not seed_only:
        return None
    importlib.import_module("geppetto.events.canonical")  # its classes must exist to be found

    found: set[type] = set()
    pending: list[type] = [Event]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if seed_only and not getattr(cls, "seed", True):
            continue
        if types is None or getattr(cls, "type", None) in types:
            found.add(cls)
    return frozenset(found)


def _core(view: View) -> bool:
    if view not in ("seed", "core"):
        raise ValueError(f"event view must be 'seed' or 'core', not {view!r}")
    return view == "core"


class CallbackSink:
    """Calls ``fn(event)`` for every event, optionally only for some types (naming a core-only
    type such as ``run-started`` implies ``view="core"``)."""

    __slots__ = ("_all", "_fn", "_types", "event_types")

    def __init__(
        self,
        fn: Callable[[Event], object],
        types: Iterable[EventType | CanonicalEventType | str] | None = None,
        *,
        view: View = "seed",
    ) -> None:
        self._fn = fn
        self._all = _core(view)
        self._types = frozenset(parse_event_type(t) for t in types) if types is not None else None
        if self._types is not None and any(isinstance(t, CanonicalEventType) for t in self._types):
            self._all = True
        self.event_types = event_classes(self._types, seed_only=not self._all)

    def publish(self, event: Event) -> None:
        if (self._all or event.seed) and (self._types is None or event.type in self._types):
            self._fn(event)


class CollectingSink:
    """Keeps every event in ``events``: handy in tests and for post-run inspection."""

    __slots__ = ("_all", "event_types", "events")

    def __init__(self, *, view: View = "seed") -> None:
        self.events: list[Event] = []
        self._all = _core(view)
        self.event_types = event_classes(seed_only=not self._all)

    def publish(self, event: Event) -> None:
        if self._all or event.seed:
            self.events.append(event)

    def of_type(self, event_type: EventType | CanonicalEventType | str) -> list[Event]:
        wanted = parse_event_type(event_type)
        return [event for event in self.events if event.type is wanted]


class ReferenceSink:
    """Calls ``fn(payload)`` with the reference's ``GeppettoEvent`` payload dicts
    (:func:`~geppetto.events.views.reference_view`), optionally only for some of its type names;
    events that render to none of them are never rendered."""

    __slots__ = ("_fn", "_types")

    def __init__(self, fn: Callable[[dict[str, Any]], object], types: Iterable[str] | None = None) -> None:
        self._fn = fn
        self._types = frozenset(str(t) for t in types) if types is not None else None

    def publish(self, event: Event) -> None:
        wanted = self._types
        if wanted is not None and wanted.isdisjoint(reference_types(event)):
            return
        for payload in reference_view(event):
            if wanted is None or payload["type"] in wanted:
                self._fn(payload)


class QueueSink:
    """Feeds an ``asyncio.Queue`` owned by ``loop``; safe to publish from any thread.

    ``None`` is never put by the sink itself; consumers usually stop on a ``final``,
    ``error`` or ``interrupt`` event or when the run's handle completes.
    """

    __slots__ = ("_all", "_loop", "event_types", "queue")

    def __init__(
        self,
        queue: asyncio.Queue[Event] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        view: View = "seed",
    ):
        self.queue: asyncio.Queue[Event] = queue if queue is not None else asyncio.Queue()
        self._loop = loop or asyncio.get_running_loop()
        self._all = _core(view)
        self.event_types = event_classes(seed_only=not self._all)

    def publish(self, event: Event) -> None:
        if not (self._all or event.seed):
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self.queue.put_nowait(event)
        else:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, event)


class PrinterSink:
    """Prints a run as it happens: text deltas as they arrive (``text``) or one JSON line per event.

    In ``text`` mode control characters are shown, not obeyed (:mod:`geppetto.terminal_text`), so
    a reply cannot drive the terminal; ``json`` lines stay exact. ``show_errors=False`` leaves
    errors to the caller (the CLI prints them once, on stderr). When the reader goes away (a
    closed pipe) the sink goes quiet, sets :attr:`broken` and calls ``on_broken`` once, which is
    where the caller cancels the run instead of generating for nobody.
    """

    __slots__ = ("_mode", "_on_broken", "_out", "_show_errors", "broken")
    event_types = event_classes(seed_only=True)  # the seed view only

    def __init__(
        self,
        out: TextIO | None = None,
        mode: str = "text",
        *,
        show_errors: bool = True,
        on_broken: Callable[[], object] | None = None,
    ) -> None:
        if mode not in ("text", "json"):
            raise ValueError(f"printer mode must be 'text' or 'json', not {mode!r}")
        self._out = out or sys.stdout
        self._mode = mode
        self._show_errors = show_errors
        self._on_broken = on_broken
        self.broken = False

    def publish(self, event: Event) -> None:
        if not event.seed or self.broken:
            return
        if self._mode == "json":
            text = event.to_json() + "\n"
        elif isinstance(event, PartialEvent):
            text = safe_text(event.delta)
        elif isinstance(event, FinalEvent | InterruptEvent):
            text = "\n"
        elif isinstance(event, ErrorEvent):
            text = f"\n[error] {safe_text(event.error_string)}\n" if self._show_errors else "\n"
        else:
            return
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            self.broken = True
            if self._on_broken is not None:
                self._on_broken()


class EventRouter:
    """Fans an event out to several sinks; a failing sink is logged and never stops the others."""

    __slots__ = ("_sinks",)

    def __init__(self, sinks: Iterable[EventSink] = ()) -> None:
        self._sinks: list[EventSink] = list(sinks)

    def add(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def remove(self, sink: EventSink) -> None:
        self._sinks.remove(sink)

    @property
    def sinks(self) -> tuple[EventSink, ...]:
        return tuple(self._sinks)

    def __bool__(self) -> bool:
        return bool(self._sinks)

    def publish(self, event: Event) -> None:
        for sink in self._sinks:
            try:
                sink.publish(event)
            except Exception:
                log.exception("event sink %r failed on %s event", sink, event.type)
