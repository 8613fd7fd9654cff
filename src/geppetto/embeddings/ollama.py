"""Ollama's native ``/api/embed`` (batched ``input``; the older one-text ``/api/embeddings`` is not used)."""

from __future__ import annotations

from typing import Any

from geppetto.embeddings.batching import BatchingEmbedder
from geppetto.embeddings.transport import JsonClient
from geppetto.embeddings.types import EmbeddingResponseError
from geppetto.settings.apitypes import OLLAMA_BASE_URL


class OllamaEmbedder(BatchingEmbedder):
    provider = "ollama"
    batch_size = 512
    batch_chars = 2_000_000
    concurrency = 2  # one local server; more requests only queue

    def __init__(
        self, name: str, *, client: JsonClient, base_url: str = OLLAMA_BASE_URL, dimensions: int
    ) -> None:
        super().__init__(name, dimensions, check_dimensions=dimensions > 0)
        self.client = client
        self.url = base_url.rstrip("/") + "/api/embed"

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _embed_batch(self, texts: list[str]) -> Any:
        body, _ = await self.client.post_json(self.url, {"model": self.name, "input": texts})
        vectors = body.get("embeddings") if isinstance(body, dict) else None
        if not isinstance(vectors, list):
            raise EmbeddingResponseError("ollama answer has no embeddings list")
        return vectors
