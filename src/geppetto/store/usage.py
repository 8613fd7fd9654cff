"""Usage and cost sums over the stored runs (``geppetto usage``), grouped by model, profile or day.

Every stored final turn is one run, except the first turn of a fork, which repeats a run of its
source session and is left out. Token columns are run totals as the providers reported them
(``input_tokens`` includes cached reads for OpenAI-style usage, not for Anthropic's; see
:mod:`geppetto.cost`); ``cost_usd`` sums only the runs that were priced, and ``priced_runs`` says
how many those were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from geppetto.store.store import TurnStore

GroupBy = Literal["model", "profile", "day"]
GROUPS: tuple[GroupBy, ...] = ("model", "profile", "day")

_KEYS: dict[str, str] = {
    "model": "model",
    "profile": "profile",
    "day": "date(created_at_ms / 1000, 'unixepoch', 'localtime')",
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    """The sums of one group (``key`` is ``"total"`` when not grouped)."""

    key: str
    runs: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    priced_runs: int
    duration_ms: int
    provider: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        if self.provider:
            out["provider"] = self.provider
        out.update(
            runs=self.runs,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cost_usd=self.cost_usd,
            priced_runs=self.priced_runs,
            duration_ms=self.duration_ms,
        )
        return out


def usage_summary(
    store: TurnStore,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    by: GroupBy | None = None,
) -> list[UsageRow]:
    """Sums over the stored runs in the time range, one row per group (or one ``total`` row)."""
    if by is not None and by not in _KEYS:
        raise ValueError(f"cannot group usage by {by!r}: use one of {', '.join(GROUPS)}")
    clauses, params = ["forked = 0"], []
    if since_ms is not None:
        clauses.append("created_at_ms >= ?")
        params.append(since_ms)
    if until_ms is not None:
        clauses.append("created_at_ms < ?")
        params.append(until_ms)
    key = "'total'" if by is None else _KEYS[by]
    provider = "provider" if by == "model" else "''"
    group = "" if by is None else f" GROUP BY {key}, {provider} ORDER BY {key}, {provider}"
    query = (
        f"SELECT {key}, {provider}, COUNT(*), COALESCE(SUM(input_tokens), 0), "
        "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0), "
        "COALESCE(SUM(cache_write_tokens), 0), SUM(cost_usd), COUNT(cost_usd), "
        f"COALESCE(SUM(duration_ms), 0) FROM turns WHERE {' AND '.join(clauses)}{group}"
    )
    with store.reading("summing usage") as conn:
        rows = conn.execute(query, params).fetchall()
    return [
        UsageRow(
            key=str(row[0] or ""),
            provider=str(row[1] or ""),
            runs=int(row[2]),
            input_tokens=int(row[3]),
            output_tokens=int(row[4]),
            cache_read_tokens=int(row[5]),
            cache_write_tokens=int(row[6]),
            cost_usd=None if row[7] is None else float(row[7]),
            priced_runs=int(row[8]),
            duration_ms=int(row[9]),
        )
        for row in rows
        if int(row[2]) > 0
    ]
