"""Rerank requests, results and typed errors (the reference's ``pkg/rerank`` model).

Each error's message ends with its kind (``...: invalid rerank request``) like the reference's
wrapped sentinels. None of them ever carries a provider's response body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geppetto.errors import ConfigError, GeppettoError


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class RerankRequest:
    query: str
    documents: tuple[Document, ...]
    top_n: int
    model: str = ""


@dataclass(frozen=True, slots=True)
class RerankResult:
    document_id: str
    index: int
    score: float
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"document_id": self.document_id, "index": self.index, "score": self.score, "rank": self.rank}


@dataclass(frozen=True, slots=True)
class RerankUsage:
    input_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class RerankModel:
    provider: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "name": self.name}


@dataclass(frozen=True, slots=True)
class RerankResponse:
    provider: str
    model: str
    results: list[RerankResult] = field(default_factory=list)
    usage: RerankUsage | None = None
    cost: float | None = None
    request_id: str = ""
    duration_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The reference's JSON (snake_case; optional parts left out when absent)."""
        out: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "results": [r.to_dict() for r in self.results],
        }
        if self.usage is not None:
            out["usage"] = {"input_tokens": self.usage.input_tokens, "total_tokens": self.usage.total_tokens}
        if self.cost is not None:
            out["cost"] = self.cost
        if self.request_id:
            out["request_id"] = self.request_id
        if self.duration_ms is not None:
            out["duration_ms"] = self.duration_ms
        return out


class RerankError(GeppettoError):
    code = "rerank_error"
    kind = "rerank failed"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}: {self.kind}")
        self.detail = detail


class RerankInvalidRequest(RerankError, ValueError):
    code = "rerank_invalid_request"
    kind = "invalid rerank request"


class RerankRequestTooLarge(RerankError):
    code = "rerank_request_too_large"
    kind = "rerank request too large"


class RerankInvalidResponse(RerankError):
    code = "rerank_invalid_response"
    kind = "invalid rerank response"


class RerankResponseTooLarge(RerankError):
    code = "rerank_response_too_large"
    kind = "rerank response too large"


class RerankUnavailable(RerankError):
    code = "rerank_unavailable"
    kind = "rerank provider unavailable"

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.status = status


class RerankConfigError(ConfigError):
    """The ``rerank`` settings are missing something (the message names the key)."""

    code = "rerank_config_error"
