"""What every embedder is: the protocol, the model identity and the typed errors.

Errors never quote a provider's response body or a key: a status code, the provider and what to
change is all they carry (the body may echo secrets or user text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from geppetto.errors import ConfigError, GeppettoError, ProviderError


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    """Who embeds: provider (``openai``, ``ollama``, ``gemini``, ``local``), model name and the
    vector size (``0`` when the provider decides and nothing was configured)."""

    provider: str
    name: str
    dimensions: int

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "name": self.name, "dimensions": self.dimensions}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors, one per text, in order."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def model(self) -> EmbeddingModel: ...

    async def aclose(self) -> None: ...


class EmbeddingError(GeppettoError):
    """An embedding request could not be answered (base class of the typed errors below)."""

    code = "embedding_error"


class EmbeddingConfigError(ConfigError):
    """The ``embeddings`` settings are missing something or hold a bad value (the message names the key)."""

    code = "embedding_config_error"


class EmbeddingProviderError(ProviderError):
    """The provider refused or failed (HTTP status, connection); ``retryable`` says whether the
    retry policy may try again."""

    code = "embedding_provider_error"


class EmbeddingResponseError(EmbeddingError):
    """The provider answered with something unusable: wrong vector count, NaN, wrong size, bad JSON."""

    code = "embedding_response_error"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list; a non-string is a ``TypeError`` naming its index."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts, not one string")
    out = list(texts)
    if not out or set(map(type, out)) == {str}:
        return out
    for index, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"text {index} must be a string, got {type(text).__name__}")
    return out
