"""Checking a rerank request and mapping a provider's raw results (the reference's rules)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from geppetto.rerank.types import (
    Document,
    RerankInvalidRequest,
    RerankInvalidResponse,
    RerankModel,
    RerankRequest,
    RerankResult,
)


def validate_request(request: RerankRequest, model: RerankModel) -> None:
    if not request.query.strip():
        raise RerankInvalidRequest("rerank query is required")
    if not request.documents:
        raise RerankInvalidRequest("rerank request requires at least one document")
    if request.top_n < 1:
        raise RerankInvalidRequest("rerank top_n must be >= 1")
    if request.top_n > len(request.documents):
        raise RerankInvalidRequest(
            f"rerank top_n ({request.top_n}) must be <= number of documents ({len(request.documents)})"
        )
    seen: set[str] = set()
    for index, doc in enumerate(request.documents):
        if not doc.id.strip():
            raise RerankInvalidRequest(f"rerank document {index} requires a non-empty id")
        if not doc.text.strip():
            raise RerankInvalidRequest(f"rerank document {index} requires non-empty text")
        if doc.id in seen:
            raise RerankInvalidRequest("rerank documents contain a duplicate id")
        seen.add(doc.id)
    if request.model and model.name and request.model != model.name:
        raise RerankInvalidRequest(
            f"rerank request model {request.model!r} does not match provider model {model.name!r}"
        )


def effective_model(request: RerankRequest, model: RerankModel) -> str:
    return request.model or model.name


def map_results(documents: Sequence[Document], top_n: int, raw: Any) -> list[RerankResult]:
    """Validate ``raw`` (``[{index, relevance_score}, ...]``), sort by score (then index, then id)
    and rank from 1."""
    if not isinstance(raw, list):
        raise RerankInvalidResponse("rerank response has no results list")
    if len(raw) != top_n:
        raise RerankInvalidResponse(f"rerank response returned {len(raw)} results, expected {top_n}")
    seen: set[int] = set()
    results: list[RerankResult] = []
    for position, item in enumerate(raw):
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get("relevance_score") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool):
            raise RerankInvalidResponse(f"rerank response result {position} is missing index")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise RerankInvalidResponse(
                f"rerank response result {position} (index {index}) is missing relevance_score"
            )
        if index < 0 or index >= len(documents):
            raise RerankInvalidResponse(f"rerank response index {index} is outside the submitted documents")
        if index in seen:
            raise RerankInvalidResponse(f"rerank response index {index} appears more than once")
        if not math.isfinite(score):
            raise RerankInvalidResponse(f"rerank response index {index} has non-finite relevance score")
        seen.add(index)
        results.append(RerankResult(documents[index].id, index, float(score)))
    results.sort(key=lambda r: (-r.score, r.index, r.document_id))
    return [RerankResult(r.document_id, r.index, r.score, rank) for rank, r in enumerate(results, start=1)]
