"""Profiles -> embedder: the one validation path, the reference's key fallbacks, per-service access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from geppetto.embeddings.cache import CachedEmbedder
from geppetto.embeddings.config import embeddings_config
from geppetto.embeddings.factory import embedder_from_settings
from geppetto.embeddings.openai import OpenAIEmbedder
from geppetto.embeddings.types import EmbeddingConfigError
from geppetto.profiles import InferenceSettings, load_registries

from .loopback import Loopback, vector_for


def settings(tmp_path: Path, inference: dict[str, Any]) -> InferenceSettings:
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump({"slug": "t", "profiles": {"p": {"inference_settings": inference}}}))
    return load_registries(str(path)).resolve("p")


def test_key_falls_back_to_api_keys_and_section_keys_win(tmp_path: Path) -> None:
    base = {"embeddings": {"type": "openai", "engine": "text-embedding-3-small", "dimensions": 4}}
    with_api = settings(tmp_path, {**base, "api": {"api_keys": {"openai-api-key": "from-api"}}})
    embedder = embedder_from_settings(with_api)
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.client.headers["Authorization"] == "Bearer from-api"
    both = {
        "api": {"api_keys": {"openai-api-key": "from-api"}},
        "embeddings": {**base["embeddings"], "api_keys": {"openai-api-key": "from-section"}},
    }
    embedder = embedder_from_settings(settings(tmp_path, both))
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.client.headers["Authorization"] == "Bearer from-section"
    assert embedder.model().to_dict() == {
        "provider": "openai",
        "name": "text-embedding-3-small",
        "dimensions": 4,
    }


def test_openai_without_key_says_where_to_set_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    s = settings(tmp_path, {"embeddings": {"type": "openai", "engine": "text-embedding-3-small"}})
    with pytest.raises(EmbeddingConfigError, match=r"embeddings\.api_keys\.openai-api-key") as info:
        embedder_from_settings(s)
    assert "api.api_keys.openai-api-key" in str(info.value)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (None, "missing inference_settings.embeddings"),
        ({"engine": "x"}, "missing inference_settings.embeddings.type"),
        ({"type": "openai"}, "missing inference_settings.embeddings.engine"),
        ({"type": "cohere", "engine": "x"}, "unsupported embeddings provider type 'cohere'"),
        ({"type": "ollama", "engine": "all-minilm"}, "must set inference_settings.embeddings.dimensions"),
        (
            {"type": "openai", "engine": "x", "dimension": 4},
            "unknown key 'dimension'.*did you mean 'dimensions'",
        ),
        (
            {"type": "openai", "engine": "x", "dimensions": "4"},
            "embeddings.dimensions must be a whole number",
        ),
        (
            {"type": "openai", "engine": "x", "cache_type": "disk"},
            "cache_type must be one of none, memory, file",
        ),
    ],
)
def test_bad_sections_name_the_key(tmp_path: Path, section: Any, message: str) -> None:
    inference: dict[str, Any] = {"chat": {"engine": "gpt-4o-mini"}}
    if section is not None:
        inference["embeddings"] = section
    with pytest.raises(EmbeddingConfigError, match=message):
        embeddings_config(settings(tmp_path, inference))


async def test_ollama_base_url_and_file_cache_from_the_profile(tmp_path: Path, server: Loopback) -> None:
    inference = {
        "api": {"base_urls": {"ollama-base-url": server.url}},
        "embeddings": {
            "type": "ollama",
            "engine": "all-minilm",
            "dimensions": 4,
            "cache_type": "file",
            "cache_directory": str(tmp_path / "cache"),
        },
    }
    s = settings(tmp_path, inference)
    embedder = embedder_from_settings(s)
    assert isinstance(embedder, CachedEmbedder)
    assert await embedder.embed(["one"]) == [vector_for("one")]
    await embedder.aclose()
    again = embedder_from_settings(s)
    assert await again.embed(["one"]) == [vector_for("one")]
    await again.aclose()
    assert len(server.requests) == 1
    assert (tmp_path / "cache" / "embeddings.sqlite").exists()
    uncached = embedder_from_settings(s, cache=False)
    await uncached.embed(["one"])
    await uncached.aclose()
    assert len(server.requests) == 2


def test_strict_policy_refuses_http_and_local_unless_allowed_for_embeddings(tmp_path: Path) -> None:
    section = {"type": "openai", "engine": "m", "base_urls": {"openai-base-url": "http://127.0.0.1:9/v1"}}
    strict = {"api": {"outbound_policy": "strict"}, "embeddings": section}
    with pytest.raises(EmbeddingConfigError, match=r"allow_http\.embeddings"):
        embedder_from_settings(settings(tmp_path, strict))
    only_http = {
        "api": {"outbound_policy": "strict", "allow_http": {"embeddings": True}},
        "embeddings": section,
    }
    with pytest.raises(EmbeddingConfigError, match=r"allow_local_networks\.embeddings"):
        embedder_from_settings(settings(tmp_path, only_http))
    allowed = {
        "api": {
            "outbound_policy": "strict",
            "allow_http": {"embeddings": True},
            "allow_local_networks": {"embeddings": True},
        },
        "embeddings": section,
    }
    assert isinstance(embedder_from_settings(settings(tmp_path, allowed)), OpenAIEmbedder)
    # the default (permissive) policy takes local servers as they are
    assert isinstance(embedder_from_settings(settings(tmp_path, {"embeddings": section})), OpenAIEmbedder)


def test_snapshot_keeps_the_access_maps_beside_the_keys(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        {
            "api": {"api_keys": {"openai-api-key": "k"}, "allow_http": {"rerank": True}},
            "embeddings": {"type": "openai", "engine": "m"},
        },
    )
    snapshot = s.to_json()
    assert snapshot["api"]["allow_http"] == {"rerank": True}
    assert snapshot["api"]["api_keys"] == {"openai-api-key": "[REDACTED]"}


async def test_gemini_profile_uses_its_key_header_and_base_url(tmp_path: Path, server: Loopback) -> None:
    inference = {
        "api": {"api_keys": {"gemini-api-key": "g-key"}, "base_urls": {"gemini-base-url": server.url}},
        "embeddings": {"type": "gemini", "engine": "gemini-embedding-001", "dimensions": 4},
    }
    embedder = embedder_from_settings(settings(tmp_path, inference))
    assert await embedder.embed(["x"]) == [vector_for("x")]
    await embedder.aclose()
    assert server.headers[0]["x-goog-api-key"] == "g-key" and "Authorization" not in server.headers[0]
    assert server.requests[0]["requests"][0]["outputDimensionality"] == 4


def test_openai_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    embedder = embedder_from_settings(settings(tmp_path, {"embeddings": {"type": "openai", "engine": "m"}}))
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.client.headers["Authorization"] == "Bearer from-env"
    assert embedder.model().dimensions == 1536  # the reference's default for openai


def test_openai_compatible_server_needs_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    section = {
        "type": "openai",
        "engine": "nomic",
        "base_urls": {"openai-base-url": "http://127.0.0.1:8080/v1"},
    }
    embedder = embedder_from_settings(settings(tmp_path, {"embeddings": section}))
    assert isinstance(embedder, OpenAIEmbedder)
    assert (
        "Authorization" not in embedder.client.headers
        and embedder.url == "http://127.0.0.1:8080/v1/embeddings"
    )


def test_local_profile_names_a_missing_file(tmp_path: Path) -> None:
    from geppetto.errors import ConfigError

    missing = str(tmp_path / "nope.gguf")
    with pytest.raises(ConfigError, match="does not exist"):
        embedder_from_settings(settings(tmp_path, {"embeddings": {"type": "local", "engine": missing}}))
