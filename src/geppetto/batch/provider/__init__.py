"""Provider batch APIs (``geppetto batch --provider-batch``): OpenAI ``/v1/batches`` and
Anthropic message batches.

They trade latency (results within 24 hours) for half the price and separate rate limits.
Requests are built by the engines' own request builders and results are turned back into
turns by the engines' own stream parsers, so a batch item's turn is the same as an interactive
run's. No tool loop runs inside a provider batch: a reply asking for tools ends its item with
the ``tool_calls_pending`` finish class.
"""

from __future__ import annotations

from geppetto.batch.provider.base import (
    BatchStatus,
    ProviderBatchOutcome,
    ProviderBatchProgress,
    ProviderBatchRequest,
    backend_for,
)
from geppetto.batch.provider.plan import arun_plan, run_plan
from geppetto.batch.provider.runner import run_provider_batch

__all__ = [
    "BatchStatus",
    "ProviderBatchOutcome",
    "ProviderBatchProgress",
    "ProviderBatchRequest",
    "arun_plan",
    "backend_for",
    "run_plan",
    "run_provider_batch",
]
