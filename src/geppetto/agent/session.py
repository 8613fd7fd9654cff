"""``SessionBuilder`` and ``AgentSession``: one conversation with an agent.

An ``AgentSession`` is a :class:`~geppetto.session.Session` (history, one active run, cancel,
persistence) plus what the agent API adds: a name, metadata stamped on every new turn, run
defaults, runtime metadata (``{agentName, sessionName}`` under ``Turn.metadata["runtime"]``),
immutable turn builders (:meth:`AgentSession.next`), forks and resume from a store.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geppetto.agent.agent import Agent
from geppetto.agent.options import Persist, PersistChoice, ReadableStore, RunOptions, runtime_metadata
from geppetto.agent.run import AgentRun, RunResult
from geppetto.agent.turn_builder import TurnBuilder
from geppetto.background import background_loop
from geppetto.errors import (
    ConfigError,
    InferenceCancelled,
    SessionAlreadyActive,
    SessionEmptyTurn,
    SessionError,
)
from geppetto.middleware.run_tags import RunTags
from geppetto.session.session import Session
from geppetto.turns.jsonvalue import copy_json
from geppetto.turns.keys import KeyScope, TurnMetaKeys, canonical_id, resolve_key
from geppetto.turns.model import Turn, new_id

if TYPE_CHECKING:
    from geppetto.events.sinks import EventSink
    from geppetto.session.persist import TurnPersister

_SESSION_ID = TurnMetaKeys.SESSION_ID.id
_RUNTIME = TurnMetaKeys.RUNTIME.id
FINAL_PHASE = "final"


@dataclass(slots=True)
class _Resume:
    session_id: str | None
    phase: str | None
    since_ms: int | None
    required: bool


class SessionBuilder:
    """Fluent configuration of an :class:`AgentSession` (each method returns the builder)."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self._id = ""
        self._name = ""
        self._base: Turn | None = None
        self._base_source = ""
        self._persist = agent.persistence
        self._resume: _Resume | None = None
        self._metadata: dict[str, Any] = {}
        self._run_defaults = agent.run_defaults

    def id(self, session_id: str) -> SessionBuilder:
        self._id = session_id.strip()
        return self

    def name(self, name: str) -> SessionBuilder:
        self._name = name.strip()
        return self

    def base(self, turn: Turn) -> SessionBuilder:
        """Start from a copy of ``turn`` (stamped with where it came from)."""
        self._base, self._base_source = turn.clone(deep=True), "base"
        return self

    def store(self, store: TurnPersister) -> SessionBuilder:
        """Persist runs to ``store`` (and resume from it, when it can be read)."""
        if store is None:
            raise TypeError("SessionBuilder.store() requires a store; persist(False) turns persistence off")
        self._persist = PersistChoice.to(store)
        return self

    def default_store(self) -> SessionBuilder:
        self._persist = self._agent.host.default_choice()
        return self

    def persist(self, enabled: bool = True) -> SessionBuilder:
        """``False``: don't persist; ``True``: keep the store chosen so far, else the host default."""
        if not enabled:
            self._persist = PersistChoice(Persist.OFF)
        elif self._persist.persister is None or self._persist.mode is Persist.OFF:
            self._persist = self._agent.host.default_choice()
        return self

    def resume_latest(
        self,
        session_id: str | None = None,
        *,
        phase: str | None = None,
        since_ms: int | None = None,
        required: bool = False,
    ) -> SessionBuilder:
        """Continue from the latest stored turn of ``session_id`` (default: this session's id,
        phase ``final``); ``required`` makes a missing turn an error."""
        self._resume = _Resume(session_id, phase, since_ms, required)
        return self

    def resume_none(self) -> SessionBuilder:
        self._resume = None
        return self

    def metadata(self, key: str, value: Any) -> SessionBuilder:
        """Turn metadata set on every turn :meth:`AgentSession.next` starts."""
        if not key.strip():
            raise ValueError("session metadata key must not be empty")
        self._metadata[key.strip()] = copy_json(value)
        return self

    def run_defaults(self, options: RunOptions | None = None, **kwargs: Any) -> SessionBuilder:
        """Run defaults over the agent's (``RunOptions`` or ``timeout_ms=``/``tags=``)."""
        extra = options if options is not None else RunOptions(**kwargs)
        self._run_defaults = self._run_defaults.merged(extra)
        return self

    def _fork_of(self, session: AgentSession, base: Turn) -> SessionBuilder:
        self._name = session.name
        self._persist = session.persistence
        self._metadata = copy_json(session.metadata)
        self._run_defaults = session.run_defaults
        self._base, self._base_source = base, "fork"
        return self

    def build(self) -> AgentSession:
        if self._base is not None and self._resume is not None:
            raise ConfigError("session builder cannot use both base(turn) and resumeLatest()")
        agent = self._agent
        choice = self._persist
        if choice.mode is Persist.INHERIT:
            persister = agent.selected_persister()
            store = agent.persistence.store
        elif choice.mode is Persist.OFF:
            persister, store = None, None
        else:
            persister, store = choice.persister, choice.store
        session = AgentSession(
            agent,
            session_id=self._id or new_id(),
            name=self._name,
            persistence=choice,
            persister=persister,
            store=store,
            metadata=self._metadata,
            run_defaults=self._run_defaults,
        )
        if self._resume is not None:
            resumed = session._load_latest(self._resume)
            if resumed is not None:
                session._import(resumed, "resume")
        if self._base is not None:
            session._import(self._base, self._base_source)
        return session


class AgentSession:
    """A conversation with an agent: ``next()`` builds and runs turns; history is kept here."""

    def __init__(
        self,
        agent: Agent,
        *,
        session_id: str,
        name: str = "",
        persistence: PersistChoice | None = None,
        persister: TurnPersister | None = None,
        store: ReadableStore | None = None,
        metadata: dict[str, Any] | None = None,
        run_defaults: RunOptions | None = None,
    ) -> None:
        self.agent = agent
        self.name = name
        self.persistence = persistence or PersistChoice()
        self.store = store
        self.metadata = dict(metadata or {})
        self.run_defaults = run_defaults or RunOptions()
        self._tags = RunTags()
        self._runtime = runtime_metadata(agent.name, name)
        self._closed = False
        builder = agent.engine_builder(self._tags.middleware)
        self.session = Session(builder, session_id=session_id, store=persister)

    def __repr__(self) -> str:
        return f"<AgentSession {self.id} turns={self.turn_count}>"

    @property
    def id(self) -> str:
        return self.session.id

    # -- history -------------------------------------------------------------------------------

    @property
    def latest_turn(self) -> Turn | None:
        return self.session.latest()

    def turns(self) -> list[Turn]:
        return self.session.turns()

    def turn(self, index: int) -> Turn | None:
        """A copy of turn ``index`` (0-based), ``None`` when out of range."""
        return self.session.get_turn(index)

    @property
    def turn_count(self) -> int:
        return self.session.turn_count

    @property
    def is_running(self) -> bool:
        return self.session.is_running

    @property
    def closed(self) -> bool:
        return self._closed

    def next(self) -> TurnBuilder:
        """A builder for the next turn: the latest turn (the conversation so far) with a new id,
        this session's id and metadata."""
        if self._closed:
            raise SessionError("session is closed")
        if self.session.is_running:
            raise SessionAlreadyActive()
        seed = self.session.latest() or Turn()
        seed.id = ""
        seed.metadata[_SESSION_ID] = self.id
        for key, value in self.metadata.items():
            seed.metadata[resolve_key(KeyScope.TURN_METADATA, key)] = copy_json(value)
        return TurnBuilder(self, seed)

    def fork(self, at: int | Turn | None = None) -> SessionBuilder:
        """A builder for a new session that continues from one of this session's turns (default:
        the latest; an index or a turn)."""
        if at is None:
            base = self.session.latest()
            if base is None:
                raise SessionError("cannot fork an empty session")
        elif isinstance(at, Turn):
            base = at.clone(deep=True)
        elif isinstance(at, int) and not isinstance(at, bool):
            base = self.session.get_turn(at)
            if base is None:
                raise SessionError(f"session.fork at index {at} is out of range")
        else:
            raise TypeError("session.fork at must be a turn index or TurnWrapper")
        return SessionBuilder(self.agent)._fork_of(self, base)

    def cancel(self) -> None:
        """Cancel the active run, if any."""
        with contextlib.suppress(SessionError):
            self.session.cancel_active()

    def close(self) -> None:
        """Cancel the active run and refuse new ones."""
        self._closed = True
        self.cancel()

    # -- running -------------------------------------------------------------------------------

    def start(
        self,
        seed: Turn,
        options: RunOptions | None = None,
        *,
        sinks: Iterable[EventSink] = (),
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> AgentRun:
        """Run ``seed`` (normally built by :meth:`next`) and return the run's handle.

        The run uses ``loop``, else the caller's running loop, else the runtime's background loop.
        ``sinks`` receive this run's events in addition to the agent's.
        """
        if self._closed:
            raise SessionError("session is closed")
        if not seed.blocks:
            raise SessionEmptyTurn()
        if self.session.is_running:
            raise SessionAlreadyActive()
        opts = self.run_defaults.merged(options)
        input_turn = seed.clone(deep=True)
        runtime = seed.metadata.get(_RUNTIME)
        stamped = {**runtime, **self._runtime} if isinstance(runtime, dict) else dict(self._runtime)
        seed.metadata[_RUNTIME] = stamped
        effective = seed.clone(deep=True)
        self._tags.tags = dict(opts.tags) if opts.tags else {}
        handle = self.session.start(seed, sinks=sinks, loop=loop)
        return AgentRun(handle, input_turn, effective, opts.timeout_ms)

    def run(
        self,
        seed: Turn,
        options: RunOptions | None = None,
        *,
        sinks: Iterable[EventSink] = (),
        timeout: float | None = None,
    ) -> RunResult:
        """Run ``seed`` to completion from synchronous code (also safe inside a running loop)."""
        run = self.start(seed, options, sinks=sinks, loop=background_loop())
        try:
            return run.wait(timeout)
        except KeyboardInterrupt:
            run.cancel()
            with contextlib.suppress(InferenceCancelled):
                run.handle.wait()
            raise

    async def arun(
        self, seed: Turn, options: RunOptions | None = None, *, sinks: Iterable[EventSink] = ()
    ) -> RunResult:
        run = self.start(seed, options, sinks=sinks, loop=asyncio.get_running_loop())
        try:
            return await run
        except asyncio.CancelledError:
            run.cancel()
            raise

    # -- building blocks -------------------------------------------------------------------------

    def _load_latest(self, resume: _Resume) -> Turn | None:
        store = self.store if self.store is not None else self.agent.host.readable_store()
        if store is None:
            raise ConfigError("resumeLatest requires a readable TurnStore")
        from geppetto.store.errors import SessionNotFound

        try:
            record = store.latest(
                resume.session_id or self.id, phase=resume.phase or FINAL_PHASE, since_ms=resume.since_ms
            )
        except SessionNotFound:
            record = None
        if record is None or record.turn is None:
            if resume.required:
                raise SessionError(f'no stored turn found for session "{self.id}"')
            return None
        return record.turn

    def _import(self, base: Turn, source: str) -> None:
        """Append a copy of ``base`` to history under this session's id; a base or fork also
        records where it came from (``forkedFrom*`` metadata)."""
        turn = base.clone(deep=True)
        origin_session = turn.metadata.get(_SESSION_ID)
        origin_turn = turn.id
        turn.metadata[_SESSION_ID] = self.id
        if source and source != "resume":
            meta = turn.metadata
            meta[canonical_id("forkedFromSource")] = source
            if isinstance(origin_session, str) and origin_session:
                meta[canonical_id("forkedFromSessionID")] = origin_session
            if origin_turn:
                meta[canonical_id("forkedFromTurnID")] = origin_turn
            meta[canonical_id("forkedAtMs")] = int(time.time() * 1000)
        self.session.append(turn, copy=False)
