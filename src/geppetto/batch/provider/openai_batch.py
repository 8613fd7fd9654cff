"""OpenAI ``/v1/batches``: upload a JSONL file, create the batch, poll it, read its files.

Shapes from the OpenAI API reference (Batch and Files objects; the batch guide's input and
output line formats) as typed by the ``openai`` SDK: an input line is ``{custom_id, method,
url, body}``; an output or error line is ``{id, custom_id, response: {status_code,
request_id, body} | null, error: {code, message} | null}``. Results may come in any order, and
successful and failed requests land in two different files. A batch that failed validation
has ``errors.data``; one that expired or was cancelled still delivers what finished.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from geppetto.batch.provider.base import BatchStatus, RawResult, batch_error, sdk_client, sdk_error
from geppetto.batch.provider.decode import chat_completion_feed, replay_turn, responses_feed
from geppetto.engines.providers.base import ProviderEngine
from geppetto.engines.providers.errors import make_error, provider_message, status_hint
from geppetto.engines.providers.transport import openai_request_headers
from geppetto.errors import ProviderError
from geppetto.turns.model import Turn

_ENDED = ("completed", "failed", "expired", "cancelled")
# The API's limits per input file: 50,000 requests, 200 MB (kept under, for the envelope guess).
MAX_REQUESTS = 50_000
MAX_BYTES = 190_000_000


class OpenAIBatchBackend:
    """Batches of Chat Completions or Responses requests, per the engine's API."""

    max_requests = MAX_REQUESTS
    max_bytes = MAX_BYTES

    def __init__(self, engine: ProviderEngine) -> None:
        from geppetto.engines.providers.openai_responses import OpenAIResponsesEngine

        self.engine = engine
        self.provider = engine.config.provider
        self.responses = isinstance(engine, OpenAIResponsesEngine)
        self.endpoint = "/v1/responses" if self.responses else "/v1/chat/completions"
        self._headers = openai_request_headers(engine.config)

    def _error(self, exc: BaseException) -> ProviderError:
        return sdk_error(self.engine, exc)

    async def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str:
        lines = b"".join(
            orjson.dumps({"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body})
            + b"\n"
            for custom_id, body in requests
        )
        sdk = sdk_client(self.engine)
        try:
            uploaded = await sdk.files.create(
                file=("geppetto-batch.jsonl", lines, "application/jsonl"),
                purpose="batch",
                extra_headers=self._headers,
            )
            batch = await sdk.batches.create(
                input_file_id=uploaded.id,
                endpoint=self.endpoint,
                completion_window="24h",
                metadata={"created_by": "geppetto"},
                extra_headers=self._headers,
            )
        except Exception as exc:
            raise self._error(exc) from None
        return str(batch.id)

    async def status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await sdk_client(self.engine).batches.retrieve(batch_id, extra_headers=self._headers)
        except Exception as exc:
            raise self._error(exc) from None
        counts = batch.request_counts
        status = BatchStatus(
            provider=self.provider,
            batch_id=batch_id,
            status=str(batch.status),
            ended=batch.status in _ENDED,
            total=int(counts.total) if counts else 0,
            succeeded=int(counts.completed) if counts else 0,
            failed=int(counts.failed) if counts else 0,
        )
        for name, file_id in (("output", batch.output_file_id), ("errors", batch.error_file_id)):
            if file_id:
                status.files[name] = str(file_id)
        if batch.status == "failed":
            errors = batch.errors.data if batch.errors and batch.errors.data else []
            details = [str(error.message or error.code or "") for error in errors]
            status.error = "; ".join(filter(None, details)) or "the batch failed validation"
        elif batch.status in ("expired", "cancelled"):
            status.error = f"the batch {batch.status} before this request ran"
        return status

    async def results(self, status: BatchStatus) -> AsyncIterator[RawResult]:
        sdk = sdk_client(self.engine)
        for name in ("output", "errors"):
            file_id = status.files.get(name)
            if not file_id:
                continue
            try:
                content = await sdk.files.content(file_id, extra_headers=self._headers)
            except Exception as exc:
                raise self._error(exc) from None
            for line in content.content.splitlines():
                if line.strip():
                    yield self._line(orjson.loads(line))

    def _line(self, line: dict[str, Any]) -> RawResult:
        custom_id = str(line.get("custom_id") or "")
        response = line.get("response") or {}
        request_id = str(response.get("request_id") or "")
        error = line.get("error")
        status = response.get("status_code")
        body = response.get("body")
        if not error and status == 200 and isinstance(body, dict):
            return custom_id, body, request_id
        if error:
            failure = batch_error(
                self.provider, {"error": error}, secrets=self.engine.config.secrets, request_id=request_id
            )
            return custom_id, failure, request_id
        message = provider_message(body, "the request failed")
        code = int(status) if isinstance(status, int) else None
        failure = make_error(
            self.provider,
            f"HTTP {code}: {message}",
            hint=status_hint(code, self.engine.config.spec),
            status=code,
            request_id=request_id or None,
            secrets=self.engine.config.secrets,
        )
        return custom_id, failure, request_id

    async def cancel(self, batch_id: str) -> None:
        try:
            await sdk_client(self.engine).batches.cancel(batch_id, extra_headers=self._headers)
        except Exception as exc:
            raise self._error(exc) from None

    def turn_for(self, turn: Turn, body: dict[str, Any], request_id: str) -> Turn:
        engine = self.engine
        feed = responses_feed(engine, body) if self.responses else chat_completion_feed(engine, body)
        return replay_turn(self.engine, turn, feed, request_id)
