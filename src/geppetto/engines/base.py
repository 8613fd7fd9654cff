"""The engine seam: what every provider adapter and test engine implements.

An engine is ``async def run(turn, ctx) -> Turn``. It appends what the model produced to the
turn (in place, like the reference) and returns it, publishes events through ``ctx``, and stops
promptly when its task is cancelled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from geppetto.events.sinks import EventSink
from geppetto.events.types import Event, EventMetadata
from geppetto.turns.model import Turn, new_id


@dataclass(slots=True)
class RunContext:
    """Everything an engine, middleware or tool needs to know about the run it is part of.

    ``output`` is the most recent turn an engine produced; the session reads it when a run is
    cancelled or fails, so partial output is kept even if a middleware replaced the turn object.
    """

    session_id: str = ""
    inference_id: str = ""
    turn_id: str = ""
    sink: EventSink | None = None
    tools: Any = None
    tags: dict[str, Any] = field(default_factory=dict)
    output: Turn | None = None

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


Handler = Callable[[Turn, RunContext], Awaitable[Turn]]


@runtime_checkable
class Engine(Protocol):
    """Runs one inference on a turn."""

    @property
    def name(self) -> str: ...

    async def run(self, turn: Turn, ctx: RunContext) -> Turn: ...
