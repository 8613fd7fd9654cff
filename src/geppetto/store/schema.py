"""Schema migrations, registered by name in the ``schema_migrations`` table.

Names rather than a version number let a database say exactly which steps it has seen: a name
this code does not know means a newer geppetto wrote the file, and we refuse to touch it instead
of guessing. Each migration runs in the same transaction as its bookkeeping row, so a killed
process leaves either the old or the new schema, never half of one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_sessions_turns_blocks",
        (
            """CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                created_at_ms INTEGER NOT NULL,
                updated_at_ms INTEGER NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                forked_from_session TEXT,
                forked_from_turn_seq INTEGER
            )""",
            "CREATE INDEX sessions_updated ON sessions(updated_at_ms)",
            # Content-addressed: the key is the SHA-256 of the block's canonical JSON.
            """CREATE TABLE blocks (
                hash TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                body BLOB NOT NULL
            ) WITHOUT ROWID""",
            """CREATE TABLE turns (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                turn_id TEXT NOT NULL,
                inference_id TEXT NOT NULL DEFAULT '',
                phase TEXT NOT NULL DEFAULT 'final',
                outcome TEXT NOT NULL,
                parent_seq INTEGER REFERENCES turns(seq) ON DELETE SET NULL,
                created_at_ms INTEGER NOT NULL,
                provider TEXT NOT NULL DEFAULT '',
                model TEXT NOT NULL DEFAULT '',
                stop_reason TEXT NOT NULL DEFAULT '',
                finish_class TEXT NOT NULL DEFAULT '',
                input_tokens INTEGER,
                output_tokens INTEGER,
                usage_json TEXT,
                error TEXT,
                metadata_json TEXT NOT NULL DEFAULT '{}',
                data_json TEXT NOT NULL DEFAULT '{}',
                block_count INTEGER NOT NULL
            )""",
            "CREATE INDEX turns_session ON turns(session_id, seq)",
            "CREATE INDEX turns_created ON turns(created_at_ms)",
            "CREATE INDEX turns_parent ON turns(parent_seq)",
            """CREATE TABLE turn_blocks (
                turn_seq INTEGER NOT NULL REFERENCES turns(seq) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                block_hash TEXT NOT NULL REFERENCES blocks(hash),
                PRIMARY KEY (turn_seq, position)
            ) WITHOUT ROWID""",
            "CREATE INDEX turn_blocks_hash ON turn_blocks(block_hash)",
        ),
    ),
    # Per-run accounting (geppetto usage / logs): the profile, cache tokens, cost and wall time of
    # each run, and which rows a fork copied (they repeat a run, so sums leave them out). Rows
    # stored before this keep NULL cost and duration (never measured); their cache tokens come
    # from the usage they kept.
    Migration(
        "0002_run_usage",
        (
            "ALTER TABLE turns ADD COLUMN profile TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE turns ADD COLUMN cache_read_tokens INTEGER",
            "ALTER TABLE turns ADD COLUMN cache_write_tokens INTEGER",
            "ALTER TABLE turns ADD COLUMN cost_usd REAL",
            "ALTER TABLE turns ADD COLUMN duration_ms INTEGER",
            "ALTER TABLE turns ADD COLUMN forked INTEGER NOT NULL DEFAULT 0",
            """UPDATE turns SET
                cache_read_tokens = CASE
                    WHEN json_extract(usage_json, '$.cached_tokens') IS NULL
                     AND json_extract(usage_json, '$.cache_read_input_tokens') IS NULL THEN 0
                    ELSE COALESCE(json_extract(usage_json, '$.cached_tokens'), 0)
                       + COALESCE(json_extract(usage_json, '$.cache_read_input_tokens'), 0) END,
                cache_write_tokens = COALESCE(json_extract(usage_json, '$.cache_creation_input_tokens'), 0)
              WHERE usage_json IS NOT NULL AND json_valid(usage_json)""",
            """UPDATE turns SET forked = 1
              WHERE session_id IN (SELECT id FROM sessions WHERE forked_from_session IS NOT NULL)
                AND seq = (SELECT MIN(f.seq) FROM turns f WHERE f.session_id = turns.session_id)""",
            "CREATE INDEX turns_session_created ON turns(session_id, created_at_ms)",
        ),
    ),
)

KNOWN_NAMES = frozenset(migration.name for migration in MIGRATIONS)

_CREATE_REGISTRY = """CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_at_ms INTEGER NOT NULL
)"""


def applied_migrations(conn: sqlite3.Connection) -> set[str] | None:
    """Names recorded in the database, or ``None`` when it has no registry table yet."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if row is None:
        return None
    return {name for (name,) in conn.execute("SELECT name FROM schema_migrations")}


def foreign_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables of a database that has no migration registry (so is not ours, or is new)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [name for (name,) in rows]


def unknown_migrations(applied: set[str]) -> list[str]:
    return sorted(applied - KNOWN_NAMES)


def pending_migrations(applied: set[str]) -> list[Migration]:
    return [migration for migration in MIGRATIONS if migration.name not in applied]


def apply_pending(conn: sqlite3.Connection, applied: set[str], now_ms: int) -> list[str]:
    """Run the missing migrations inside the caller's transaction; returns their names."""
    conn.execute(_CREATE_REGISTRY)
    done: list[str] = []
    for migration in pending_migrations(applied):
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations(name, applied_at_ms) VALUES (?, ?)", (migration.name, now_ms)
        )
        done.append(migration.name)
    return done
