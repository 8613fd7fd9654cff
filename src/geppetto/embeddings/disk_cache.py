"""The embedding cache on disk: one SQLite file, keyed by provider, model, dimensions and text.

WAL journal and one transaction per batch of writes, so a crash or ``kill -9`` in the middle of a
write leaves the file readable with either all or none of that batch. Vectors are stored as
float64 bytes (exactly what the provider sent). Texts are keyed by SHA-256, so the file does not
hold the texts themselves. ``max_entries`` and ``max_size`` (bytes of vectors) bound the file:
the least recently written or read entries go first.
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
_CHUNK = 500  # keys per SELECT (SQLite's variable limit is far above)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector BLOB NOT NULL,
    used REAL NOT NULL,
    PRIMARY KEY (provider, model, dimensions, text_sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used);
"""


def default_directory() -> Path:
    """``$XDG_CACHE_HOME/geppetto/embeddings``, else ``~/.cache/geppetto/embeddings``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "geppetto" / "embeddings"


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class DiskCache:
    """A SQLite vector cache usable from several threads (one connection, serialised)."""

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
        keys = {text_key(text): text for text in texts}
        found: dict[str, list[float]] = {}
        names = list(keys)
        with self._lock:
            for start in range(0, len(names), _CHUNK):
                chunk = names[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT text_sha256, vector FROM vectors WHERE provider=? AND model=? AND dimensions=? "
                    f"AND text_sha256 IN ({marks})",
                    (model.provider, model.name, model.dimensions, *chunk),
                ).fetchall()
                for key, blob in rows:
                    values = array("d")
                    values.frombytes(blob)
                    found[keys[key]] = values.tolist()
                if rows:
                    self._mark_used(model, [key for key, _ in rows])
        return found

    def _mark_used(self, model: EmbeddingModel, keys: list[bytes]) -> None:
        """Hits count as use (eviction goes by last use); one statement per chunk of hits."""
        marks = ",".join("?" * len(keys))
        self._db.execute(
            "UPDATE vectors SET used=? WHERE provider=? AND model=? AND dimensions=? "
            f"AND text_sha256 IN ({marks})",
            (time.time(), model.provider, model.name, model.dimensions, *keys),
        )

    def put_many(self, model: EmbeddingModel, items: dict[str, list[float]]) -> None:
        if not items:
            return
        now = time.time()
        rows = [
            (model.provider, model.name, model.dimensions, text_key(text), array("d", vector).tobytes(), now)
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
                "DELETE FROM vectors WHERE (provider, model, dimensions, text_sha256) IN "
                "(SELECT provider, model, dimensions, text_sha256 FROM vectors ORDER BY used LIMIT ?)",
                (excess,),
            )
