"""What a run cost: token usage times the profile's ``model_info.cost`` (USD per million tokens).

The session prices every run whose profile declares a cost and records the total on the final
turn as ``geppetto.cost_usd@v1`` (:data:`COST_KEY`); :func:`turn_cost` reads it back, and the
store, ``geppetto usage``/``logs`` and any other consumer should use that instead of pricing
again. The run's summed usage is beside it (``geppetto.run_usage@v1``) and the last model
call's ``inference_result`` carries that call's own ``cost``, as the reference's does.

Providers count cached prompt tokens two ways, and the price follows each:

* ``cached_tokens`` (OpenAI, Gemini, llama.cpp, DeepSeek): a part of ``input_tokens`` that was read
  from the cache, billed at ``cache_read`` instead of ``input``;
* ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` (Anthropic): reported beside
  ``input_tokens``, not inside it, billed at ``cache_read`` and ``cache_write``.

A price left out of ``model_info.cost`` is zero: declare ``cache_read`` for models whose cached
reads are not free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geppetto.events.types import Usage
from geppetto.profiles.model_info import ModelCost, ModelInfo
from geppetto.turns.keys import RunMetaKeys
from geppetto.turns.model import Turn

COST_KEY = RunMetaKeys.COST_USD.id
_PER_TOKEN = 1_000_000


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One priced usage: the tokens of each bucket and what each bucket cost, in USD."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    input_usd: float
    output_usd: float
    cache_read_usd: float
    cache_write_usd: float

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.output_usd + self.cache_read_usd + self.cache_write_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "input_usd": self.input_usd,
            "output_usd": self.output_usd,
            "cache_read_usd": self.cache_read_usd,
            "cache_write_usd": self.cache_write_usd,
            "total_usd": self.total_usd,
        }


@dataclass(frozen=True, slots=True)
class TokenBuckets:
    """Usage split the way prices are: uncached input, output, cache reads, cache writes."""

    input: int
    output: int
    cache_read: int
    cache_write: int


def token_buckets(usage: Usage | Mapping[str, Any]) -> TokenBuckets:
    """Split a usage (the dataclass or its ``to_dict`` form) into priced buckets (see the module)."""
    raw = usage if isinstance(usage, Usage) else Usage.from_dict(dict(usage))
    cached = min(max(raw.cached_tokens, 0), max(raw.input_tokens, 0))
    return TokenBuckets(
        input=max(raw.input_tokens, 0) - cached,
        output=max(raw.output_tokens, 0),
        cache_read=cached + max(raw.cache_read_input_tokens, 0),
        cache_write=max(raw.cache_creation_input_tokens, 0),
    )


def price_usage(usage: Usage | Mapping[str, Any], cost: ModelCost) -> CostRecord:
    """``usage`` priced at ``cost`` (USD per million tokens per bucket)."""
    buckets = token_buckets(usage)
    return CostRecord(
        input_tokens=buckets.input,
        output_tokens=buckets.output,
        cache_read_tokens=buckets.cache_read,
        cache_write_tokens=buckets.cache_write,
        input_usd=buckets.input * cost.input / _PER_TOKEN,
        output_usd=buckets.output * cost.output / _PER_TOKEN,
        cache_read_usd=buckets.cache_read * cost.cache_read / _PER_TOKEN,
        cache_write_usd=buckets.cache_write * cost.cache_write / _PER_TOKEN,
    )


def usage_cost(usage: Usage | Mapping[str, Any] | None, model_info: ModelInfo | None) -> float | None:
    """The USD cost of ``usage``, or ``None`` when there is no usage or no declared price."""
    if usage is None or model_info is None or model_info.cost is None:
        return None
    return price_usage(usage, model_info.cost).total_usd


def turn_cost(turn: Turn) -> float | None:
    """What the run that produced ``turn`` cost in USD, as the session recorded it (``None``:
    not priced, because the profile declares no cost or the engine reported no usage)."""
    value = turn.metadata.get(COST_KEY)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def turn_run_usage(turn: Turn) -> dict[str, Any] | None:
    """The run's summed usage as the session recorded it (``geppetto.run_usage@v1``)."""
    value = turn.metadata.get(RunMetaKeys.RUN_USAGE.id)
    return value if isinstance(value, dict) else None
