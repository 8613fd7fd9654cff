"""Per-run tags of one session, put on ``ctx.tags`` before any other middleware reads them.

A session runs at most one inference at a time, so one mutable slot is enough: the caller sets
:attr:`RunTags.tags` before a run and the outermost middleware copies them onto the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geppetto.engines.base import Handler, RunContext
from geppetto.turns.model import Turn


@dataclass(slots=True)
class RunTags:
    """The tags of a session's active run (at most one run is active, so one slot is enough)."""

    tags: dict[str, Any] = field(default_factory=dict)

    def middleware(self, inner: Handler) -> Handler:
        """Outermost middleware: puts the run's tags on the context before anything reads them."""

        async def handler(turn: Turn, ctx: RunContext) -> Turn:
            if self.tags:
                ctx.tags.update(self.tags)
            return await inner(turn, ctx)

        return handler
