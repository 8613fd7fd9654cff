"""``TurnBuilder``: the next turn of an agent session, built immutably and then run.

>>> result = session.next().system("be terse").user("what is this?", images=["photo.png"]).run()
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geppetto.agent.options import RunOptions
from geppetto.turns.keys import KeyScope, resolve_key
from geppetto.turns.model import Block, Turn

if TYPE_CHECKING:
    from geppetto.agent.run import AgentRun, RunResult
    from geppetto.agent.session import AgentSession
    from geppetto.events.sinks import EventSink

ImageSpec = dict[str, Any] | str | os.PathLike[str]

_MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
OCTET_STREAM = "application/octet-stream"


def media_type_for(path: str | os.PathLike[str]) -> str:
    """``image/jpeg|png|gif|webp`` from the file extension, else ``application/octet-stream``."""
    return _MEDIA_TYPES.get(Path(path).suffix.lower(), OCTET_STREAM)


def image_payload(spec: ImageSpec) -> dict[str, Any]:
    """One entry of a user block's ``payload["images"]`` in the reference format.

    A dict is taken as it is (``{"url": ..., **options}`` or ``{"media_type": ..., "content": b64}``),
    a string is an image URL and a path (``os.PathLike``) a local file, read and base64-encoded.
    """
    if isinstance(spec, dict):
        if not isinstance(spec.get("url"), str) and not isinstance(spec.get("content"), str):
            raise TypeError('an image needs "url" or base64 "content"')
        return dict(spec)
    if isinstance(spec, str):
        return {"url": spec}
    if isinstance(spec, os.PathLike):
        data = Path(spec).read_bytes()
        return {"media_type": media_type_for(spec), "content": base64.b64encode(data).decode("ascii")}
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
