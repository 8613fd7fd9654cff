"""Profile registries stored in SQLite: table ``profile_registries``, one JSON registry per row.

Schema (the reference's)::

    CREATE TABLE profile_registries (
        slug TEXT PRIMARY KEY, payload_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL DEFAULT 0)

Files are opened read-only; resolving profiles never writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from geppetto.profiles.formats import parse_registry
from geppetto.profiles.model import Registry
from geppetto.profiles.yamlio import SourceError

SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS profile_registries ("
    "slug TEXT PRIMARY KEY, payload_json TEXT NOT NULL, updated_at_ms INTEGER NOT NULL DEFAULT 0)"
)


def is_sqlite_file(path: Path) -> bool:
    """By extension, else by the SQLite header."""
    if path.suffix.lower() in SQLITE_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def read_sqlite_registries(*, path: Path | None = None, dsn: str = "", label: str = "") -> list[Registry]:
    """Every registry in the database (ordered by slug); :class:`SourceError` naming ``label``."""
    import sqlite3

    label = label or str(path or dsn)
    if path is not None:
        if not path.exists():
            raise SourceError(f"profile registry {label} does not exist")
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    else:
        uri = dsn if dsn.startswith("file:") else f"file:{dsn}"
    try:
        connection = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open SQLite profile registry {label}: {exc}") from None
    try:
        rows = connection.execute(
            "SELECT slug, payload_json FROM profile_registries ORDER BY slug"
        ).fetchall()
    except sqlite3.Error as exc:
        raise SourceError(f"cannot read SQLite profile registry {label}: {exc}") from None
    finally:
        connection.close()
    registries: list[Registry] = []
    for row_slug, payload in rows:
        where = f"{label} (row {row_slug})"
        try:
            data = json.loads(payload)
        except (TypeError, ValueError):
            raise SourceError(f"{where}: payload_json is not valid JSON") from None
        if isinstance(data, dict):
            data.setdefault("slug", row_slug)
        registry = parse_registry(data, label)
        if registry.slug != str(row_slug).strip().lower():
            raise SourceError(f"{where}: payload slug {registry.slug!r} does not match the row slug")
        registries.append(registry)
    return registries


def write_registry(path: Path, registry: dict[str, object], updated_at_ms: int = 0) -> None:
    """Insert or replace one registry document (used by tests and tooling to build databases)."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(CREATE_TABLE)
            connection.execute(
                "INSERT OR REPLACE INTO profile_registries (slug, payload_json, updated_at_ms) "
                "VALUES (?, ?, ?)",
                (str(registry["slug"]), json.dumps(registry), updated_at_ms),
            )
    finally:
        connection.close()
