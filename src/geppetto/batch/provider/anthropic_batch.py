"""Anthropic Message Batches (``/v1/messages/batches``): create, poll, read the results JSONL.

Shapes from Anthropic's Message Batches API reference as typed by the ``anthropic`` SDK: a
request is ``{custom_id, params}`` where ``params`` is a Messages body without ``stream``;
custom ids must match ``^[a-zA-Z0-9_-]{1,64}$`` (which is why items get generated ones); the
batch has ``processing_status`` (``in_progress``, ``canceling``, ``ended``), ``request_counts``
(processing, succeeded, errored, canceled, expired) and, once ended, ``results_url``; each
results line is ``{custom_id, result: {type: succeeded, message} | {type: errored, error} |
{type: canceled} | {type: expired}}``, in any order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from geppetto.batch.provider.base import BatchStatus, RawResult, batch_error, sdk_client, sdk_error
from geppetto.batch.provider.decode import claude_message_feed, replay_turn
from geppetto.engines.providers.base import ProviderEngine
from geppetto.engines.providers.errors import make_error
from geppetto.errors import ProviderError
from geppetto.turns.model import Turn

# The API's limits per batch: 100,000 requests, 256 MB (kept under, for the envelope guess).
MAX_REQUESTS = 100_000
MAX_BYTES = 240_000_000


class AnthropicBatchBackend:
    """Batches of Messages requests."""

    max_requests = MAX_REQUESTS
    max_bytes = MAX_BYTES

    def __init__(self, engine: ProviderEngine) -> None:
        self.engine = engine
        self.provider = engine.config.provider

    def _error(self, exc: BaseException) -> ProviderError:
        return sdk_error(self.engine, exc)

    async def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str:
        payload = [{"custom_id": custom_id, "params": body} for custom_id, body in requests]
        try:
            batch = await sdk_client(self.engine).messages.batches.create(requests=payload)
        except Exception as exc:
            raise self._error(exc) from None
        return str(batch.id)

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await sdk_client(self.engine).messages.batches.retrieve(batch_id)
        except Exception as exc:
            raise self._error(exc) from None
        counts = batch.request_counts
        failed = int(counts.errored) + int(counts.canceled) + int(counts.expired)
        status = BatchStatus(
            provider=self.provider,
            batch_id=batch_id,
            status=str(batch.processing_status),
            ended=batch.processing_status == "ended",
            total=int(counts.processing) + int(counts.succeeded) + failed,
            succeeded=int(counts.succeeded),
            failed=failed,
        )
        if batch.results_url:
            status.files["results"] = str(batch.results_url)
        return status

    async def results(self, status: BatchStatus) -> AsyncIterator[RawResult]:
        try:
            decoder = await sdk_client(self.engine).messages.batches.results(status.batch_id)
            async for entry in decoder:
                yield self._entry(entry.to_dict(mode="json"))
        except ProviderError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def _entry(self, entry: dict[str, Any]) -> RawResult:
        custom_id = str(entry.get("custom_id") or "")
        result = entry.get("result") or {}
        kind = result.get("type")
        message = result.get("message")
        if kind == "succeeded" and isinstance(message, dict):
            return custom_id, message, ""
        if kind == "errored":
            error = result.get("error") or {}
            request_id = str(error.get("request_id") or "") if isinstance(error, dict) else ""
            secrets = self.engine.config.secrets
            failure = batch_error(self.provider, error, secrets=secrets, request_id=request_id)
            return custom_id, failure, request_id
        what = f"the request was {kind} before it ran" if kind else "the batch returned no result"
        return custom_id, make_error(self.provider, what, hint="submit it again"), ""

    async def cancel(self, batch_id: str) -> None:
        try:
            await sdk_client(self.engine).messages.batches.cancel(batch_id)
        except Exception as exc:
            raise self._error(exc) from None

    def turn_for(self, turn: Turn, body: dict[str, Any], request_id: str) -> Turn:
        return replay_turn(self.engine, turn, claude_message_feed(self.engine, body), request_id)
