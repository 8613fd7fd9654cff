"""Shared helpers for bench scripts: timing statistics and table/JSON output."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def report(title: str, rows: list[dict[str, Any]], json_path: str | None = None) -> None:
    """Print ``rows`` as an aligned table and optionally write them as JSON."""
    print(f"\n## {title}\n")
    if rows:
        headers = list(rows[0])
        cells = [[_fmt(row.get(h)) for h in headers] for row in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row_cells in cells:
            print("  ".join(c.ljust(w) for c, w in zip(row_cells, widths, strict=True)))
    if json_path:
        Path(json_path).write_text(json.dumps({"title": title, "rows": rows}, indent=2) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
