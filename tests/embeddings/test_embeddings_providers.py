"""Providers against the loopback server: request shapes, batching, ordering, retries, typed errors."""

from __future__ import annotations

import math

import pytest

from geppetto.embeddings.gemini import GeminiEmbedder
from geppetto.embeddings.ollama import OllamaEmbedder
from geppetto.embeddings.openai import OpenAIEmbedder
from geppetto.embeddings.transport import JsonClient
from geppetto.embeddings.types import EmbeddingProviderError, EmbeddingResponseError

from .loopback import SECRET_BODY, Loopback, vector_for

TEXTS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def openai(server: Loopback, **kw: object) -> OpenAIEmbedder:
    client = JsonClient(headers={"Authorization": "Bearer sk-test"}, max_retries=2)
    return OpenAIEmbedder(
        "text-embedding-3-small",
        client=client,
        base_url=server.url + "/v1",
        dimensions=4,
        explicit_dimensions=True,
        **kw,  # type: ignore[arg-type]
    )


async def test_openai_batches_keep_input_order(server: Loopback) -> None:
    embedder = openai(server)
    embedder.batch_size = 2
    vectors = await embedder.embed(TEXTS)
    await embedder.aclose()
    assert vectors == [vector_for(t) for t in TEXTS]
    assert [r["input"] for r in server.requests] == [TEXTS[0:2], TEXTS[2:4], TEXTS[4:]]
    first = server.requests[0]
    assert first["model"] == "text-embedding-3-small" and first["dimensions"] == 4
    assert first["encoding_format"] == "float"
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert embedder.model().to_dict() == {
        "provider": "openai",
        "name": "text-embedding-3-small",
        "dimensions": 4,
    }


async def test_batches_are_also_cut_by_characters(server: Loopback) -> None:
    embedder = openai(server)
    embedder.batch_chars = 10
    await embedder.embed(["aaaaaa", "bbbbbb", "cc", "dddddddddddddddd"])
    await embedder.aclose()
    assert [len(r["input"]) for r in server.requests] == [1, 2, 1]


async def test_empty_input_sends_nothing(server: Loopback) -> None:
    embedder = openai(server)
    assert await embedder.embed([]) == []
    assert server.requests == []
    with pytest.raises(TypeError, match="text 1 must be a string"):
        await embedder.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one string"):
        await embedder.embed("one")


async def test_ollama_native_embed(server: Loopback) -> None:
    embedder = OllamaEmbedder("all-minilm", client=JsonClient(), base_url=server.url, dimensions=4)
    assert await embedder.embed(TEXTS[:3]) == [vector_for(t) for t in TEXTS[:3]]
    assert server.paths == ["/api/embed"] and server.requests[0] == {
        "model": "all-minilm",
        "input": TEXTS[:3],
    }
    wrong = OllamaEmbedder("all-minilm", client=JsonClient(), base_url=server.url, dimensions=768)
    with pytest.raises(EmbeddingResponseError, match="4-dimensional vector for text 0, expected 768"):
        await wrong.embed(["x"])
    await embedder.aclose()
    await wrong.aclose()


async def test_gemini_batch_embed_contents(server: Loopback) -> None:
    client = JsonClient(headers={"x-goog-api-key": "g-key"})
    embedder = GeminiEmbedder(
        "gemini-embedding-001", client=client, base_url=server.url, dimensions=8, explicit_dimensions=True
    )
    assert await embedder.embed(["a", "b"]) == [vector_for("a", 8), vector_for("b", 8)]
    await embedder.aclose()
    assert server.paths == ["/v1beta/models/gemini-embedding-001:batchEmbedContents"]
    request = server.requests[0]["requests"][1]
    assert request == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "b"}]},
        "outputDimensionality": 8,
    }
    assert server.headers[0]["x-goog-api-key"] == "g-key"


@pytest.mark.parametrize("fault", ["429", "500", "503", "truncated"])
async def test_transient_failures_are_retried(server: Loopback, fault: str) -> None:
    server.faults = [fault, fault]
    embedder = openai(server)
    assert await embedder.embed(["one", "two"]) == [vector_for("one"), vector_for("two")]
    await embedder.aclose()
    assert len(server.requests) == 3


async def test_retries_spent_end_in_a_typed_error_without_the_body(server: Loopback) -> None:
    server.faults = ["503", "503", "503"]
    embedder = openai(server)
    with pytest.raises(EmbeddingProviderError) as info:
        await embedder.embed(["one"])
    await embedder.aclose()
    assert info.value.status == 503 and info.value.retryable
    assert SECRET_BODY not in str(info.value) and "HTTP 503" in str(info.value)
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried(server: Loopback) -> None:
    server.faults = ["401"]
    embedder = openai(server)
    with pytest.raises(EmbeddingProviderError, match="check the API key") as info:
        await embedder.embed(["one"])
    await embedder.aclose()
    assert info.value.status == 401 and not info.value.retryable
    assert len(server.requests) == 1


async def test_wrong_vector_count_is_a_typed_error(server: Loopback) -> None:
    server.faults = ["wrong_count"]
    embedder = openai(server)
    with pytest.raises(EmbeddingResponseError, match="returned 1 vectors for 2 texts"):
        await embedder.embed(["one", "two"])
    await embedder.aclose()


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_nan_in_a_vector_is_a_typed_error(server: Loopback, kind: str) -> None:
    server.faults = ["nan"]
    if kind == "openai":
        embedder: OpenAIEmbedder | OllamaEmbedder = openai(server)
    else:
        embedder = OllamaEmbedder("m", client=JsonClient(), base_url=server.url, dimensions=4)
    with pytest.raises(EmbeddingResponseError, match="NaN or infinity"):
        await embedder.embed(["one", "two"])
    await embedder.aclose()


async def test_oversized_response_is_refused(server: Loopback) -> None:
    server.faults = ["huge"]
    client = JsonClient(max_response_bytes=1 << 20)
    embedder = OpenAIEmbedder("m", client=client, base_url=server.url + "/v1")
    with pytest.raises(EmbeddingProviderError, match="exceeds 1048576 bytes"):
        await embedder.embed(["one"])
    await embedder.aclose()
    assert len(server.requests) == 1


async def test_concurrency_is_bounded_and_a_failure_cancels_the_rest(server: Loopback) -> None:
    embedder = openai(server)
    embedder.batch_size = 1
    embedder.concurrency = 2
    vectors = await embedder.embed([str(i) for i in range(20)])
    assert all(len(v) == 4 and all(math.isfinite(x) for x in v) for v in vectors)
    assert len(server.requests) == 20
    server.faults = ["400"]
    with pytest.raises(EmbeddingProviderError):
        await embedder.embed([str(i) for i in range(6)])
    await embedder.aclose()


def _no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


async def test_proxy_variables_route_embedding_requests(
    server: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY sends the request through the proxy (the loopback server plays it): the API
    host itself is never resolved or connected to."""
    _no_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    client = JsonClient(headers={"Authorization": "Bearer sk-test"}, max_retries=0)
    try:
        body, _ = await client.post_json(
            "http://api.example.invalid/v1/embeddings", {"model": "m", "input": ["a"]}
        )
    finally:
        await client.aclose()
    assert body["data"][0]["embedding"] == vector_for("a")
    assert server.headers[-1]["Host"] == "api.example.invalid"


async def test_no_proxy_sends_embedding_requests_directly(
    server: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    embedder = openai(server)
    vectors = await embedder.embed(["a"])
    await embedder.aclose()
    assert vectors == [vector_for("a")]
