"""``TurnStore``: every run's final turn in SQLite, queryable by session, latest and time range.

A stored turn is a row with the run's facts (session, turn and inference ids, phase, outcome,
parent turn, timestamps, model, usage, error) plus an ordered list of content-addressed blocks.
A turn repeats its session's history, so consecutive turns and forks share most of their blocks,
and the store keeps each block once.

The store implements :class:`geppetto.session.TurnPersister`, so sessions opt in with
``Session(builder, store=store)``; resume with ``Session.resume(store, builder, session_id=sid)``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from geppetto.store.codec import (
    decode_block,
    dumps,
    encode_block,
    loads_mapping,
    now_ms,
    session_title,
    turn_facts,
)
from geppetto.store.connection import StoreConnection
from geppetto.store.errors import SessionNotFound, StoreError, StoreLockedError, TurnNotFound
from geppetto.store.paths import default_busy_timeout, default_store_path
from geppetto.store.records import SessionInfo, StoredTurn
from geppetto.turns.keys import TurnMetaKeys, canonical_id
from geppetto.turns.model import Block, Turn, new_id

FINAL_PHASE = "final"
OUTCOMES = ("completed", "failed", "cancelled")

# Stamped on the first turn of a fork (the spirit of the reference's forkedFrom* metadata).
FORKED_FROM_SESSION_ID = canonical_id("forked_from_session_id")
FORKED_FROM_TURN_ID = canonical_id("forked_from_turn_id")
FORKED_AT_MS = canonical_id("forked_at_ms")

TurnRef = int | str | None  # index in the session (negative from the end), turn id, or latest

_TURN_COLUMNS = (
    "seq, idx, session_id, turn_id, inference_id, phase, outcome, parent_seq, created_at_ms, provider, "
    "model, stop_reason, finish_class, input_tokens, output_tokens, usage_json, error, block_count, "
    "profile, cache_read_tokens, cache_write_tokens, cost_usd, duration_ms, forked"
)
_INDEXED_TURNS = (
    "(SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.session_id ORDER BY t.seq) - 1 AS idx "
    "FROM turns t{where})"
)
_SESSION_QUERY = """
SELECT s.id, s.created_at_ms, s.updated_at_ms, s.title, s.forked_from_session,
       (SELECT f.turn_id FROM turns f WHERE f.seq = s.forked_from_turn_seq),
       (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id),
       (SELECT t.model FROM turns t WHERE t.session_id = s.id ORDER BY t.seq DESC LIMIT 1),
       (SELECT t.outcome FROM turns t WHERE t.session_id = s.id ORDER BY t.seq DESC LIMIT 1),
       (SELECT SUM(t.input_tokens) FROM turns t WHERE t.session_id = s.id AND t.forked = 0),
       (SELECT SUM(t.output_tokens) FROM turns t WHERE t.session_id = s.id AND t.forked = 0),
       (SELECT SUM(t.cost_usd) FROM turns t WHERE t.session_id = s.id AND t.forked = 0)
FROM sessions s
"""


class TurnStore:
    """A SQLite turn store (WAL, busy timeout, named migrations); safe to share between threads."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        busy_timeout: float | None = None,
        defer_if_locked: bool = False,
    ) -> None:
        """Open (and migrate) the store. ``busy_timeout`` defaults to ``$GEPPETTO_STORE_BUSY_TIMEOUT``
        or 10 s. With ``defer_if_locked`` a store still locked after that is opened on first use
        instead, so a run can go on and only its save fails (and is reported) if the lock stays."""
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.busy_timeout = busy_timeout if busy_timeout is not None else default_busy_timeout()
        self._open_lock = threading.Lock()
        self._connection: StoreConnection | None = None
        try:
            self._connection = StoreConnection(self.path, busy_timeout=self.busy_timeout)
        except StoreLockedError:
            if not defer_if_locked:
                raise

    @property
    def _db(self) -> StoreConnection:
        connection = self._connection
        if connection is None:
            with self._open_lock:
                if self._connection is None:
                    self._connection = StoreConnection(self.path, busy_timeout=self.busy_timeout)
                connection = self._connection
        return connection

    def close(self) -> None:
        with self._open_lock:
            if self._connection is not None:
                self._connection.close()

    def __enter__(self) -> TurnStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TurnStore({str(self.path)!r})"

    # -- writing ---------------------------------------------------------------------------

    def persist_turn(self, session_id: str, turn: Turn, *, outcome: str, error: str | None) -> None:
        """The :class:`~geppetto.session.TurnPersister` hook: save a run's final turn."""
        self.save_turn(session_id, turn, outcome=str(outcome), error=error)

    def save_turn(
        self,
        session_id: str,
        turn: Turn,
        *,
        outcome: str = "completed",
        error: str | None = None,
        phase: str = FINAL_PHASE,
    ) -> StoredTurn:
        """Append ``turn`` to ``session_id`` (created on first use) in one transaction."""
        if not session_id:
            raise StoreError("cannot store a turn without a session id")
        if outcome not in OUTCOMES:
            raise StoreError(f"unknown run outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        turn.validate()
        try:
            blocks = [encode_block(block) for block in turn.blocks]
            metadata_json, data_json = dumps(turn.metadata), dumps(turn.data)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise StoreError(f"turn {turn.id or '(no id)'} cannot be stored: {exc}") from None
        facts = turn_facts(turn)
        turn_id = turn.id or new_id()
        stamp = now_ms()
        with self._db.write("saving a turn") as conn:
            conn.execute(
                "INSERT INTO sessions(id, created_at_ms, updated_at_ms, title) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET updated_at_ms = excluded.updated_at_ms, "
                "title = CASE WHEN sessions.title = '' THEN excluded.title ELSE sessions.title END",
                (session_id, stamp, stamp, session_title(turn)),
            )
            parent = conn.execute(
                "SELECT seq FROM turns WHERE session_id = ? ORDER BY seq DESC LIMIT 1", (session_id,)
            ).fetchone()
            conn.executemany(
                "INSERT OR IGNORE INTO blocks(hash, kind, body) VALUES (?, ?, ?)",
                [(b.hash, b.kind, b.body) for b in blocks],
            )
            cursor = conn.execute(
                "INSERT INTO turns(session_id, turn_id, inference_id, phase, outcome, parent_seq, "
                "created_at_ms, provider, model, stop_reason, finish_class, input_tokens, output_tokens, "
                "usage_json, error, metadata_json, data_json, block_count, profile, cache_read_tokens, "
                "cache_write_tokens, cost_usd, duration_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id, turn_id, facts.inference_id, phase, outcome, parent[0] if parent else None,
                    stamp, facts.provider, facts.model, facts.stop_reason, facts.finish_class,
                    facts.input_tokens, facts.output_tokens,
                    dumps(facts.usage) if facts.usage is not None else None,
                    error, metadata_json, data_json, len(blocks), facts.profile, facts.cache_read_tokens,
                    facts.cache_write_tokens, facts.cost_usd, facts.duration_ms,
                ),
            )  # fmt: skip
            seq = cursor.lastrowid
            assert seq is not None
            conn.executemany(
                "INSERT INTO turn_blocks(turn_seq, position, block_hash) VALUES (?, ?, ?)",
                [(seq, position, b.hash) for position, b in enumerate(blocks)],
            )
            return self._turn_records(conn, "WHERE seq = ?", (seq,), session_id=session_id)[0]

    def fork(self, session_id: str, *, at: TurnRef = None, new_session_id: str | None = None) -> str:
        """Start a new session whose first turn is ``session_id``'s turn ``at`` (default: latest).

        The new turn row shares every block with its source; returns the new session id.
        """
        fork_id = new_session_id or new_id()
        stamp = now_ms()
        with self._db.write("forking a session") as conn:
            source = self._resolve_turn(conn, session_id, at)
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (fork_id,)).fetchone():
                raise StoreError(f"cannot fork into session {fork_id}: it already exists in {self.path}")
            row = conn.execute(
                "SELECT s.title, t.turn_id, t.metadata_json FROM turns t "
                "JOIN sessions s ON s.id = t.session_id WHERE t.seq = ?",
                (source,),
            ).fetchone()
            title, turn_id, metadata_json = row
            metadata = loads_mapping(metadata_json)
            metadata[TurnMetaKeys.SESSION_ID.id] = fork_id
            metadata[FORKED_FROM_SESSION_ID] = session_id
            metadata[FORKED_FROM_TURN_ID] = turn_id
            metadata[FORKED_AT_MS] = stamp
            conn.execute(
                "INSERT INTO sessions(id, created_at_ms, updated_at_ms, title, forked_from_session, "
                "forked_from_turn_seq) VALUES (?, ?, ?, ?, ?, ?)",
                (fork_id, stamp, stamp, title, session_id, source),
            )
            cursor = conn.execute(
                "INSERT INTO turns(session_id, turn_id, inference_id, phase, outcome, parent_seq, "
                "created_at_ms, provider, model, stop_reason, finish_class, input_tokens, output_tokens, "
                "usage_json, error, metadata_json, data_json, block_count, profile, cache_read_tokens, "
                "cache_write_tokens, cost_usd, duration_ms, forked) "
                "SELECT ?, turn_id, inference_id, phase, outcome, seq, ?, provider, model, stop_reason, "
                "finish_class, input_tokens, output_tokens, usage_json, error, ?, data_json, block_count, "
                "profile, cache_read_tokens, cache_write_tokens, cost_usd, duration_ms, 1 "
                "FROM turns WHERE seq = ?",
                (fork_id, stamp, dumps(metadata), source),
            )
            conn.execute(
                "INSERT INTO turn_blocks(turn_seq, position, block_hash) "
                "SELECT ?, position, block_hash FROM turn_blocks WHERE turn_seq = ?",
                (cursor.lastrowid, source),
            )
        return fork_id

    def delete_session(self, session_id: str) -> int:
        """Delete a session, its turns and the blocks no other turn uses; returns the turn count."""
        with self._db.write("deleting a session") as conn:
            self._require_session(conn, session_id)
            hashes = [
                h
                for (h,) in conn.execute(
                    "SELECT DISTINCT block_hash FROM turn_blocks WHERE turn_seq IN "
                    "(SELECT seq FROM turns WHERE session_id = ?)",
                    (session_id,),
                )
            ]
            deleted = conn.execute("DELETE FROM turns WHERE session_id = ?", (session_id,)).rowcount
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            conn.executemany(
                "DELETE FROM blocks WHERE hash = ? AND NOT EXISTS "
                "(SELECT 1 FROM turn_blocks WHERE block_hash = ?)",
                [(h, h) for h in hashes],
            )
        return int(deleted)

    # -- reading ---------------------------------------------------------------------------

    def resolve_session(self, id_or_prefix: str) -> str:
        """The full id of the session that ``id_or_prefix`` names (exact, else a unique prefix)."""
        wanted = id_or_prefix.strip()
        if not wanted:
            raise SessionNotFound("the session id is empty")
        with self._db.read("looking up a session") as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (wanted,)).fetchone():
                return wanted
            rows = conn.execute(
                "SELECT id FROM sessions WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 3",
                (len(wanted), wanted),
            ).fetchall()
        if not rows:
            raise SessionNotFound(
                f"no stored session {wanted!r} in {self.path}; 'geppetto sessions list' shows the stored ones"
            )
        if len(rows) > 1:
            matches = ", ".join(row[0] for row in rows)
            raise SessionNotFound(
                f"session prefix {wanted!r} is ambiguous (matches {matches}); give more of the id"
            )
        return str(rows[0][0])

    def session_info(self, session_id: str) -> SessionInfo:
        with self._db.read("reading a session") as conn:
            rows = conn.execute(_SESSION_QUERY + "WHERE s.id = ?", (session_id,)).fetchall()
        if not rows:
            raise self._not_found(session_id)
        return _session_info(rows[0])

    def list_sessions(
        self, *, since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None
    ) -> list[SessionInfo]:
        """Sessions active in the time range (by last update), most recently written first."""
        where, params = _time_range("s.updated_at_ms", since_ms, until_ms)
        # commit order, not the clock: several processes may disagree about the time
        query = (
            _SESSION_QUERY
            + where
            + " ORDER BY (SELECT MAX(t.seq) FROM turns t WHERE t.session_id = s.id) DESC"
        )
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._db.read("listing sessions") as conn:
            return [_session_info(row) for row in conn.execute(query, params)]

    def latest_session_id(self) -> str | None:
        """The session of the most recently stored turn."""
        with self._db.read("finding the latest session") as conn:
            row = conn.execute("SELECT session_id FROM turns ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def list_turns(
        self,
        session_id: str | None = None,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        outcome: str | None = None,
        phase: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        with_turns: bool = False,
        runs_only: bool = False,
    ) -> list[StoredTurn]:
        """Stored turns, oldest first unless ``newest_first``; ``limit`` keeps the newest ones.
        ``runs_only`` leaves out the turns a fork copied (they repeat a run stored elsewhere)."""
        where, params = _time_range("created_at_ms", since_ms, until_ms)
        if runs_only:
            where += (" AND " if where else "WHERE ") + "forked = 0"
        for column, value in (("outcome", outcome), ("phase", phase)):
            if value is not None:
                where += (" AND " if where else "WHERE ") + f"{column} = ?"
                params.append(value)
        with self._db.read("listing turns") as conn:
            if session_id is not None:
                self._require_session(conn, session_id)
            records = self._turn_records(
                conn, where, params, session_id=session_id, limit=limit, newest_first=newest_first
            )
            if with_turns:
                self._attach_turns(conn, records)
        return records

    def latest(
        self,
        session_id: str | None = None,
        *,
        outcome: str | None = None,
        phase: str | None = None,
        since_ms: int | None = None,
    ) -> StoredTurn | None:
        """The most recently stored turn matching the filters, with its blocks (``resumeLatest``)."""
        records = self.list_turns(
            session_id, outcome=outcome, phase=phase, since_ms=since_ms, limit=1, with_turns=True
        )
        return records[0] if records else None

    def get_turn(self, session_id: str, at: TurnRef = None) -> StoredTurn:
        """One stored turn of a session with its blocks: by index, by turn id, or the latest."""
        with self._db.read("reading a turn") as conn:
            seq = self._resolve_turn(conn, session_id, at)
            records = self._turn_records(conn, "WHERE seq = ?", [seq], session_id=session_id)
            self._attach_turns(conn, records)
        return records[0]

    def load_turns(self, session_id: str, *, last: int | None = None) -> list[Turn]:
        """A session's stored turns in order (the ``turns=`` of a resumed ``Session``)."""
        records = self.list_turns(session_id, limit=last, with_turns=True)
        return [record.turn for record in records if record.turn is not None]

    def counts(self) -> dict[str, int]:
        """Row counts per table: how much is stored, and how well blocks are shared."""
        with self._db.read("counting rows") as conn:
            return {
                table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("sessions", "turns", "blocks", "turn_blocks")
            }

    def reading(self, action: str) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A read transaction for queries this class does not offer (``action`` names it in errors)."""
        return self._db.read(action)

    def check(self) -> list[str]:
        """Integrity problems of the database file; empty when it is healthy."""
        return self._db.integrity_problems()

    # -- internals -------------------------------------------------------------------------

    def _not_found(self, session_id: str) -> SessionNotFound:
        return SessionNotFound(
            f"no stored session {session_id!r} in {self.path}; 'geppetto sessions list' shows the stored ones"
        )

    def _require_session(self, conn: sqlite3.Connection, session_id: str) -> None:
        if not conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
            raise self._not_found(session_id)

    def _resolve_turn(self, conn: sqlite3.Connection, session_id: str, at: TurnRef) -> int:
        self._require_session(conn, session_id)
        if at is None or isinstance(at, int):
            count_row = conn.execute("SELECT COUNT(*) FROM turns WHERE session_id = ?", (session_id,))
            count = int(count_row.fetchone()[0])
            if count == 0:
                raise TurnNotFound(f"session {session_id} has no stored turns")
            index = count - 1 if at is None else at
            position = index + count if index < 0 else index
            if not 0 <= position < count:
                turns = "1 stored turn" if count == 1 else f"{count} stored turns"
                raise TurnNotFound(f"session {session_id} has {turns}; index {at} is out of range")
            row = conn.execute(
                "SELECT seq FROM turns WHERE session_id = ? ORDER BY seq LIMIT 1 OFFSET ?",
                (session_id, position),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT seq FROM turns WHERE session_id = ? AND turn_id = ? ORDER BY seq DESC LIMIT 1",
                (session_id, at),
            ).fetchone()
            if row is None:
                raise TurnNotFound(f"session {session_id} has no stored turn with id {at!r}")
        return int(row[0])

    def _turn_records(
        self,
        conn: sqlite3.Connection,
        where: str,
        params: Sequence[Any],
        *,
        session_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[StoredTurn]:
        args: list[Any]
        inner_where, args = "", []
        if session_id is not None:
            inner_where, args = " WHERE t.session_id = ?", [session_id]
        query = f"SELECT {_TURN_COLUMNS} FROM {_INDEXED_TURNS.format(where=inner_where)} {where}"
        args.extend(params)
        if limit is not None:
            query += " ORDER BY seq DESC LIMIT ?"
            args.append(limit)
            records = [_stored_turn(row) for row in conn.execute(query, args)]
            return records if newest_first else records[::-1]
        query += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        return [_stored_turn(row) for row in conn.execute(query, args)]

    def _attach_turns(self, conn: sqlite3.Connection, records: Iterable[StoredTurn]) -> None:
        """Rebuild each record's turn; a block shared by several turns is decoded once."""
        decoded: dict[str, Block] = {}
        for record in records:
            row = conn.execute(
                "SELECT metadata_json, data_json FROM turns WHERE seq = ?", (record.seq,)
            ).fetchone()
            blocks: list[Block] = []
            for block_hash, body in conn.execute(
                "SELECT tb.block_hash, b.body FROM turn_blocks tb JOIN blocks b ON b.hash = tb.block_hash "
                "WHERE tb.turn_seq = ? ORDER BY tb.position",
                (record.seq,),
            ):
                block = decoded.get(block_hash)
                if block is None:
                    block = decoded[block_hash] = decode_block(body)
                blocks.append(block.clone(deep=True))
            if len(blocks) != record.block_count:
                raise StoreError(
                    f"turn store {self.path}: turn {record.turn_id} has {len(blocks)} of its "
                    f"{record.block_count} blocks; run 'PRAGMA integrity_check' or restore a backup"
                )
            record.turn = Turn(blocks, loads_mapping(row[0]), loads_mapping(row[1]), record.turn_id)


def _time_range(column: str, since_ms: int | None, until_ms: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if since_ms is not None:
        clauses.append(f"{column} >= ?")
        params.append(since_ms)
    if until_ms is not None:
        clauses.append(f"{column} < ?")
        params.append(until_ms)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _session_info(row: Sequence[Any]) -> SessionInfo:
    return SessionInfo(
        id=row[0],
        created_at_ms=row[1],
        updated_at_ms=row[2],
        title=row[3] or "",
        forked_from_session=row[4],
        forked_from_turn_id=row[5],
        turn_count=int(row[6]),
        last_model=row[7] or "",
        last_outcome=row[8] or "",
        input_tokens=row[9],
        output_tokens=row[10],
        cost_usd=row[11],
    )


def _stored_turn(row: Sequence[Any]) -> StoredTurn:
    usage = loads_mapping(row[15]) if row[15] else None
    return StoredTurn(
        seq=row[0],
        index=row[1],
        session_id=row[2],
        turn_id=row[3],
        inference_id=row[4],
        phase=row[5],
        outcome=row[6],
        parent_seq=row[7],
        created_at_ms=row[8],
        provider=row[9],
        model=row[10],
        stop_reason=row[11],
        finish_class=row[12],
        input_tokens=row[13],
        output_tokens=row[14],
        usage=usage,
        error=row[16],
        block_count=row[17],
        profile=row[18] or "",
        cache_read_tokens=row[19],
        cache_write_tokens=row[20],
        cost_usd=row[21],
        duration_ms=row[22],
        forked=bool(row[23]),
    )
