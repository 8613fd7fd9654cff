"""The embedding cache on disk: one SQLite file, keyed by provider, model, dimensions and text.

WAL journal and one transaction per batch of writes, so a crash or ``kill -9`` in the middle of a
write leaves the file readable with either all or none of that batch. Vectors are stored as
float64 bytes (exactly what the provider sent). Entries are keyed by a SHA-256 of provider, model,
dimensions and text, so the file does not hold the texts themselves. ``max_entries`` and
``max_size`` (bytes of vectors) bound the file: the least recently written or read entries go first.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from array import array
from collections.abc import Sequence
from pathlib import Path

from geppetto.embeddings.types import EmbeddingConfigError, EmbeddingModel

DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_SIZE = 1 << 30
FILE_NAME = "embeddings.sqlite"
_CHUNK = 500
USE_RESOLUTION = 600.0  # seconds: a read re-marks an entry as used only when its mark is older

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    key BLOB NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    vector BLOB NOT NULL,
    used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used);
"""


def default_directory() -> Path:
    """``$XDG_CACHE_HOME/geppetto/embeddings``, else ``~/.cache/geppetto/embeddings``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "geppetto" / "embeddings"


def entry_key(model: EmbeddingModel, text: str) -> bytes:
    """SHA-256 over provider, model, dimensions and text (NUL-separated): one indexed column, and
    the file never holds the texts."""
    head = f"{model.provider}\0{model.name}\0{model.dimensions}\0".encode()
    return hashlib.sha256(head + text.encode("utf-8", "surrogatepass")).digest()


class DiskCache:
    """A SQLite vector cache usable from several threads (one connection, serialised)."""

    blocking = True  # CachedEmbedder calls it from a worker thread, off the event loop

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        folder = Path(directory).expanduser() if directory else default_directory()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddingConfigError(
                f"cannot create the embeddings cache directory {folder} ({exc.strerror}); "
                "set embeddings.cache_directory to a writable folder"
            ) from None
        self.path = folder / FILE_NAME
        self.max_entries = max_entries if max_entries > 0 else DEFAULT_MAX_ENTRIES
        self.max_size = max_size if max_size > 0 else DEFAULT_MAX_SIZE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._writes = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()
        return int(row[0])

    def get_many(self, model: EmbeddingModel, texts: Sequence[str]) -> dict[str, list[float]]:
        keys = {entry_key(model, text): text for text in texts}
        found: dict[str, list[float]] = {}
        names = list(keys)
        with self._lock:
            for start in range(0, len(names), _CHUNK):
                chunk = names[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, vector, used FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
                stale = time.time() - USE_RESOLUTION
                for key, blob, _ in rows:
                    values = array("d")
                    values.frombytes(blob)
                    found[keys[key]] = values.tolist()
                old = [key for key, _, used in rows if used < stale]
                if old:
                    self._mark_used(old)
        return found

    def _mark_used(self, keys: list[bytes]) -> None:
        """Hits count as use (eviction goes by last use, to :data:`USE_RESOLUTION`): a read then
        writes only for entries not used lately, so a warm cache is read-only."""
        marks = ",".join("?" * len(keys))
        self._db.execute(f"UPDATE vectors SET used=? WHERE key IN ({marks})", (time.time(), *keys))

    def put_many(self, model: EmbeddingModel, items: dict[str, list[float]]) -> None:
        if not items:
            return
        now = time.time()
        rows = [
            (
                entry_key(model, text),
                model.provider,
                model.name,
                model.dimensions,
                array("d", vector).tobytes(),
                now,
            )
            for text, vector in items.items()
        ]
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._writes += len(rows)
                if self._writes >= 1000 or len(rows) >= 1000:
                    self._writes = 0
                    self._evict()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def evict(self) -> None:
        """Apply ``max_entries`` and ``max_size`` now (done every ~1000 writes anyway)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._evict()
            self._db.execute("COMMIT")

    def _evict(self) -> None:
        count, size = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(vector)), 0) FROM vectors"
        ).fetchone()
        excess = max(0, int(count) - self.max_entries)
        if size > self.max_size and count:
            average = size / count
            excess = max(excess, int((size - self.max_size) / average) + 1)
        if excess:
            self._db.execute(
                "DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY used LIMIT ?)",
                (excess,),
            )
