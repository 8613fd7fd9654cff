"""Gemini's ``models/{model}:batchEmbedContents`` over its REST API (the google-genai SDK's endpoint).

Called with aiohttp like the other providers, so batching, retries, the response limit and the
loopback tests are shared; at most 100 texts per request (the API's limit).
``outputDimensionality`` is sent when ``dimensions`` is configured.
"""

from __future__ import annotations

from typing import Any

from geppetto.embeddings.batching import BatchingEmbedder
from geppetto.embeddings.transport import JsonClient
from geppetto.embeddings.types import EmbeddingResponseError
from geppetto.settings.apitypes import GEMINI_BASE_URL


class GeminiEmbedder(BatchingEmbedder):
    provider = "gemini"
    batch_size = 100
    batch_chars = 1_000_000

    def __init__(
        self,
        name: str,
        *,
        client: JsonClient,
        base_url: str = GEMINI_BASE_URL,
        dimensions: int = 0,
        explicit_dimensions: bool = False,
    ) -> None:
        super().__init__(name, dimensions, check_dimensions=explicit_dimensions)
        self.client = client
        model = name if name.startswith("models/") else f"models/{name}"
        self.model_path = model
        self.url = f"{base_url.rstrip('/')}/v1beta/{model}:batchEmbedContents"
        self.send_dimensions = explicit_dimensions and dimensions > 0

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _embed_batch(self, texts: list[str]) -> Any:
        requests: list[dict[str, Any]] = []
        for text in texts:
            request: dict[str, Any] = {"model": self.model_path, "content": {"parts": [{"text": text}]}}
            if self.send_dimensions:
                request["outputDimensionality"] = self.dimensions
            requests.append(request)
        body, _ = await self.client.post_json(self.url, {"requests": requests})
        items = body.get("embeddings") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise EmbeddingResponseError("gemini answer has no embeddings list")
        return [item.get("values") for item in items]
