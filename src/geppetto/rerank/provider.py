"""The ``/v1/rerank`` providers: llama.cpp (the reference's, decoded strictly) and Cohere/Jina.

All three take ``{model, query, documents: [text], top_n}``. llama.cpp answers with ``model``,
``object``, ``usage`` and ``results[{index, relevance_score}]`` and nothing else (an unknown key
or trailing data is an invalid response, as in the reference); Cohere and Jina add their own
fields (``id``, ``meta``, an echoed ``document``), which are ignored. Requests larger than
``max_request_bytes`` are refused before sending, answers larger than ``max_response_bytes`` are
not read, redirects are not followed, and an upstream error body never reaches an error message.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from geppetto.embeddings.transport import HttpFailure, JsonClient
from geppetto.rerank.types import (
    RerankInvalidRequest,
    RerankInvalidResponse,
    RerankModel,
    RerankRequest,
    RerankRequestTooLarge,
    RerankResponse,
    RerankResponseTooLarge,
    RerankUnavailable,
    RerankUsage,
)
from geppetto.rerank.validate import effective_model, map_results, validate_request

DEFAULT_MAX_REQUEST_BYTES = 2 << 20
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
PROVIDER_NAMES = {"llamacpp": "llama.cpp", "cohere": "cohere", "jina": "jina"}
_LLAMACPP_KEYS = frozenset({"model", "object", "usage", "results"})
_LLAMACPP_ITEM_KEYS = frozenset({"index", "relevance_score"})
_LLAMACPP_USAGE_KEYS = frozenset({"prompt_tokens", "total_tokens"})


class HTTPReranker:
    """One rerank endpoint; ``rerank()`` is safe to call concurrently."""

    def __init__(
        self,
        kind: str,
        *,
        endpoint: str,
        model: str,
        client: JsonClient,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        cost_per_million_tokens: float | None = None,
    ) -> None:
        if kind not in PROVIDER_NAMES:
            raise RerankInvalidRequest(f"unsupported rerank provider type {kind!r}")
        if not model.strip():
            raise RerankInvalidRequest(f"{kind} model is required")
        if max_request_bytes < 1 or client.max_response_bytes < 1:
            raise RerankInvalidRequest(f"{kind} max_request_bytes and max_response_bytes must be positive")
        self.kind = kind
        self.endpoint = endpoint
        self.name = model.strip()
        self.client = client
        self.max_request_bytes = max_request_bytes
        self.cost_per_million_tokens = cost_per_million_tokens

    def model(self) -> RerankModel:
        return RerankModel(PROVIDER_NAMES[self.kind], self.name)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def rerank(self, request: RerankRequest) -> RerankResponse:
        started = time.monotonic()
        validate_request(request, self.model())
        model = effective_model(request, self.model())
        payload = {
            "model": model,
            "query": request.query,
            "documents": [doc.text for doc in request.documents],
            "top_n": request.top_n,
        }
        size = len(orjson.dumps(payload))
        if size > self.max_request_bytes:
            raise RerankRequestTooLarge(
                f"{self.kind} encoded request is {size} bytes, limit is {self.max_request_bytes}"
            )
        try:
            body, headers = await self.client.post_json(self.endpoint, payload)
        except HttpFailure as failure:
            if failure.too_large:
                raise RerankResponseTooLarge(
                    f"{self.kind} response body exceeds {self.client.max_response_bytes} bytes"
                ) from None
            if failure.status == 200:
                raise RerankInvalidResponse(f"{self.kind} decode response: invalid JSON response") from None
            if failure.status is not None:
                raise RerankUnavailable(
                    f"{self.kind} endpoint returned status {failure.status}", status=failure.status
                ) from None
            raise RerankUnavailable(f"{self.kind} provider transport failed") from None
        if not isinstance(body, dict):
            raise RerankInvalidResponse(f"{self.kind} decode response: the answer is not an object")
        if self.kind == "llamacpp":
            _check_llamacpp_keys(body)
        results = map_results(request.documents, request.top_n, body.get("results"))
        answered = body.get("model")
        if self.kind == "llamacpp" and answered and answered != model:
            raise RerankInvalidResponse(
                f"llamacpp response model {answered!r} does not match effective model {model!r}"
            )
        usage = _usage(body.get("usage"))
        return RerankResponse(
            provider=PROVIDER_NAMES[self.kind],
            model=model,
            results=results,
            usage=usage,
            cost=self._cost(usage),
            request_id=_header(headers, "x-request-id")
            or (body.get("id") if isinstance(body.get("id"), str) else "")
            or "",
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    def _cost(self, usage: RerankUsage | None) -> float | None:
        if usage is None or self.cost_per_million_tokens is None:
            return None
        tokens = usage.input_tokens or usage.total_tokens
        return self.cost_per_million_tokens * tokens / 1_000_000


def _header(headers: Any, name: str) -> str:
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return ""


def _check_llamacpp_keys(body: dict[str, Any]) -> None:
    unknown = set(body) - _LLAMACPP_KEYS
    usage = body.get("usage")
    if isinstance(usage, dict):
        unknown |= set(usage) - _LLAMACPP_USAGE_KEYS
    for item in body.get("results") or []:
        if isinstance(item, dict):
            unknown |= set(item) - _LLAMACPP_ITEM_KEYS
    if unknown:
        raise RerankInvalidResponse("llamacpp decode response: invalid JSON response (unknown fields)")


def _usage(raw: Any) -> RerankUsage | None:
    if not isinstance(raw, dict):
        return None
    prompt = raw.get("prompt_tokens", raw.get("input_tokens", 0))
    total = raw.get("total_tokens", 0)
    prompt = prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else 0
    total = total if isinstance(total, int) and not isinstance(total, bool) else 0
    return RerankUsage(input_tokens=prompt, total_tokens=total)
