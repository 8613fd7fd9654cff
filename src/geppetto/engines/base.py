"""The engine seam: what every provider adapter and test engine implements.

An engine is ``async def run(turn, ctx) -> Turn``. It appends what the model produced to the
turn (in place, like the reference) and returns it, publishes events through ``ctx``, and stops
promptly when its task is cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from geppetto.events.correlation import Correlation, provider_call_correlation, run_correlation
from geppetto.events.sinks import EventSink
from geppetto.events.types import Event, EventMetadata, Usage
from geppetto.turns.model import Turn, new_id


@dataclass(slots=True)
class RunContext:
    """Everything an engine, middleware or tool needs to know about the run it is part of.

    ``output`` is the most recent turn an engine produced; the session reads it when a run is
    cancelled or fails, so partial output is kept even if a middleware replaced the turn object.
    ``provider_calls`` counts the model calls made so far in this run (the tool loop makes
    several); each takes the next index for its ``provider_call_id``. ``usage`` sums what those
    calls reported (engines built on the stream accumulator add to it): the run's own total, which
    the session prices and stores.
    """

    session_id: str = ""
    inference_id: str = ""
    turn_id: str = ""
    sink: EventSink | None = None
    tools: Any = None
    tags: dict[str, Any] = field(default_factory=dict)
    output: Turn | None = None
    provider_calls: int = 0
    usage: Usage | None = None
    # The event classes the sink acts on (``None``: all); see ``events.sinks.wanted_types``.
    event_types: frozenset[type] | None = None

    def wants(self, kind: type) -> bool:
        """Whether an event of class ``kind`` would be seen: build it only then."""
        return self.sink is not None and (self.event_types is None or kind in self.event_types)

    def add_usage(self, usage: Usage) -> None:
        """Count one model call's usage towards the run's total."""
        self.usage = usage if self.usage is None else self.usage + usage

    def publish(self, event: Event) -> None:
        if self.sink is not None:
            self.sink.publish(event)

    def event_metadata(self, model: str = "") -> EventMetadata:
        """Fresh metadata for one engine message (one message id shared by its events)."""
        return EventMetadata(
            message_id=new_id(),
            session_id=self.session_id,
            inference_id=self.inference_id,
            turn_id=self.turn_id,
            model=model,
        )

    def next_provider_call(self, provider: str, run_id: str = "") -> Correlation:
        """The correlation of a new model call in this run (``provider_call_id`` gets the next index)."""
        index = self.provider_calls
        self.provider_calls = index + 1
        return self.provider_call(provider, index, run_id)

    def provider_call(self, provider: str, index: int, run_id: str = "") -> Correlation:
        """The correlation of this run's ``index``-th model call."""
        call = provider_call_correlation(provider or "engine", self.inference_id or run_id, index)
        return Correlation(self.session_id, call.run_id, self.turn_id, call.provider_call_id)

    def run_metadata(self) -> EventMetadata:
        """Metadata for run-level events: the inference id doubles as their message id."""
        return EventMetadata(
            message_id=self.inference_id,
            session_id=self.session_id,
            inference_id=self.inference_id,
            turn_id=self.turn_id,
        )

    def run_correlation(self) -> Correlation:
        """The run-level ids (session, run = inference id, turn)."""
        return run_correlation(self.session_id, self.inference_id, self.turn_id)


Handler = Callable[[Turn, RunContext], Awaitable[Turn]]


@runtime_checkable
class Engine(Protocol):
    """Runs one inference on a turn."""

    @property
    def name(self) -> str: ...

    async def run(self, turn: Turn, ctx: RunContext) -> Turn: ...
