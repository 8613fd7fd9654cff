"""Runs of the web chat: one per session at a time, on the server's loop, stored as they end.

A message continues the session's latest stored turn (or starts a new session) in a
:class:`~geppetto.session.Session` that persists to the store; its events go to an asyncio queue
the HTTP handler streams from. Cancelling the handle (the browser went away, Stop, shutdown)
stores the partial turn as a cancelled run, as the CLI's Ctrl-C does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from geppetto.errors import ConfigError, GeppettoError, SessionAlreadyActive
from geppetto.events.sinks import CallbackSink
from geppetto.events.types import Event
from geppetto.serve.claims import SessionClaims
from geppetto.serve.web.profiles import WebProfiles, redactor
from geppetto.serve.web.views import PROFILE_KEY, event_record
from geppetto.session import ExecutionHandle, Session
from geppetto.store import TurnStore
from geppetto.store.continuation import continuation
from geppetto.turns import Block, Turn, TurnMetaKeys, new_id
from geppetto.turns.keys import RunMetaKeys


class _Redacted(GeppettoError):
    """An error whose message was scrubbed of the profile's secrets (same ``code``, so the same
    HTTP status; not chained, so the original text goes nowhere)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def next_turn(latest: Turn | None, prompt: str, system: str, profile: str) -> Turn:
    """History plus the new user block; a new conversation starts with ``system`` (if any)."""
    turn = continuation(latest)
    if latest is None and system:
        turn.blocks.append(Block.system(system))
    turn.metadata[PROFILE_KEY] = profile
    turn.blocks.append(Block.user(prompt))
    return turn


@dataclass(slots=True)
class ChatRun:
    """A started run: its session id, handle, and the queue of page records (``None`` ends it)."""

    session_id: str
    profile: str
    handle: ExecutionHandle
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    redact: Callable[[str], str] = str  # the profile's secrets out of error text

    def outcome(self) -> dict[str, Any]:
        """The closing record: how the run ended and what it produced."""
        handle = self.handle
        record: dict[str, Any] = {"type": "done", "session_id": self.session_id, "outcome": "completed"}
        try:
            turn = handle.wait(0)
        except GeppettoError as exc:
            record["outcome"] = "cancelled" if exc.code == "cancelled" else "failed"
            record["error"] = "" if exc.code == "cancelled" else self.redact(str(exc))
            return record
        except Exception as exc:  # a middleware's or tool's own error: redacted all the same
            record["outcome"] = "failed"
            record["error"] = self.redact(str(exc) or type(exc).__name__)
            return record
        record["turn_id"] = turn.id
        record["stop_reason"] = turn.metadata.get(TurnMetaKeys.STOP_REASON.id, "")
        usage = turn.metadata.get(RunMetaKeys.RUN_USAGE.id)  # every model call of the run
        if not isinstance(usage, dict):
            usage = turn.metadata.get(TurnMetaKeys.USAGE.id)
        if isinstance(usage, dict):
            record["usage"] = usage
        return record


class ChatRuns:
    """The running replies of one web chat, keyed by session id."""

    def __init__(
        self,
        store: TurnStore,
        profiles: WebProfiles,
        *,
        system_prompt: str,
        claims: SessionClaims | None = None,
    ) -> None:
        self.store = store
        self.profiles = profiles
        self.system_prompt = system_prompt
        # Shared with the server's /v1 (create_app): a session answers one request at a time.
        self.claims = claims if claims is not None else SessionClaims()
        self._active: dict[str, ChatRun] = {}

    def is_running(self, session_id: str) -> bool:
        """Whether ``session_id`` is answering (here or through the server's ``/v1``)."""
        return self.claims.busy(session_id)

    def running(self) -> set[str]:
        return self.claims.held()

    async def start(self, session_id: str | None, profile: str, message: str) -> ChatRun:
        """Start a reply on the running loop (a new session when ``session_id`` is ``None``)."""
        if session_id is not None and self.claims.busy(session_id):
            raise SessionAlreadyActive(
                f"session {session_id} is still answering; stop that reply before sending another"
            )
        redact = redactor(self.profiles, profile)
        try:
            builder = await asyncio.to_thread(self.profiles.builder, profile)
        except GeppettoError as exc:
            message = redact(str(exc))
            if message == str(exc):
                raise
            raise _Redacted(exc.code, message) from None
        if not builder.profile:  # the session labels the stored run with it; reopening selects it
            builder.profile = profile
        latest: Turn | None = None
        if session_id is not None:
            turns = await asyncio.to_thread(self.store.load_turns, session_id, last=1)
            latest = turns[-1] if turns else None
        sid = session_id or new_id()
        if not self.claims.claim(sid):  # started meanwhile (the awaits above yield)
            raise SessionAlreadyActive(f"session {sid} is still answering; stop that reply first")
        try:
            session = Session(builder, session_id=sid, store=self.store)
            queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
            sink = CallbackSink(_forward(queue))
            handle = session.start(next_turn(latest, message, self.system_prompt, profile), sinks=[sink])
        except BaseException:
            self.claims.release(sid)
            raise
        run = ChatRun(sid, profile, handle, queue, redact)
        self._active[sid] = run
        handle.add_done_callback(lambda _: self._ended(run))
        return run

    def _ended(self, run: ChatRun) -> None:
        if self._active.get(run.session_id) is run:
            del self._active[run.session_id]
            self.claims.release(run.session_id)
        run.queue.put_nowait(None)

    async def cancel_all(self) -> None:
        """Stop every reply and wait until each is stored (server shutdown)."""
        runs = list(self._active.values())
        for run in runs:
            run.handle.cancel()
        for run in runs:
            with contextlib.suppress(GeppettoError):
                await run.handle


def _forward(queue: asyncio.Queue[dict[str, Any] | None]) -> Callable[[Event], None]:
    def publish(event: Event) -> None:
        record = event_record(event)
        if record is not None:
            queue.put_nowait(record)

    return publish


def check_profile(profiles: WebProfiles, name: str) -> str:
    """``name`` when the picker offers it; a :class:`ConfigError` naming the choices otherwise."""
    names = [choice.name for choice in profiles.choices()]
    if name not in names:
        shown = ", ".join(repr(n) for n in names) or "none"
        raise ConfigError(f"unknown profile {name!r}; the server offers {shown}")
    return name
