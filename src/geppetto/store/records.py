"""What store queries return: plain records that print as tables or JSON without the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geppetto.turns.model import Turn
from geppetto.turns.serde import turn_to_dict


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One stored session: when it was active, how many turns, where it was forked from."""

    id: str
    created_at_ms: int
    updated_at_ms: int
    title: str
    turn_count: int
    last_model: str
    last_outcome: str
    forked_from_session: str | None
    forked_from_turn_id: str | None
    # the session's own runs summed (a fork's copied first turn left out); None: nothing reported
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "title": self.title,
            "turn_count": self.turn_count,
            "last_model": self.last_model,
            "last_outcome": self.last_outcome,
            "forked_from_session": self.forked_from_session,
            "forked_from_turn_id": self.forked_from_turn_id,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass(slots=True)
class StoredTurn:
    """One persisted run: its facts, and the turn itself when it was asked for."""

    seq: int
    index: int  # 0-based position within its session
    session_id: str
    turn_id: str
    inference_id: str
    phase: str
    outcome: str
    parent_seq: int | None
    created_at_ms: int
    provider: str
    model: str
    stop_reason: str
    finish_class: str
    input_tokens: int | None
    output_tokens: int | None
    usage: dict[str, Any] | None
    error: str | None
    block_count: int
    profile: str = ""
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_usd: float | None = None  # None: not priced (no model_info.cost, or stored before 0002)
    duration_ms: int | None = None  # the run's wall time; None for rows stored before 0002
    forked: bool = False  # copied by a fork: repeats a run of the source session
    turn: Turn | None = None

    def to_dict(self, *, include_turn: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "index": self.index,
            "session_id": self.session_id,
            "turn_id": self.turn_id,
            "inference_id": self.inference_id,
            "phase": self.phase,
            "outcome": self.outcome,
            "parent_seq": self.parent_seq,
            "created_at_ms": self.created_at_ms,
            "provider": self.provider,
            "model": self.model,
            "stop_reason": self.stop_reason,
            "finish_class": self.finish_class,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "usage": self.usage,
            "error": self.error,
            "block_count": self.block_count,
            "profile": self.profile,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
            "duration_ms": self.duration_ms,
            "forked": self.forked,
        }
        if include_turn and self.turn is not None:
            out["turn"] = turn_to_dict(self.turn)
        return out
