"""The seam between sessions and turn stores: a session hands every finished run's turn to it."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

from geppetto.turns.model import Turn


class RunOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@runtime_checkable
class TurnPersister(Protocol):
    """Receives the final turn of every run (completed, failed or cancelled), before the run's
    handle settles. Must not keep ``turn``: it is the session's own object. Errors are logged and
    never fail the run."""

    def persist_turn(
        self, session_id: str, turn: Turn, *, outcome: RunOutcome, error: str | None
    ) -> None: ...
