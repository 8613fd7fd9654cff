"""``geppetto usage`` and ``geppetto logs``: what the stored runs used, cost and took.

Both read the turn store (one row per run; a fork's copied first turn is not a run). Costs are
what the session recorded when the run ended (``geppetto.cost_usd@v1``, from the profile's
``model_info.cost``); runs of profiles without a price count in the token sums and show ``-`` as
cost. Text for the terminal goes through :func:`~geppetto.terminal_text.safe_text`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from geppetto.cli.sessions import _print_json, existing_store, format_ms, format_table, parse_time, store_path
from geppetto.errors import ConfigError
from geppetto.store import StoredTurn
from geppetto.terminal_text import safe_text

_HEADINGS = {None: "", "model": "MODEL", "profile": "PROFILE", "day": "DAY"}


def format_cost(value: float | None) -> str:
    """``$0.0042`` below a dollar (cheap calls stay visible), ``$12.35`` above; ``-``: not priced."""
    if value is None:
        return "-"
    return f"${value:.4f}" if abs(value) < 1 else f"${value:,.2f}"


def format_duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def usage(args: argparse.Namespace) -> int:
    from geppetto.store.usage import UsageRow, usage_summary

    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    store = existing_store(args)
    rows: list[UsageRow] = []
    total: list[UsageRow] = []
    if store is not None:
        with store:
            rows = usage_summary(store, since_ms=since, until_ms=until, by=args.by)
            total = rows if args.by is None else usage_summary(store, since_ms=since, until_ms=until)
    if args.json:
        document: dict[str, Any] = {
            "store": str(store_path(args)),
            "since_ms": since,
            "until_ms": until,
            "by": args.by,
            "groups": [row.to_dict() for row in rows] if args.by else [],
            "total": total[0].to_dict() if total else None,
        }
        _print_json(document)
        return 0
    if not total:
        scope = " in that time range" if since or until else ""
        sys.stdout.write(f"no stored runs in {store_path(args)}{scope}\n")
        return 0
    headers = ["RUNS", "IN", "OUT", "CACHE READ", "CACHE WRITE", "COST", "PRICED", "TIME"]
    table: list[list[str]] = []
    for row in [*rows, *(total if args.by else [])]:
        label = "total" if row is total[0] and args.by else safe_text(row.key or "-")
        if args.by == "model" and row.provider and row is not total[0]:
            label = f"{safe_text(row.provider)}:{label}"
        cells = [
            str(row.runs),
            str(row.input_tokens),
            str(row.output_tokens),
            str(row.cache_read_tokens),
            str(row.cache_write_tokens),
            format_cost(row.cost_usd),
            f"{row.priced_runs}/{row.runs}",
            format_duration(row.duration_ms),
        ]
        table.append([label, *cells] if args.by else cells)
    if args.by:
        headers = [_HEADINGS[args.by], *headers]
        right = frozenset(range(1, 9))
    else:
        right = frozenset(range(0, 8))
    sys.stdout.write(format_table(headers, table, right))
    if total[0].priced_runs < total[0].runs:
        sys.stdout.write("(runs without a price are not in COST: declare model_info.cost in their profile)\n")
    return 0


def logs(args: argparse.Namespace) -> int:
    if args.n is not None and args.n < 1:
        raise ConfigError(f"-n must be at least 1, got {args.n}")
    store = existing_store(args, args.session)
    records: list[StoredTurn] = []
    if store is not None:
        with store:
            session_id = store.resolve_session(args.session) if args.session else None
            records = store.list_turns(session_id, limit=args.n, runs_only=True)
    if args.json:
        _print_json([_log_entry(record) for record in records])
        return 0
    if not records:
        sys.stdout.write(f"no stored runs in {store_path(args)}\n")
        return 0
    rows = [
        [
            format_ms(record.created_at_ms),
            record.session_id[:8],
            safe_text(record.profile or "-"),
            safe_text(record.model or "-"),
            _count(record.input_tokens),
            _count(record.output_tokens),
            _count(record.cache_read_tokens),
            format_cost(record.cost_usd),
            format_duration(record.duration_ms),
            safe_text(record.finish_class or record.outcome),
        ]
        for record in records
    ]
    headers = ["TIME", "SESSION", "PROFILE", "MODEL", "IN", "OUT", "CACHED", "COST", "DURATION", "FINISH"]
    sys.stdout.write(format_table(headers, rows, frozenset({4, 5, 6, 7, 8})))
    return 0


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _log_entry(record: StoredTurn) -> dict[str, Any]:
    """One run for scripts: the table's facts plus ids, outcome and error."""
    return {
        "created_at_ms": record.created_at_ms,
        "session_id": record.session_id,
        "turn_id": record.turn_id,
        "inference_id": record.inference_id,
        "profile": record.profile,
        "provider": record.provider,
        "model": record.model,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cache_read_tokens": record.cache_read_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "cost_usd": record.cost_usd,
        "duration_ms": record.duration_ms,
        "finish_class": record.finish_class,
        "outcome": record.outcome,
        "error": record.error,
    }
