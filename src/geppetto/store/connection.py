"""The SQLite connection under a turn store: pragmas, migrations, transactions, error mapping.

One connection per store object, shared by threads under a lock (sessions persist from the
runtime's loop thread, the CLI reads from the main thread). Writes use ``BEGIN IMMEDIATE`` so
that two processes queue on the busy timeout instead of failing a lock upgrade half-way; WAL
lets readers go on while one process writes. Every write is one transaction, so a killed
process loses at most the write in flight.

Opening retries the whole open sequence until the busy timeout runs out: some lock conflicts
(switching a new file to WAL upgrades a read lock, and SQLite answers a lock upgrade with
SQLITE_BUSY at once, without calling the busy handler) would otherwise fail a run at once while
claiming to have waited. Nothing here waits on a dead process: SQLite's locks are POSIX locks,
released by the kernel when their holder dies, and WAL recovery runs in whoever opens next.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from geppetto.store import schema
from geppetto.store.codec import now_ms
from geppetto.store.errors import StoreCorruptError, StoreError, StoreLockedError, StoreVersionError
from geppetto.store.paths import DEFAULT_BUSY_TIMEOUT

_HINT = "use --store PATH for another file or --no-store to run without one"

# Primary SQLite result codes (the low byte of an extended code).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CORRUPT, _SQLITE_NOTADB = 5, 6, 11, 26
_RETRY_PAUSES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)  # between open attempts, the last one repeated


def translate(exc: sqlite3.Error, path: Path, action: str, busy_timeout: float) -> StoreError:
    """Map a sqlite3 error onto the store's typed errors, naming the file and the way out."""
    message = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    lowered = message.lower()
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in lowered:
        return StoreLockedError(
            f"turn store {path} is locked by another process (waited {busy_timeout:g}s while {action}); "
            f"retry when the other geppetto process is done, or {_HINT}"
        )
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "not a database" in lowered or "malformed" in lowered:
        return StoreCorruptError(
            f"turn store {path} is corrupt or not a SQLite database ({message}); "
            f"move the file away to start a new store, or {_HINT}"
        )
    return StoreError(f"turn store {path}: {action} failed: {message}")


class StoreConnection:
    """An open, migrated database with guarded read and write transactions."""

    def __init__(self, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        if path.is_dir():
            raise StoreError(f"turn store {path} is a directory; {_HINT}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for turn store {path}: {exc.strerror}") from None
        try:
            self._conn = sqlite3.connect(
                str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open turn store {path} ({exc}); check the path and its permissions"
            ) from None
        try:
            self._open_with_retries()
        except BaseException:
            self._conn.close()
            raise

    def _open_with_retries(self) -> None:
        """Pragmas and migrations, retried on a busy database until ``busy_timeout`` is spent."""
        deadline = time.monotonic() + self.busy_timeout
        for attempt in itertools.count():
            remaining = deadline - time.monotonic()
            # Each attempt's busy handler waits only for what is left of the total.
            self._conn.execute(f"PRAGMA busy_timeout = {max(1, int(remaining * 1000))}")
            try:
                with self._guard("opening the store"):
                    self._open_once()
                break
            except StoreLockedError:
                self._rollback()
                pause = _RETRY_PAUSES[min(attempt, len(_RETRY_PAUSES) - 1)]
                if time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)
        self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def _open_once(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA foreign_keys = ON")
        # Read the header first: a file already in WAL mode then needs no lock to stay in it.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()
        if not mode or str(mode[0]).lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    # -- transactions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate(exc, self.path, action, self.busy_timeout) from None

    @contextlib.contextmanager
    def write(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its first statement."""
        with self._lock, self._guard(action):
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                self._rollback()
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    @contextlib.contextmanager
    def read(self, action: str) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs."""
        with self._lock, self._guard(action):
            conn = self._conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                self._rollback()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self.read("reading the schema") as conn:
            applied = self._check_schema(conn)
        if not schema.pending_migrations(applied):
            return
        with self.write("migrating the schema") as conn:
            applied = self._check_schema(conn)  # another process may have migrated meanwhile
            schema.apply_pending(conn, applied, now_ms())

    def _check_schema(self, conn: sqlite3.Connection) -> set[str]:
        applied = schema.applied_migrations(conn)
        if applied is None:
            tables = schema.foreign_tables(conn)
            if tables:
                raise StoreCorruptError(
                    f"{self.path} is a SQLite database but not a geppetto turn store "
                    f"(it has tables {', '.join(tables)}); {_HINT}"
                )
            return set()
        unknown = schema.unknown_migrations(applied)
        if unknown:
            raise StoreVersionError(
                f"turn store {self.path} was written by a newer geppetto (unknown migrations: "
                f"{', '.join(unknown)}); upgrade geppetto to use it, or {_HINT}"
            )
        return applied

    def integrity_problems(self) -> list[str]:
        """``PRAGMA integrity_check`` and ``foreign_key_check`` findings; empty when healthy."""
        with self.read("checking integrity") as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
            problems += [
                f"foreign key violation in {row[0]} row {row[1]} -> {row[2]}"
                for row in conn.execute("PRAGMA foreign_key_check")
            ]
        return problems
