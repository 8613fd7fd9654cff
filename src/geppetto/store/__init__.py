"""The turn store: every run's final turn in SQLite, with resume, fork, query and export.

>>> store = TurnStore("turns.db")
>>> session = Session(EngineBuilder(engine), store=store)              # persist every run
>>> resumed = Session.resume(store, builder)                             # the latest session (or session_id=)
>>> forked_id = store.fork(sid, at=2)                                  # shares blocks with sid
"""

from geppetto.store.errors import (
    SessionNotFound,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    TurnNotFound,
)
from geppetto.store.export import export_session, session_document
from geppetto.store.paths import STORE_ENV, default_store_path
from geppetto.store.records import SessionInfo, StoredTurn
from geppetto.store.schema import MIGRATIONS
from geppetto.store.store import (
    FORKED_AT_MS,
    FORKED_FROM_SESSION_ID,
    FORKED_FROM_TURN_ID,
    OUTCOMES,
    TurnRef,
    TurnStore,
)

__all__ = [
    "FORKED_AT_MS",
    "FORKED_FROM_SESSION_ID",
    "FORKED_FROM_TURN_ID",
    "MIGRATIONS",
    "OUTCOMES",
    "STORE_ENV",
    "SessionInfo",
    "SessionNotFound",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "StoredTurn",
    "TurnNotFound",
    "TurnRef",
    "TurnStore",
    "default_store_path",
    "export_session",
    "session_document",
]
