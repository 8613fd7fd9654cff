"""OpenAI's ``/embeddings`` and every server that speaks it (vLLM, llama.cpp server, LM Studio, ...).

Plain aiohttp and orjson rather than the ``openai`` SDK: the SDK asks for base64 and parses the
answer through pydantic models, which costs more per vector than the request itself on a fast
local server (``python -m bench embed`` compares against raw aiohttp). Batches: at most 2048
inputs per request, OpenAI's limit. ``dimensions`` is sent to the text-embedding-3 family and to
non-OpenAI servers when configured.
"""

from __future__ import annotations

import operator
from typing import Any

from geppetto.embeddings.batching import BatchingEmbedder
from geppetto.embeddings.transport import JsonClient
from geppetto.embeddings.types import EmbeddingResponseError
from geppetto.settings.apitypes import OPENAI_BASE_URL

MAX_INPUTS = 2048


def sends_dimensions(model: str, base_url: str) -> bool:
    return model.startswith("text-embedding-3") or base_url.rstrip("/") != OPENAI_BASE_URL


class OpenAIEmbedder(BatchingEmbedder):
    provider = "openai"
    batch_size = MAX_INPUTS
    batch_chars = 600_000  # OpenAI allows 300k tokens per request; a token is rarely under 2 chars

    def __init__(
        self,
        name: str,
        *,
        client: JsonClient,
        base_url: str = OPENAI_BASE_URL,
        dimensions: int = 0,
        explicit_dimensions: bool = False,
    ) -> None:
        super().__init__(name, dimensions, check_dimensions=explicit_dimensions)
        self.client = client
        self.url = base_url.rstrip("/") + "/embeddings"
        self.send_dimensions = bool(dimensions) and explicit_dimensions and sends_dimensions(name, base_url)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _embed_batch(self, texts: list[str]) -> Any:
        payload: dict[str, Any] = {"model": self.name, "input": texts, "encoding_format": "float"}
        if self.send_dimensions:
            payload["dimensions"] = self.dimensions
        body, _ = await self.client.post_json(self.url, payload)
        return vectors_from_data(body, len(texts), self.provider)


_INDEX = operator.itemgetter("index")
_EMBEDDING = operator.itemgetter("embedding")
_COUNTING: dict[int, list[int]] = {}


def _counting(count: int) -> list[int]:
    """``[0, 1, ..., count - 1]`` (compared against, never changed), built once per batch size."""
    listed = _COUNTING.get(count)
    if listed is None:
        if len(_COUNTING) >= 64:
            _COUNTING.clear()
        listed = _COUNTING[count] = list(range(count))
    return listed


def vectors_from_data(body: Any, expected: int, provider: str) -> Any:
    """The ``data[].embedding`` lists in ``index`` order (an answer without indexes keeps its order)."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise EmbeddingResponseError(f"{provider} answer has no data list")
    if len(data) == expected and expected:
        try:  # the usual answer, in C-level passes: every entry has both keys, indexes in order
            if list(map(_INDEX, data)) == _counting(expected):
                return list(map(_EMBEDDING, data))
        except (KeyError, TypeError):
            pass  # the careful path below says what is wrong
    try:
        indexes = [item.get("index") for item in data]
    except AttributeError:
        raise EmbeddingResponseError(f"{provider} answer has a data entry that is not an object") from None
    if len(data) != expected:
        raise EmbeddingResponseError(f"{provider} returned {len(data)} vectors for {expected} texts")
    if indexes != list(range(expected)) and all(isinstance(i, int) for i in indexes):
        if sorted(indexes) != list(range(expected)):
            raise EmbeddingResponseError(f"{provider} answer has missing or repeated indexes")
        data = sorted(data, key=lambda item: item["index"])  # servers may answer out of order
    return [item.get("embedding") for item in data]
