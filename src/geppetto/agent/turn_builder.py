"""``TurnBuilder``: the next turn of an agent session, built immutably and then run.

>>> result = session.next().system("be terse").user("what is this?", images=["photo.png"]).run()
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from geppetto.agent.options import RunOptions
from geppetto.turns.keys import KeyScope, resolve_key
from geppetto.turns.model import Block, Turn

if TYPE_CHECKING:
    from geppetto.agent.run import AgentRun, RunResult
    from geppetto.agent.session import AgentSession
    from geppetto.events.sinks import EventSink

ImageSpec = dict[str, Any] | str | os.PathLike[str]


def image_payload(spec: ImageSpec) -> dict[str, Any]:
    """One entry of a user block's ``payload["images"]`` in the reference format.

    A dict is taken as it is (``{"url": ..., **options}`` or ``{"media_type": ..., "content": b64}``,
    see :mod:`geppetto.turns.images`), a string is an image URL and a path (``os.PathLike``) a
    local file, read and base64-encoded.
    """
    from geppetto.turns import images

    if isinstance(spec, dict):
        return images.payload_images([spec])[0]
    if isinstance(spec, str):
        return images.image_url(spec)
    if isinstance(spec, os.PathLike):
        return images.image_file(spec)
    raise TypeError("an image must be a dict, a URL string or a path")


class TurnBuilder:
    """An immutable draft of a session's next turn: every method returns a new builder.

    It starts as a copy of the session's latest turn (the whole conversation so far), so what
    you add is the new part; :meth:`run`, :meth:`arun` and :meth:`start` run it on the session.
    """

    __slots__ = ("_session", "_turn")

    def __init__(self, session: AgentSession, turn: Turn) -> None:
        self._session = session
        self._turn = turn

    @property
    def turn(self) -> Turn:
        """A copy of the turn as built so far."""
        return self._turn.clone(deep=True)

    def _with(self, *blocks: Block) -> TurnBuilder:
        turn = self._turn.clone()
        turn.blocks.extend(blocks)
        return TurnBuilder(self._session, turn)

    def system(self, text: str) -> TurnBuilder:
        return self._with(Block.system(text))

    def user(self, text: str, images: Iterable[ImageSpec] | None = None) -> TurnBuilder:
        """A user message; ``images`` (dicts, URLs or paths) make it multimodal."""
        payloads = [image_payload(spec) for spec in images] if images is not None else None
        return self._with(Block.user(text, payloads or None))

    def assistant(self, text: str) -> TurnBuilder:
        return self._with(Block.assistant(text))

    def blocks(self, *blocks: Block) -> TurnBuilder:
        return self._with(*(block.clone(deep=True) for block in blocks))

    def metadata(self, key: str, value: Any) -> TurnBuilder:
        """Set turn metadata ``key`` (short names like ``trace_id``, or any ``ns.name@vN`` id)."""
        key_id = resolve_key(KeyScope.TURN_METADATA, key)
        if not key_id:
            raise ValueError("session turn metadata key must not be empty")
        turn = self._turn.clone()
        turn.metadata[key_id] = value
        return TurnBuilder(self._session, turn)

    # -- running -------------------------------------------------------------------------------

    def start(self, options: RunOptions | None = None, *, sinks: Iterable[EventSink] = ()) -> AgentRun:
        """Start the turn and return its handle (on the caller's loop inside a coroutine)."""
        return self._session.start(self._turn.clone(deep=True), options, sinks=sinks)

    def run(
        self,
        options: RunOptions | None = None,
        *,
        sinks: Iterable[EventSink] = (),
        timeout: float | None = None,
    ) -> RunResult:
        """Run to completion from synchronous code."""
        return self._session.run(self._turn.clone(deep=True), options, sinks=sinks, timeout=timeout)

    async def arun(self, options: RunOptions | None = None, *, sinks: Iterable[EventSink] = ()) -> RunResult:
        """Run on the current loop; cancelling the awaiting task cancels the run."""
        return await self._session.arun(self._turn.clone(deep=True), options, sinks=sinks)
