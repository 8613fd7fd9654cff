"""``turnStores``: the host's turn stores as scripts see them (spec §9 "Turn stores").

JS never opens a database: the host hands stores in (a :class:`~geppetto.store.TurnStore`, or a
function that opens one), and a :class:`StoreSlot` opens it the first time a script needs it, so
a script that never touches a store never creates a database file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geppetto.js.module.errors import ModuleUsageError

if TYPE_CHECKING:
    from geppetto.store.records import SessionInfo, StoredTurn
    from geppetto.store.store import TurnStore

DEFAULT_STORE = "default"
NO_DEFAULT_STORE = "geppetto turnStores.default is not configured"


class StoreSlot:
    """One host store, opened on first use; closed by :meth:`close` only if the slot opened it."""

    __slots__ = ("_opener", "_store", "name", "owned")

    def __init__(self, name: str, provider: TurnStore | Callable[[], TurnStore]) -> None:
        self.name = name
        self.owned = callable(provider)  # a store handed in as an object belongs to the host
        self._opener: Callable[[], TurnStore] | None = provider if callable(provider) else None
        self._store: TurnStore | None = None if callable(provider) else provider

    @property
    def opened(self) -> bool:
        return self._store is not None

    def get(self) -> TurnStore:
        if self._store is None:
            assert self._opener is not None
            self._store = self._opener()
        return self._store

    def close(self) -> None:
        if self.owned and self._store is not None:
            self._store.close()
            self._store = None


class StoreRegistry:
    """The default store and the named ones, with one stable JS wrapper per store."""

    def __init__(
        self,
        default: TurnStore | Callable[[], TurnStore] | None,
        named: Mapping[str, TurnStore | Callable[[], TurnStore]] | None,
    ) -> None:
        self.default = None if default is None else StoreSlot(DEFAULT_STORE, default)
        self.named = {name: StoreSlot(name, provider) for name, provider in (named or {}).items()}
        self._wrappers: dict[str, JSTurnStore] = {}

    def slot(self, name: str) -> StoreSlot | None:
        """The store called ``name`` (``"default"``: the default one, unless a named store has that name)."""
        if name in self.named:
            return self.named[name]
        return self.default if name == DEFAULT_STORE else None

    def wrapper(self, name: str | None) -> JSTurnStore:
        """``turnStores.default()`` (``name`` None) and ``turnStores.get(name)``."""
        slot = self.default if name is None else self.slot(name)
        if slot is None:
            missing = NO_DEFAULT_STORE if name is None else f'geppetto turn store "{name}" is not configured'
            raise ModuleUsageError(missing)
        key = DEFAULT_STORE if name is None else name
        if key not in self._wrappers:
            self._wrappers[key] = JSTurnStore(slot)
        return self._wrappers[key]

    def close(self) -> None:
        """Close the stores this registry opened (never one the host handed in open)."""
        for slot in (self.default, *self.named.values()):
            if slot is not None:
                slot.close()


@dataclass(slots=True)
class StoreQuery:
    """``{sessionId, phase, outcome, sinceMs, limit}`` of ``list`` / ``loadLatest`` / ``resumeLatest``."""

    session_id: str | None = None
    phase: str | None = None
    outcome: str | None = None
    since_ms: int | None = None
    limit: int | None = None


_SESSION_KEYS = ("sessionId", "sessionID", "convId", "conversationId")
QUERY_KEYS = frozenset({*_SESSION_KEYS, "phase", "outcome", "sinceMs", "limit"})


def parse_query(query: Any, where: str, *, extra: frozenset[str] = frozenset()) -> StoreQuery:
    """A query object (``None`` is the empty query); unknown keys are errors, to catch typos."""
    if query is None:
        return StoreQuery()
    if not isinstance(query, Mapping):
        raise TypeError(f"{where}: query must be an object")
    unknown = sorted(set(query) - QUERY_KEYS - extra)
    if unknown:
        raise TypeError(f"{where}: unknown query key {unknown[0]!r}")
    out = StoreQuery()
    for key in _SESSION_KEYS:
        value = query.get(key)
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise TypeError(f"{where}: {key} must be a non-empty string")
            out.session_id = value.strip()
    out.phase = _text(query, "phase", where)
    out.outcome = _text(query, "outcome", where)
    if out.outcome is not None:
        from geppetto.store.store import OUTCOMES

        if out.outcome not in OUTCOMES:
            raise TypeError(f"{where}: outcome must be one of {', '.join(OUTCOMES)}")
    out.since_ms = _integer(query, "sinceMs", where, minimum=0)
    out.limit = _integer(query, "limit", where, minimum=1)
    return out


def _text(query: Mapping[str, Any], key: str, where: str) -> str | None:
    value = query.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise TypeError(f"{where}: {key} must be a non-empty string")
    return value


def _integer(query: Mapping[str, Any], key: str, where: str, *, minimum: int) -> int | None:
    value = query.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum:
        raise TypeError(f"{where}: {key} must be a number >= {minimum}")
    return int(value)


def snapshot(record: StoredTurn) -> dict[str, Any]:
    """A stored turn for JS: its facts in camelCase and the turn as a plain object (``module.js``
    makes it the reference's TurnStoreSnapshot: ``turn`` a TurnWrapper, plus ``toJSON()``).

    ``convId`` is the session id (this store keeps one conversation per session, like the
    reference's sqlite store); ``runtimeKey`` the turn's runtime metadata when it is a string.
    """
    from geppetto.turns.codec import encode_turn

    return {
        "convId": record.session_id,
        "sessionId": record.session_id,
        "turnId": record.turn_id,
        "inferenceId": record.inference_id,
        "index": record.index,
        "phase": record.phase,
        "outcome": record.outcome,
        "error": record.error,
        "model": record.model,
        "createdAtMs": record.created_at_ms,
        "runtimeKey": _runtime_key(record),
        "turn": None if record.turn is None else encode_turn(record.turn),
    }


def _runtime_key(record: StoredTurn) -> str:
    from geppetto.turns.keys import TurnMetaKeys

    if record.turn is None:
        return ""
    value = TurnMetaKeys.RUNTIME.get(record.turn.metadata)
    if isinstance(value, Mapping):
        value = value.get("runtime_key")
    return value.strip() if isinstance(value, str) else ""


def session_summary(info: SessionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "turnCount": info.turn_count,
        "createdAtMs": info.created_at_ms,
        "updatedAtMs": info.updated_at_ms,
        "lastModel": info.last_model,
        "lastOutcome": info.last_outcome,
        "forkedFromSession": info.forked_from_session,
        "forkedFromTurnId": info.forked_from_turn_id,
    }


class JSTurnStore:
    """The JS ``TurnStore`` wrapper: read-only queries on one host store."""

    __js_class__ = "TurnStore"
    __slots__ = ("__weakref__", "slot")

    def __init__(self, slot: StoreSlot) -> None:
        self.slot = slot

    def name(self) -> str:
        return self.slot.name

    def list_turns(self, query: Any = None) -> list[dict[str, Any]]:  # list
        """Stored turns, oldest first (``limit`` keeps the newest); an unknown session lists nothing."""
        from geppetto.store.errors import SessionNotFound

        q = parse_query(query, "TurnStore.list")
        try:
            records = self.slot.get().list_turns(
                q.session_id, phase=q.phase, outcome=q.outcome, since_ms=q.since_ms, limit=q.limit,
                with_turns=True,
            )  # fmt: skip
        except SessionNotFound:
            return []
        return [snapshot(record) for record in records]

    def load_latest(self, query: Any = None) -> dict[str, Any] | None:
        from geppetto.store.errors import SessionNotFound

        q = parse_query(query, "TurnStore.loadLatest")
        try:
            record = self.slot.get().latest(
                q.session_id, phase=q.phase, outcome=q.outcome, since_ms=q.since_ms
            )
        except SessionNotFound:
            return None
        return None if record is None else snapshot(record)

    def close(self) -> None:
        """Release the store if this module opened it (the next query opens it again); a store
        the host handed in open stays open, since the host owns it."""
        self.slot.close()

    def sessions(self, query: Any = None) -> list[dict[str, Any]]:
        """Stored sessions, most recently written first (``{sinceMs, limit}``)."""
        q = parse_query(query, "TurnStore.sessions")
        if q.session_id or q.phase or q.outcome:
            raise TypeError("TurnStore.sessions: only sinceMs and limit apply to sessions")
        infos = self.slot.get().list_sessions(since_ms=q.since_ms, limit=q.limit)
        return [session_summary(info) for info in infos]


__all__ = [
    "DEFAULT_STORE",
    "JSTurnStore",
    "StoreQuery",
    "StoreRegistry",
    "StoreSlot",
    "parse_query",
    "session_summary",
    "snapshot",
]
