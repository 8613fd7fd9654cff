"""The result record: one JSON object per item in the output file.

Shape (keys always present unless marked)::

    {"id": ..., "status": "ok" | "error", "answer": str, "finish_class": str,
     "usage": {"input_tokens": int, "output_tokens": int, ...} | null,
     "cost": float | null, "error": str | null, "duration_ms": int,
     "profile": str | null,
     "parsed": ...,            # only with a schema: the answer as JSON
     "turn": {...}}            # only with full=True: the final turn

``status`` is ``error`` when the run raised (``error`` says why, ``answer`` holds any partial text)
or when a schema was requested and the answer is not JSON. Timings (``duration_ms``) are the only
values that differ between two runs of the same batch on a deterministic engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK = "ok"
ERROR = "error"


@dataclass(slots=True)
class BatchResult:
    id: str | int
    status: str = OK
    answer: str = ""
    finish_class: str = "unknown"
    usage: dict[str, int] | None = None
    cost: float | None = None
    error: str | None = None
    duration_ms: int = 0
    profile: str | None = None
    parsed: Any = None
    has_parsed: bool = False
    turn: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def tokens(self) -> int:
        if not self.usage:
            return 0
        return int(self.usage.get("input_tokens", 0)) + int(self.usage.get("output_tokens", 0))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "answer": self.answer,
            "finish_class": self.finish_class,
            "usage": self.usage,
            "cost": self.cost,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "profile": self.profile,
        }
        if self.has_parsed:
            out["parsed"] = self.parsed
        if self.turn is not None:
            out["turn"] = self.turn
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BatchResult:
        usage = raw.get("usage")
        cost = raw.get("cost")
        return cls(
            id=raw["id"],
            status=str(raw.get("status") or OK),
            answer=str(raw.get("answer") or ""),
            finish_class=str(raw.get("finish_class") or "unknown"),
            usage=dict(usage) if isinstance(usage, dict) else None,
            cost=float(cost) if isinstance(cost, (int, float)) else None,
            error=raw.get("error"),
            duration_ms=int(raw.get("duration_ms") or 0),
            profile=raw.get("profile"),
            parsed=raw.get("parsed"),
            has_parsed="parsed" in raw,
            turn=raw.get("turn") if isinstance(raw.get("turn"), dict) else None,
        )
