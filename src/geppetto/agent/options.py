"""Run defaults, persistence choices and what the host application offers agents.

Persistence follows the reference's precedence: a session's choice beats its agent's, which
beats the host's default persister. Each level is one :class:`PersistChoice`; ``INHERIT`` defers
to the level below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from geppetto.errors import ConfigError
from geppetto.session.persist import TurnPersister

if TYPE_CHECKING:
    from geppetto.store.records import StoredTurn
    from geppetto.tools.registry import ToolRegistry


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Per-run options: ``timeout_ms`` (``None``/0: none) and ``tags`` (seen by middlewares,
    tools and hooks as ``ctx.tags``)."""

    timeout_ms: float | None = None
    tags: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        timeout = self.timeout_ms
        if timeout is not None:
            number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
            if not number or not math.isfinite(timeout):
                raise TypeError("timeoutMs must be a number")
            if timeout < 0:
                raise ValueError("timeoutMs must be >= 0")

    def merged(self, extra: RunOptions | None) -> RunOptions:
        """``extra`` over these defaults: its timeout when non-zero, its tags added to ours."""
        if extra is None:
            return self
        timeout = extra.timeout_ms if extra.timeout_ms else self.timeout_ms
        tags: dict[str, Any] | None = dict(self.tags) if self.tags else None
        if extra.tags:
            tags = {**(tags or {}), **extra.tags}
        return RunOptions(timeout, tags)


class Persist(Enum):
    """How one level (agent or session) chose to persist runs."""

    INHERIT = "inherit"  # nothing chosen: ask the level below
    OFF = "off"  # explicitly no persistence
    EXPLICIT = "explicit"  # a store/persister given by the caller
    DEFAULT = "default"  # the host's default store/persister, chosen explicitly


@runtime_checkable
class ReadableStore(Protocol):
    """A persister that can also answer ``resume_latest`` (a :class:`~geppetto.store.TurnStore`)."""

    def persist_turn(self, session_id: str, turn: Any, *, outcome: Any, error: str | None) -> None: ...

    def latest(
        self,
        session_id: str | None = None,
        *,
        outcome: str | None = None,
        phase: str | None = None,
        since_ms: int | None = None,
    ) -> StoredTurn | None: ...


@dataclass(frozen=True, slots=True)
class PersistChoice:
    mode: Persist = Persist.INHERIT
    persister: TurnPersister | None = None
    store: ReadableStore | None = None  # where resume_latest reads, when the choice has one

    @classmethod
    def to(cls, store: TurnPersister | None, mode: Persist = Persist.EXPLICIT) -> PersistChoice:
        """Persist to ``store`` (``None``: switch persistence off)."""
        if store is None:
            return cls(Persist.OFF)
        if not isinstance(store, TurnPersister):
            raise TypeError("store must be a TurnStore or an object with persist_turn(...)")
        readable = store if isinstance(store, ReadableStore) else None
        return cls(mode, store, readable)


NO_DEFAULT_PERSISTENCE = "geppetto default turn persistence is not configured"


@dataclass(slots=True)
class AgentHost:
    """What the embedding application offers its agents.

    ``default_store`` is the store ``default_store()``/``persist()`` choose and ``resume_latest``
    reads when nothing else is chosen (a store, or a function opening it on first use);
    ``default_persister`` is where runs go when neither session nor agent chose (the reference's
    host default persister; ``None``: not persisted); ``tools`` is the registry ``host_tool(name)``
    picks from when the agent has none.
    """

    default_store: ReadableStore | Callable[[], ReadableStore] | None = None
    default_persister: TurnPersister | None = None
    tools: ToolRegistry | None = None
    _opened: ReadableStore | None = field(default=None, init=False, repr=False)

    def readable_store(self) -> ReadableStore | None:
        if self._opened is None and self.default_store is not None:
            store = self.default_store
            self._opened = store if isinstance(store, ReadableStore) else store()
        return self._opened

    def default_choice(self) -> PersistChoice:
        """``default_store()``/``persist()`` without a store of one's own (error when the host has none)."""
        store = self.readable_store()
        if store is not None:
            return PersistChoice(Persist.DEFAULT, store, store)
        if self.default_persister is not None:
            return PersistChoice(Persist.DEFAULT, self.default_persister, None)
        raise ConfigError(NO_DEFAULT_PERSISTENCE)


def runtime_metadata(agent_name: str, session_name: str) -> dict[str, Any]:
    """What runs stamp into ``Turn.metadata`` under the ``runtime`` key."""
    return {"agentName": agent_name, "sessionName": session_name}
