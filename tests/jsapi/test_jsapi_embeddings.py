"""``embeddings(settings)`` and ``reranker(settings)`` from JS, against loopback servers: the
reference's checks (pkg/js/modules/geppetto/api_embeddings_test.go, api_reranker_test.go)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.embeddings.loopback import SECRET_BODY, Loopback, ThreadedLoopback, fixture, vector_for

from .conftest import JSHarness


@pytest.fixture
def server() -> Iterator[Loopback]:
    with ThreadedLoopback() as loop:
        loop.rerank_shape = fixture("llamacpp_rerank.json")
        yield loop


def registry(tmp_path: Path, server: Loopback, **extra: Any) -> str:
    profiles = {
        "emb": {
            "inference_settings": {
                "api": {"base_urls": {"openai-base-url": server.url + "/v1"}},
                "embeddings": {
                    "type": "openai",
                    "engine": "text-embedding-3-small",
                    "dimensions": 4,
                    "api_keys": {"openai-api-key": "dummy-key"},
                },
            }
        },
        "bge-reranker": {
            "inference_settings": {
                "api": {
                    "base_urls": {"rerank-base-url": server.url},
                    "allow_http": {"rerank": True},
                    "allow_local_networks": {"rerank": True},
                },
                "rerank": {"type": "llamacpp", "engine": "bge"},
            }
        },
        **extra,
    }
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"slug": "jsapi-embeddings", "profiles": profiles}))
    return json.dumps(str(path))


def test_embed_and_embed_batch(js: JSHarness, tmp_path: Path, server: Loopback) -> None:
    out = js.one(
        f"""
        const s = g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("emb");
        const e = g.embeddings(s);
        const many = e.embedBatch(["a", "b"]);
        report({{one: e.embed("hello"), many, model: e.model(), keys: Object.keys(e)}});
        """
    )
    assert out["one"] == vector_for("hello")
    assert out["many"] == [vector_for("a"), vector_for("b")]
    assert out["model"] == {"name": "text-embedding-3-small", "dimensions": 4}
    assert out["keys"] == ["embed", "embedBatch", "model"]
    assert server.headers[0]["Authorization"] == "Bearer dummy-key"


def test_embeddings_argument_errors(js: JSHarness, tmp_path: Path, server: Loopback) -> None:
    out = js.one(
        f"""
        const errs = [];
        const attempt = (f) => {{ try {{ f(); errs.push(null); }} catch (e) {{ errs.push(String(e)); }} }};
        attempt(() => g.embeddings());
        attempt(() => g.embeddings({{}}));
        const e = g.embeddings(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("emb"));
        attempt(() => e.embed(3));
        attempt(() => e.embedBatch(["a", 2]));
        const rerankOnly = g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker");
        attempt(() => g.embeddings(rerankOnly));
        report(errs);
        """
    )
    assert "requires a registry-resolved InferenceSettings" in out[0]
    assert "requires a registry-resolved InferenceSettings" in out[1]
    assert "TypeError" in out[2] and "text must be a string" in out[2]
    assert "texts must be an array of strings" in out[3]
    assert "embeddings(settings): selected profile is not embedding-capable" in out[4]


def test_rerank_maps_index_to_document_id(js: JSHarness, tmp_path: Path, server: Loopback) -> None:
    out = js.one(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        const docs = [
          {{id: "a", text: "bananas"}}, {{id: "b", text: "blue sky blue sea"}}, {{id: "c", text: "sea"}},
        ];
        report({{res: r.rerank("blue sea", docs, {{topN: 2}}), model: r.model(), keys: Object.keys(r)}});
        """
    )
    res = out["res"]
    assert [(x["documentId"], x["index"], x["rank"]) for x in res["results"]] == [("b", 1, 1), ("c", 2, 2)]
    assert res["provider"] == "llama.cpp" and res["model"] == "bge"
    assert res["usage"] == {"inputTokens": 51, "totalTokens": 51}
    assert isinstance(res["durationMs"], int)
    assert out["model"] == {"provider": "llama.cpp", "name": "bge"}
    assert out["keys"] == ["rerank", "rerankAsync", "model"]
    assert server.requests[0]["top_n"] == 2


CHECKS = [
    ('r.rerank("", [{id: "a", text: "x"}], {topN: 1})', "query is required"),
    ('r.rerank("q", [{text: "x"}], {topN: 1})', "requires a non-empty string id"),
    ('r.rerank("q", [{id: "CALLER-ID-MUST-NOT-LEAK"}], {topN: 1})', "requires non-empty string text"),
    ('r.rerank("q", [], {topN: 1})', "at least one document"),
    ('r.rerank("q", [null], {topN: 1})', "document 0 is null"),
    ('r.rerank("q", docs, {})', "topN is required"),
    ('r.rerank("q", docs, {topN: 5})', "between 1 and 2"),
    ('r.rerank("q", docs, {topN: 0})', "between 1 and 2"),
    ('r.rerank("q", docs, {topN: 1, unknown: true})', "unknown key"),
    ('r.rerank("q", docs, {topN: 1.5})', "safe integer"),
    ('r.rerank("q", docs, {topN: 9007199254740992})', "safe integer"),
    ('r.rerank("q", docs, {topN: "1"})', "must be an integer"),
    ('r.rerank("q", docs, {topN: 1, model: 3})', "options.model must be a string"),
    ('r.rerank("q", docs, {topN: 1, model: "other"})', "does not match provider model"),
    ('r.rerank("q", docs)', "options are required"),
    ('r.rerank("q", "docs", {topN: 1})', "documents must be an array"),
    ('r.rerankAsync("q", docs)', "requires three arguments"),
    ("g.reranker()", "requires a registry-resolved InferenceSettings wrapper"),
]


@pytest.mark.parametrize(("call", "message"), CHECKS)
def test_rerank_validation(js: JSHarness, tmp_path: Path, server: Loopback, call: str, message: str) -> None:
    out = js.one(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        const docs = [{{id: "a", text: "x"}}, {{id: "b", text: "y"}}];
        try {{ {call}; report("no error"); }} catch (e) {{ report(String(e)); }}
        """
    )
    assert message in out
    assert "CALLER-ID-MUST-NOT-LEAK" not in out
    assert server.requests == []


def test_upstream_error_body_query_and_texts_never_leak(
    js: JSHarness, tmp_path: Path, server: Loopback
) -> None:
    server.faults = ["500", "500", "500"]
    out = js.one(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        const docs = [{{id: "a", text: "SECRET-DOC-TEXT"}}];
        try {{ r.rerank("SECRET-QUERY", docs, {{topN: 1}}); report("no error"); }}
        catch (e) {{ report(String(e)); }}
        """
    )
    assert "status 500" in out
    for secret in (SECRET_BODY, "SECRET-QUERY", "SECRET-DOC-TEXT"):
        assert secret not in out


def test_negative_scores_are_preserved(js: JSHarness, tmp_path: Path, server: Loopback) -> None:
    server.verbatim = (
        b'{"model":"bge","results":[{"index":0,"relevance_score":-3.32},{"index":1,"relevance_score":-9.83}]}'
    )
    out = js.one(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        const docs = [{{id: "a", text: "xx"}}, {{id: "b", text: "y"}}];
        report(r.rerank("q", docs, {{topN: 2}}).results.map(x => x.score));
        """
    )
    assert out == [-3.32, -9.83]


def test_rerank_async_resolves_and_cancel_is_idempotent(
    js: JSHarness, tmp_path: Path, server: Loopback
) -> None:
    out = js.run(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        const docs = [{{id: "a", text: "blue"}}, {{id: "b", text: "red"}}];
        const handle = r.rerankAsync("blue", docs, {{topN: 1}});
        report(Object.keys(handle));
        handle.promise.then((res) => {{
          report(res.results[0].documentId);
          handle.cancel(); handle.cancel(); handle.close(); handle.close();
          report("after");
        }}, (err) => report("rejected " + String(err)));
        let bad = null;
        try {{ r.rerankAsync("", docs, {{topN: 1}}); }} catch (e) {{ bad = String(e); }}
        report(bad);
        """
    )
    assert out[0] == ["promise", "cancel", "close"]
    assert "query is required" in out[1]
    assert out[2:] == ["a", "after"]


def test_hidden_ref_is_not_enumerable(js: JSHarness, tmp_path: Path, server: Loopback) -> None:
    out = js.one(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        report(JSON.stringify(Object.getOwnPropertyNames(r)));
        """
    )
    assert json.loads(out) == ["rerank", "rerankAsync", "model"]


def test_rerank_async_cancel_rejects_the_promise(js: JSHarness, tmp_path: Path, server: Loopback) -> None:
    server.faults = ["slow"]
    out = js.run(
        f"""
        const r = g.reranker(g.inferenceProfiles.load({registry(tmp_path, server)}).resolve("bge-reranker"));
        const handle = r.rerankAsync("blue", [{{id: "a", text: "blue"}}], {{topN: 1}});
        handle.promise.then(() => report("resolved"), (err) => report(String(err)));
        setTimeout(() => {{ handle.cancel(); handle.cancel(); }}, 50);
        """
    )
    assert len(out) == 1 and "rerank cancelled" in out[0]
