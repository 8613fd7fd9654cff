"""What one request asks of the server: latency, chunk count and size, pacing, forced JSON.

Settings come from path segments before ``/v1`` so any client can be pointed at them with a base
URL alone: ``http://127.0.0.1:PORT/d50/n10000/s8/p2/json/v1`` means 50 ms before the response,
10,000 content chunks of 8 characters, 2 ms between events, and a JSON completion even when the
client asked for a stream. Unknown segments are refused so a typo is not silently measured.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class ReplyConfig:
    latency_ms: float = 0.0  # before the status line
    chunks: int = 1  # content deltas (also the length of the JSON reply's text)
    size: int = 0  # characters per content delta; 0 keeps "t<i> "
    interval_ms: float = 0.0  # between stream events; 0 writes the whole stream at once
    force_json: bool = False  # answer with one chat.completion even to stream=true


_NUMERIC = {"d": "latency_ms", "n": "chunks", "s": "size", "p": "interval_ms"}


def parse_path(path: str, base: ReplyConfig | None = None) -> ReplyConfig:
    """Read the settings segments of ``path`` (everything before ``v1``)."""
    config = base or ReplyConfig()
    for segment in path.strip("/").split("/"):
        if segment in ("v1", ""):
            break
        if segment == "json":
            config = replace(config, force_json=True)
            continue
        field = _NUMERIC.get(segment[:1])
        try:
            value = float(segment[1:])
        except ValueError:
            field = None
        if field is None or value < 0:
            raise ValueError(f"unknown server setting {segment!r} in {path!r}")
        change: dict[str, Any] = {field: int(value) if field in ("chunks", "size") else value}
        config = replace(config, **change)
    return config


def base_path(config: ReplyConfig) -> str:
    """The inverse of :func:`parse_path`: the segments (ending in ``/v1``) for ``config``."""
    parts = []
    if config.latency_ms:
        parts.append(f"d{config.latency_ms:g}")
    parts.append(f"n{config.chunks}")
    if config.size:
        parts.append(f"s{config.size}")
    if config.interval_ms:
        parts.append(f"p{config.interval_ms:g}")
    if config.force_json:
        parts.append("json")
    return "/" + "/".join([*parts, "v1"])
