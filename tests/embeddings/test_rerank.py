"""Rerank providers against the loopback server: request shape, sorting and ranks, limits, faults,
typed errors without upstream bodies, and the profile's rerank section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from geppetto.embeddings.transport import JsonClient
from geppetto.profiles import InferenceSettings, load_registries
from geppetto.rerank.factory import rerank_section, reranker_from_settings
from geppetto.rerank.provider import HTTPReranker
from geppetto.rerank.types import (
    Document,
    RerankConfigError,
    RerankInvalidRequest,
    RerankInvalidResponse,
    RerankRequest,
    RerankRequestTooLarge,
    RerankResponseTooLarge,
    RerankUnavailable,
)

from .loopback import SECRET_BODY, Loopback, fixture

DOCS = (
    Document("a", "bananas are yellow"),
    Document("b", "the sky is blue and the sea is blue"),
    Document("c", "blue whales live in the sea"),
)


def reranker(server: Loopback, kind: str = "llamacpp", **kw: Any) -> HTTPReranker:
    server.rerank_shape = fixture(
        {"llamacpp": "llamacpp_rerank.json", "cohere": "cohere_rerank.json"}.get(kind, "jina_rerank.json")
    )
    client = JsonClient(
        max_retries=1, follow_redirects=False, max_response_bytes=kw.pop("max_response_bytes", 1 << 20)
    )
    return HTTPReranker(kind, endpoint=server.url + "/v1/rerank", model="bge", client=client, **kw)


@pytest.mark.parametrize("kind", ["llamacpp", "cohere", "jina"])
async def test_results_are_sorted_and_ranked_from_one(server: Loopback, kind: str) -> None:
    rr = reranker(server, kind, cost_per_million_tokens=2.0)
    response = await rr.rerank(RerankRequest("blue sea", DOCS, top_n=2))
    await rr.aclose()
    assert server.requests[0] == {
        "model": "bge",
        "query": "blue sea",
        "documents": [d.text for d in DOCS],
        "top_n": 2,
    }
    assert [(r.document_id, r.index, r.rank) for r in response.results] == [("b", 1, 1), ("c", 2, 2)]
    assert response.results[0].score > response.results[1].score
    assert response.provider == {"llamacpp": "llama.cpp"}.get(kind, kind) and response.model == "bge"
    if kind == "llamacpp":
        assert response.usage is not None and response.usage.input_tokens == 51
        assert response.cost == pytest.approx(2.0 * 51 / 1_000_000)
    if kind == "cohere":
        assert response.usage is None and response.request_id == "07734bd2-2473-4f07-94e1-0d9f0e6843cf"
    assert response.duration_ms is not None and response.duration_ms >= 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (RerankRequest(" ", DOCS, 1), "rerank query is required: invalid rerank request"),
        (RerankRequest("q", (), 1), "at least one document"),
        (RerankRequest("q", DOCS, 0), "top_n must be >= 1"),
        (RerankRequest("q", DOCS, 4), r"top_n \(4\) must be <= number of documents \(3\)"),
        (RerankRequest("q", (Document("", "t"),), 1), "document 0 requires a non-empty id"),
        (RerankRequest("q", (Document("x", " "),), 1), "document 0 requires non-empty text"),
        (RerankRequest("q", (Document("x", "t"), Document("x", "u")), 1), "duplicate id"),
        (RerankRequest("q", DOCS, 1, model="other"), "does not match provider model 'bge'"),
    ],
)
async def test_bad_requests_never_reach_the_server(
    server: Loopback, request_: RerankRequest, message: str
) -> None:
    rr = reranker(server)
    with pytest.raises(RerankInvalidRequest, match=message):
        await rr.rerank(request_)
    assert server.requests == []


async def test_size_limits(server: Loopback) -> None:
    rr = reranker(server, max_request_bytes=100)
    with pytest.raises(RerankRequestTooLarge, match="limit is 100"):
        await rr.rerank(RerankRequest("q", DOCS, 1))
    assert server.requests == []
    server.faults = ["huge"]
    rr = reranker(server, max_response_bytes=4096)
    with pytest.raises(RerankResponseTooLarge, match="exceeds 4096 bytes"):
        await rr.rerank(RerankRequest("q", DOCS, 1))
    await rr.aclose()


@pytest.mark.parametrize(
    ("faults", "error", "message"),
    [
        (["500", "500"], RerankUnavailable, "endpoint returned status 500"),
        (["401"], RerankUnavailable, "endpoint returned status 401"),
        (["wrong_count"], RerankInvalidResponse, "returned 1 results, expected 2"),
        (["nan"], RerankInvalidResponse, "non-finite relevance score"),
    ],
)
async def test_faults_are_typed_and_hide_the_body(
    server: Loopback, faults: list[str], error: type, message: str
) -> None:
    server.faults = list(faults)
    rr = reranker(server)
    with pytest.raises(error, match=message) as info:
        await rr.rerank(RerankRequest("blue", DOCS, 2))
    await rr.aclose()
    assert SECRET_BODY not in str(info.value)


async def test_a_transient_failure_is_retried(server: Loopback) -> None:
    server.faults = ["429"]
    rr = reranker(server)
    response = await rr.rerank(RerankRequest("blue", DOCS, 1))
    await rr.aclose()
    assert len(server.requests) == 2 and response.results[0].rank == 1


async def test_llamacpp_answers_are_decoded_strictly(server: Loopback) -> None:
    rr = reranker(server)
    server.rerank_shape = {**fixture("llamacpp_rerank.json"), "extra": 1}
    with pytest.raises(RerankInvalidResponse, match="unknown fields"):
        await rr.rerank(RerankRequest("blue", DOCS, 1))
    server.rerank_shape = {**fixture("llamacpp_rerank.json"), "model": "someone-else"}
    server.echo_model = False
    with pytest.raises(RerankInvalidResponse, match="does not match effective model"):
        await rr.rerank(RerankRequest("blue", DOCS, 1))
    await rr.aclose()


def profile(tmp_path: Path, inference: dict[str, Any]) -> InferenceSettings:
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump({"slug": "t", "profiles": {"p": {"inference_settings": inference}}}))
    return load_registries(str(path)).resolve("p")


async def test_profile_builds_the_reference_provider(tmp_path: Path, server: Loopback) -> None:
    server.rerank_shape = fixture("llamacpp_rerank.json")
    inference = {
        "api": {
            "base_urls": {"rerank-base-url": server.url},
            "allow_http": {"rerank": True},
            "allow_local_networks": {"rerank": True},
        },
        "rerank": {"type": "llamacpp", "engine": "bge", "max_request_bytes": 4096},
        "model_info": {"cost": {"input": 1.0, "output": 0}},
    }
    rr = reranker_from_settings(profile(tmp_path, inference))
    assert rr.model().to_dict() == {"provider": "llama.cpp", "name": "bge"}
    response = await rr.rerank(RerankRequest("blue", DOCS, 3))
    await rr.aclose()
    assert [r.rank for r in response.results] == [1, 2, 3] and response.cost == pytest.approx(51 / 1_000_000)


@pytest.mark.parametrize(
    ("inference", "message"),
    [
        ({"chat": {"engine": "x"}}, "missing inference_settings.rerank"),
        ({"rerank": {"engine": "bge"}}, r"missing inference_settings\.rerank\.type"),
        ({"rerank": {"type": "llamacpp"}}, r"missing inference_settings\.rerank\.engine"),
        ({"rerank": {"type": "voyage", "engine": "m"}}, "unsupported rerank provider type 'voyage'"),
        ({"rerank": {"type": "llamacpp", "engine": "m", "top_n": 3}}, "unknown key 'top_n'"),
        ({"rerank": {"type": "llamacpp", "engine": "m"}}, "no rerank-base-url"),
        (
            {
                "api": {"base_urls": {"rerank-base-url": "http://127.0.0.1:1"}},
                "rerank": {"type": "llamacpp", "engine": "m"},
            },
            r"allow_http\.rerank",
        ),
        (
            {
                "api": {
                    "base_urls": {"rerank-base-url": "http://127.0.0.1:1"},
                    "allow_http": {"rerank": True},
                },
                "rerank": {"type": "llamacpp", "engine": "m"},
            },
            r"allow_local_networks\.rerank",
        ),
        (
            {
                "api": {"base_urls": {"rerank-base-url": "https://u:p@example.com"}},
                "rerank": {"type": "llamacpp", "engine": "m"},
            },
            "must not contain a user name",
        ),
    ],
)
def test_profile_problems_name_the_key(tmp_path: Path, inference: dict[str, Any], message: str) -> None:
    with pytest.raises(RerankConfigError, match=message):
        reranker_from_settings(profile(tmp_path, inference))


def test_cohere_needs_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    with pytest.raises(RerankConfigError, match="rerank-api-key or cohere-api-key, or COHERE_API_KEY"):
        reranker_from_settings(profile(tmp_path, {"rerank": {"type": "cohere", "engine": "rerank-v3.5"}}))
    s = profile(
        tmp_path, {"api": {"api_keys": {"rerank-api-key": "ck"}}, "rerank": {"type": "cohere", "engine": "r"}}
    )
    assert rerank_section(s)["base_url"] == "https://api.cohere.com"
    rr = reranker_from_settings(s)
    assert (
        rr.client.headers["Authorization"] == "Bearer ck"
        and rr.endpoint == "https://api.cohere.com/v1/rerank"
    )
