"""From a turn to the rows that store it, and back.

Blocks are content-addressed: the key is the SHA-256 of the block's canonical JSON (sorted keys,
id included), so a block that a turn shares with its forks or with the previous turn of its
session is stored once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

from geppetto.turns.keys import RunMetaKeys, TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn
from geppetto.turns.serde import block_from_dict, block_to_dict

_TITLE_LENGTH = 80


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class EncodedBlock:
    hash: str
    kind: str
    body: bytes


def encode_block(block: Block) -> EncodedBlock:
    """The hash covers the canonical (key-sorted) JSON; the body keeps the block's own key order."""
    mapping = block_to_dict(block)
    canonical = orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS)
    return EncodedBlock(hashlib.sha256(canonical).hexdigest(), block.kind.value, orjson.dumps(mapping))


def decode_block(body: bytes | str) -> Block:
    return block_from_dict(orjson.loads(body))


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads_mapping(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = orjson.loads(text)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class TurnFacts:
    """The queryable columns of a turn row, read from its metadata.

    ``usage`` is the run's total (``geppetto.run_usage@v1``, every model call of a tool loop)
    when the session recorded one, else the last call's; the cache columns split it the way
    :mod:`geppetto.cost` prices it."""

    inference_id: str
    provider: str
    model: str
    stop_reason: str
    finish_class: str
    usage: dict[str, Any] | None
    profile: str = ""
    cost_usd: float | None = None
    duration_ms: int | None = None

    @property
    def cache_read_tokens(self) -> int | None:
        if not self.usage:
            return None
        return (_int(self.usage.get("cached_tokens")) or 0) + (
            _int(self.usage.get("cache_read_input_tokens")) or 0
        )

    @property
    def cache_write_tokens(self) -> int | None:
        return (_int(self.usage.get("cache_creation_input_tokens")) or 0) if self.usage else None

    @property
    def input_tokens(self) -> int | None:
        return _int(self.usage.get("input_tokens")) if self.usage else None

    @property
    def output_tokens(self) -> int | None:
        return _int(self.usage.get("output_tokens")) if self.usage else None


def turn_facts(turn: Turn) -> TurnFacts:
    meta = turn.metadata
    raw_result = meta.get(TurnMetaKeys.INFERENCE_RESULT.id)
    result: dict[str, Any] = raw_result if isinstance(raw_result, dict) else {}
    usage = meta.get(RunMetaKeys.RUN_USAGE.id)
    if not isinstance(usage, dict):
        usage = result.get("usage")
    if not isinstance(usage, dict):
        usage = meta.get(TurnMetaKeys.USAGE.id)
    cost = meta.get(RunMetaKeys.COST_USD.id)
    return TurnFacts(
        inference_id=_str(meta.get(TurnMetaKeys.INFERENCE_ID.id)),
        provider=_str(result.get("provider")) or _str(meta.get(TurnMetaKeys.PROVIDER.id)),
        model=_str(result.get("model")) or _str(meta.get(TurnMetaKeys.MODEL.id)),
        stop_reason=_str(result.get("stop_reason")) or _str(meta.get(TurnMetaKeys.STOP_REASON.id)),
        finish_class=_str(result.get("finish_class")),
        usage=usage if isinstance(usage, dict) else None,
        profile=_str(meta.get(RunMetaKeys.PROFILE.id)),
        cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
        duration_ms=_int(meta.get(RunMetaKeys.DURATION_MS.id)),
    )


def session_title(turn: Turn) -> str:
    """The first user prompt, on one line and shortened: what a person recognises in a list."""
    for block in turn.blocks_of(BlockKind.USER):
        text = " ".join((block.text or "").split())
        if text:
            return text if len(text) <= _TITLE_LENGTH else text[: _TITLE_LENGTH - 1] + "…"
    return ""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
