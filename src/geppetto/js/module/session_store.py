"""The session options that reach the turn store: ``store``, ``sessionId``, ``resumeLatest``, ``fork``.

Parsing happens when a script sets the options (``createSession``/``createBuilder``/builder
methods); :func:`open_session_store` runs when a session is built: it picks the store, loads the
history to continue and says under which id the session persists its runs.

* ``store``: ``true``/``"default"`` the host's default store, another string a named store,
  ``false``/``null`` none, or a ``turnStores`` wrapper. Unset, ``resumeLatest``/``fork`` read
  from (and the session persists to) the default store.
* ``resumeLatest``: ``true`` or ``{sessionId?, phase?, sinceMs?, limit?, required?}``: continue
  ``sessionId`` (else the option ``sessionId``, else the most recently stored session).
* ``fork``: ``{sessionId, at?}``: fork the stored session at a turn index or turn id (default:
  the latest) into a new session (id: the option ``sessionId``, else a new one) and continue it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geppetto.js.module.errors import ModuleUsageError
from geppetto.js.module.stores_api import DEFAULT_STORE, JSTurnStore, StoreQuery, StoreSlot, parse_query
from geppetto.turns.model import new_id

if TYPE_CHECKING:
    from geppetto.js.module.stores_api import StoreRegistry
    from geppetto.store.store import TurnStore
    from geppetto.turns.model import Turn

NO_STORE = "no turn store configured"
STORE_TYPE_ERROR = "store must be true, false, null, a store name or a turnStores wrapper"


@dataclass(slots=True)
class ResumeOptions:
    query: StoreQuery
    required: bool = False


@dataclass(slots=True)
class ForkOptions:
    session_id: str
    at: int | str | None = None


@dataclass(slots=True)
class SessionOptions:
    """The session-only options a builder collects (see the module docstring)."""

    session_id: str | None = None
    store: str | StoreSlot | None = None  # a store name or a wrapper's slot; None: not chosen
    store_off: bool = False
    resume: ResumeOptions | None = None
    fork: ForkOptions | None = None

    def set_store(self, value: Any, where: str) -> None:
        if value is None or value is False:
            self.store, self.store_off = None, True
            return
        if value is True:
            self.store = DEFAULT_STORE
        elif isinstance(value, str) and value.strip():
            self.store = value.strip()
        elif isinstance(value, JSTurnStore):
            self.store = value.slot
        else:
            raise TypeError(f"{where}: {STORE_TYPE_ERROR}")
        self.store_off = False


def apply_session_options(options: SessionOptions, opts: Mapping[str, Any], where: str) -> None:
    """Read ``sessionId``, ``store``, ``resumeLatest`` and ``fork`` from an options object."""
    session_id = opts.get("sessionId")
    if session_id is not None:
        if not isinstance(session_id, str) or not session_id.strip():
            raise TypeError(f"{where}: sessionId must be a non-empty string")
        options.session_id = session_id.strip()
    if "store" in opts:  # null (kept by JSON) switches the store off; undefined never arrives
        options.set_store(opts["store"], where)
    if opts.get("resumeLatest") is not None:
        options.resume = parse_resume(opts["resumeLatest"], where)
    if opts.get("fork") is not None:
        options.fork = parse_fork(opts["fork"], where)


def parse_resume(value: Any, where: str) -> ResumeOptions | None:
    if value is False:
        return None
    if value is True:
        return ResumeOptions(StoreQuery())
    if not isinstance(value, Mapping):
        raise TypeError(f"{where}: resumeLatest must be a boolean or an object")
    required = value.get("required", False)
    if not isinstance(required, bool):
        raise TypeError(f"{where}: resumeLatest.required must be a boolean")
    query = parse_query(value, f"{where}: resumeLatest", extra=frozenset({"required"}))
    if query.outcome is not None:
        raise TypeError(f"{where}: resumeLatest does not filter by outcome")
    return ResumeOptions(query, required)


def parse_fork(value: Any, where: str) -> ForkOptions:
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("sessionId"), str)
        or not value["sessionId"]
    ):
        raise TypeError(f"{where}: fork must be an object with a sessionId string")
    at = value.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int | str) or at == ""):
        raise TypeError(f"{where}: fork.at must be a turn index or a turn id")
    return ForkOptions(value["sessionId"], at)


@dataclass(slots=True)
class StoredSession:
    """What a new session starts from: its id, its history and where it persists its runs."""

    session_id: str | None
    turns: list[Turn]
    store: TurnStore | None


def open_session_store(options: SessionOptions, stores: StoreRegistry) -> StoredSession:
    """Pick the session's store and load the history ``resumeLatest`` / ``fork`` ask for."""
    if options.resume is not None and options.fork is not None:
        raise ModuleUsageError("resumeLatest and fork cannot be combined: choose one")
    slot = _slot(options, stores)
    if slot is None:
        if options.resume is not None:
            raise ModuleUsageError("resumeLatest requires a readable TurnStore")
        if options.fork is not None:
            raise ModuleUsageError("fork requires a readable TurnStore")
        return StoredSession(options.session_id, [], None)
    store = slot.get()
    if options.fork is not None:
        source = store.resolve_session(options.fork.session_id)
        forked = store.fork(source, at=options.fork.at, new_session_id=options.session_id)
        return StoredSession(forked, store.load_turns(forked), store)
    if options.resume is not None:
        return _resume(store, options.session_id, options.resume)
    return StoredSession(options.session_id, [], store)


def _slot(options: SessionOptions, stores: StoreRegistry) -> StoreSlot | None:
    if options.store_off:
        return None
    if isinstance(options.store, StoreSlot):
        return options.store
    if options.store is not None:
        slot = stores.slot(options.store)
        if slot is None:
            raise ModuleUsageError(
                NO_STORE
                if options.store == DEFAULT_STORE
                else f'geppetto turn store "{options.store}" is not configured'
            )
        return slot
    if options.resume is not None or options.fork is not None:
        return stores.default
    return None


def _resume(store: TurnStore, session_id: str | None, resume: ResumeOptions) -> StoredSession:
    from geppetto.store.errors import SessionNotFound

    query = resume.query
    if query.session_id and session_id and query.session_id != session_id:
        raise ModuleUsageError(
            f'resumeLatest.sessionId "{query.session_id}" differs from sessionId "{session_id}"; '
            "use fork to continue a stored session under a new id"
        )
    wanted = query.session_id or session_id
    try:
        record = store.latest(wanted, phase=query.phase, since_ms=query.since_ms)
    except SessionNotFound:
        record = None
    if record is None:
        fresh = wanted or new_id()
        if resume.required:
            raise ModuleUsageError(f'no stored turn found for session "{fresh}"')
        return StoredSession(fresh, [], store)
    return StoredSession(record.session_id, store.load_turns(record.session_id, last=query.limit), store)


__all__ = [
    "ForkOptions",
    "ResumeOptions",
    "SessionOptions",
    "StoredSession",
    "apply_session_options",
    "open_session_store",
]
