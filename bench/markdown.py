"""``python -m bench.markdown RESULTS.json``: the tables of a ``python -m bench --json`` run as
Markdown, for pasting into docs/performance.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SECTIONS = {
    "overhead_json": "Per call: one JSON completion (0 ms latency)",
    "overhead_sse": "Per call: a streamed 10-chunk reply (0 ms latency)",
    "streaming": "Streaming: one 10,000-chunk stream",
    "concurrency": "Concurrency: 1,000 calls started together, 50 ms latency",
    "coldstart": "Cold start (whole process)",
    "js": "JS: round trips, a 1,000-block turn, geppetto js run cold start",
    "mcp": "MCP: a stdio tool call through geppetto vs the mcp client",
    "embed": "Embeddings: throughput vs raw aiohttp, and the caches",
    "otel": "Telemetry: the cost of OpenTelemetry instrumentation",
}


def cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)\n"
    headers: list[str] = []
    for row in rows:
        headers += [key for key in row if key not in headers]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(row.get(h, "")) for h in headers) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render(results: dict[str, Any]) -> str:
    out = []
    for key, title in SECTIONS.items():
        section = results.get(key)
        if not section:
            continue
        out.append(f"### {title}\n\n{table(section['rows'])}")
        for extra in ("turns", "cold", "cache"):
            if section.get(extra):
                out.append(table(section[extra]))
        if section.get("verdicts"):
            out.append(table(section["verdicts"]))
        if key == "coldstart":
            note = f"`geppetto js`: {section.get('js', '-')}"
            if "js us/call" in section:
                note += f"; `geppetto js run`, per inference: {section['js us/call']:,.0f} us"
            out.append(note + "\n")
    versions = results.get("versions", {})
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "\n")
    return "\n".join(out)


def main() -> None:
    print(render(json.loads(Path(sys.argv[1]).read_text())))


if __name__ == "__main__":
    main()
