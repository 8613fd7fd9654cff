"""``geppetto sessions list|show|export|fork|delete``: aligned tables for people, ``--json`` for scripts.

Also home of the helpers every store-backed command shares (opening the store from ``--store`` /
``--no-store``, parsing turn references and times).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from geppetto.errors import ConfigError, GeppettoError
from geppetto.store import (
    SessionInfo,
    SessionNotFound,
    StoredTurn,
    TurnRef,
    TurnStore,
    default_store_path,
    export_session,
)
from geppetto.store.codec import now_ms
from geppetto.store.export import ExportFormat
from geppetto.terminal_text import safe_text
from geppetto.turns import Turn, format_turn

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TITLE_WIDTH = 48


# -- shared helpers ----------------------------------------------------------------------------


def store_path(args: argparse.Namespace) -> Path:
    store = getattr(args, "store", None)
    return Path(store).expanduser() if store else default_store_path()


def open_store(args: argparse.Namespace) -> TurnStore | None:
    """The store selected by ``--store`` (default location otherwise); ``None`` with ``--no-store``.

    For commands that run: a store locked past its busy timeout is opened on first use instead, so
    the run completes and only its save fails, reported as a warning."""
    if getattr(args, "no_store", False):
        return None
    return TurnStore(store_path(args), defer_if_locked=True)


def existing_store(args: argparse.Namespace, session: str | None = None) -> TurnStore | None:
    """For read commands: the store if its file exists (``None``, or an error naming ``session``)."""
    path = store_path(args)
    if path.exists():
        return TurnStore(path)
    if session is not None:
        raise SessionNotFound(f"no stored session {session!r}: turn store {path} does not exist yet")
    return None


def parse_turn_ref(text: str | None) -> TurnRef:
    """``None`` (latest), an integer index (negative from the end) or a turn id."""
    if text is None:
        return None
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def parse_time(text: str) -> int:
    """Epoch milliseconds from an ISO date/time (local unless it says otherwise) or a duration ago."""
    match = _DURATION.match(text.strip())
    if match:
        return now_ms() - int(match.group(1)) * _UNIT_MS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"cannot read time {text!r}: use an ISO date such as 2025-01-31 or 2025-01-31T14:00, "
            "or a duration such as 30m, 2h or 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp() * 1000)


def format_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_table(headers: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()) -> str:
    """Plain aligned columns (no dependency); ``right`` holds the indexes of numeric columns."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)]) + "\n"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def plural(count: int, noun: str) -> str:
    """``1 turn``, ``2 turns``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


# -- commands ----------------------------------------------------------------------------------


def list_sessions(args: argparse.Namespace) -> int:
    store = existing_store(args)
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    infos: list[SessionInfo] = []
    if store is not None:
        with store:
            infos = store.list_sessions(since_ms=since, until_ms=until, limit=args.limit or None)
    if args.json:
        _print_json([info.to_dict() for info in infos])
        return 0
    if not infos:
        sys.stdout.write(f"no stored sessions in {store_path(args)}\n")
        return 0
    from geppetto.cli.usage import format_cost

    rows = [
        [
            info.id,
            format_ms(info.updated_at_ms),
            str(info.turn_count),
            safe_text(info.last_outcome),
            safe_text(info.last_model),
            _count(info.input_tokens),
            _count(info.output_tokens),
            format_cost(info.cost_usd),
            _shorten(safe_text(info.title), _TITLE_WIDTH),
        ]
        for info in infos
    ]
    headers = ["ID", "UPDATED", "TURNS", "LAST", "MODEL", "IN", "OUT", "COST", "TITLE"]
    sys.stdout.write(format_table(headers, rows, frozenset({2, 5, 6, 7})))
    return 0


def show(args: argparse.Namespace) -> int:
    store = existing_store(args, args.session)
    assert store is not None
    with store:
        session_id = store.resolve_session(args.session)
        info = store.session_info(session_id)
        records = store.list_turns(session_id)
        selected = store.get_turn(session_id, parse_turn_ref(args.turn)) if records else None
    if args.json:
        _print_json(
            {
                "session": info.to_dict(),
                "turns": [record.to_dict(include_turn=False) for record in records],
                "turn": selected.to_dict() if selected is not None else None,
            }
        )
        return 0
    out = sys.stdout
    out.write(f"session  {info.id}\n")
    if info.title:
        out.write(f"title    {safe_text(info.title)}\n")
    out.write(f"created  {format_ms(info.created_at_ms)}\nupdated  {format_ms(info.updated_at_ms)}\n")
    if info.forked_from_session:
        out.write(f"forked   from {info.forked_from_session} at turn {info.forked_from_turn_id or '?'}\n")
    if info.input_tokens is not None or info.output_tokens is not None:
        from geppetto.cli.usage import format_cost

        tokens = f"{_count(info.input_tokens)} in, {_count(info.output_tokens)} out"
        out.write(f"usage    {tokens}, cost {format_cost(info.cost_usd)}\n")
    out.write(f"store    {store.path}\n\n")
    out.write(_turn_table(records))
    if selected is not None and selected.turn is not None:
        latest = " (latest)" if selected.index == len(records) - 1 else ""
        out.write(f"\n=== Turn {selected.index}{latest}: {safe_text(selected.outcome)} ===\n")
        if selected.error:
            out.write(f"error: {safe_text(selected.error)}\n")
        out.write(format_turn(selected.turn))
    return 0


def _turn_table(records: list[StoredTurn]) -> str:
    from geppetto.cli.usage import format_cost, format_duration

    rows = [
        [
            str(record.index),
            record.turn_id[:8],
            record.outcome,
            safe_text(record.finish_class or "-"),
            safe_text(record.model or "-"),
            _count(record.input_tokens),
            _count(record.output_tokens),
            format_cost(record.cost_usd),
            format_duration(record.duration_ms),
            str(record.block_count),
            format_ms(record.created_at_ms),
        ]
        for record in records
    ]
    headers = ["#", "TURN", "OUTCOME", "FINISH", "MODEL", "IN", "OUT", "COST", "TOOK", "BLOCKS", "TIME"]
    return format_table(headers, rows, frozenset({0, 5, 6, 7, 8, 9}))


def export(args: argparse.Namespace) -> int:
    store = existing_store(args, args.session)
    assert store is not None
    fmt: ExportFormat = "json" if (args.format or ("json" if args.json else "yaml")) == "json" else "yaml"
    with store:
        session_id = store.resolve_session(args.session)
        text = export_session(store, session_id, fmt, latest_only=args.latest)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        sys.stderr.write(f"exported session {session_id} to {args.output}\n")
    else:
        sys.stdout.write(text)
    return 0


def fork(args: argparse.Namespace) -> int:
    store = existing_store(args, args.session)
    assert store is not None
    with store:
        session_id = store.resolve_session(args.session)
        new_id = store.fork(session_id, at=parse_turn_ref(args.at))
        info = store.session_info(new_id)
    if args.json:
        _print_json(info.to_dict())
    else:
        sys.stdout.write(f"{new_id}\n")
        sys.stderr.write(
            f"forked session {session_id} at turn {info.forked_from_turn_id}; "
            f"continue it with: geppetto chat --session {new_id}\n"
        )
    return 0


def delete(args: argparse.Namespace) -> int:
    """Delete one session: asks on a terminal, needs ``--yes`` otherwise (a script that meant a
    different prefix must not lose a session silently); an ambiguous prefix is always refused."""
    store = existing_store(args, args.session)
    assert store is not None
    with store:
        session_id = store.resolve_session(args.session)  # refuses an ambiguous prefix
        if not args.yes:
            if sys.stdin is None or not sys.stdin.isatty():
                raise ConfigError(
                    f"not deleting session {session_id} without confirmation: stdin is not a terminal, "
                    "so pass --yes to delete it"
                )
            info = store.session_info(session_id)
            title, count = safe_text(repr(info.title)), plural(info.turn_count, "turn")
            answer = input(f"delete session {session_id} ({count}, {title})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                sys.stderr.write("not deleted\n")
                return 1
        deleted = store.delete_session(session_id)
    if args.json:
        _print_json({"deleted": session_id, "turns": deleted})
    else:
        sys.stdout.write(f"deleted session {session_id} ({plural(deleted, 'turn')})\n")
    return 0


def warn(message: str) -> None:
    """Report a problem that does not stop the command (e.g. a turn that could not be saved)."""
    sys.stderr.write(f"warning: {message}\n")


class ReportingPersister:
    """Persists through a store and reports failures to the user (the session would only log them)."""

    def __init__(self, store: TurnStore, report: Callable[[str], None]) -> None:
        self.store = store
        self._report = report

    def persist_turn(self, session_id: str, turn: Turn, *, outcome: str, error: str | None) -> None:
        try:
            self.store.persist_turn(session_id, turn, outcome=outcome, error=error)
        except GeppettoError as exc:
            self._report(f"turn {turn.id} of session {session_id} was not saved: {exc}")
