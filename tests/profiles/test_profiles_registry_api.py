"""The Python side of the reference's current profile API: ``load_registries``, ``InferenceRegistry``,
``InferenceSettings`` and ``geppetto.engines.engine_from_settings``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from geppetto.engines import SettingsEngine, engine_from_settings
from geppetto.engines.base import RunContext
from geppetto.engines.echo import EchoEngine
from geppetto.errors import ConfigError
from geppetto.profiles import (
    InferenceSettings,
    ModelCost,
    RegistryClosedError,
    configured_registry,
    load_registries,
)
from geppetto.settings import Settings
from geppetto.turns.model import Turn

SECRET = "example-secret"

BASE = """\
slug: provider
profiles:
  default:
    metadata: {version: 2}
    inference_settings:
      api:
        api_keys: {openai-api-key: example-secret}
        base_urls: {openai-base-url: https://proxy.example.test/v1}
      chat: {api_type: openai, engine: gpt-4o-mini, temperature: 0.3}
      client: {timeout: 30}
      model_info:
        id: gpt-4o-mini
        input: [text]
        cost: {input: 1, output: 2, cache_read: 0.5}
        metadata: {family: gpt, tier: {a: 1}}
      embeddings:
        type: openai
        engine: text-embedding-3-small
        api_keys: {openai-api-key: example-secret}
"""

TEAM = """\
slug: team
profiles:
  assistant:
    stack:
      - registry_slug: provider
        profile_slug: default
    inference_settings:
      chat: {engine: gpt-5-mini}
      model_info:
        name: GPT-5 Mini
        cost: {input: 3, output: 4}
        metadata: {tier: {b: 2}}
  echo:
    inference_settings:
      chat: {api_type: echo}
"""


@pytest.fixture
def sources(tmp_path: Path) -> list[str]:
    base = tmp_path / "base.yaml"
    base.write_text(BASE)
    team = tmp_path / "team.yaml"
    team.write_text(TEAM)
    return [str(base), str(team)]


def test_stack_merges_settings_model_info_and_carried_sections(sources: list[str]) -> None:
    registry = load_registries(sources)
    settings = registry.resolve("assistant")
    assert settings.settings.chat.engine == "gpt-5-mini" and settings.settings.chat.temperature == 0.3
    info = settings.model_info
    assert info is not None
    assert (info.id, info.name, info.input) == ("gpt-4o-mini", "GPT-5 Mini", ("text",))
    assert info.cost == ModelCost(input=3, output=4)  # cost is replaced as a whole, not merged
    assert info.metadata == {"family": "gpt", "tier": {"a": 1, "b": 2}}
    assert settings.extra_sections["embeddings"]["engine"] == "text-embedding-3-small"
    lineage = settings.provenance.to_dict()["stackLineage"]
    assert [(e["registrySlug"], e["profileSlug"]) for e in lineage] == [
        ("provider", "default"),
        ("team", "assistant"),
    ]
    assert lineage[0]["version"] == 2 and "version" not in lineage[1]
    assert settings.provenance.sources == tuple(sources)


def test_snapshot_shape_and_redaction(sources: list[str]) -> None:
    snapshot = load_registries(sources).resolve("assistant").to_json()
    assert SECRET not in json.dumps(snapshot)
    assert snapshot["chat"] == {"api_type": "openai", "engine": "gpt-5-mini", "temperature": 0.3}
    assert snapshot["client"] == {"timeout": 30.0}
    assert snapshot["api"] == {
        "api_keys": {"openai-api-key": "[REDACTED]"},
        "base_urls": {"openai-base-url": "https://proxy.example.test/v1"},
    }
    assert snapshot["embeddings"]["api_keys"] == {"openai-api-key": "[REDACTED]"}  # redacted anywhere
    assert snapshot["model_info"]["cost"] == {"input": 3.0, "output": 4.0}
    assert snapshot["provenance"]["profileSlug"] == "assistant"


def test_debug_clone_and_settings_copies(sources: list[str]) -> None:
    settings = load_registries(sources).resolve("assistant")
    debug = settings.debug()
    assert debug["kind"] == "InferenceSettings" and SECRET not in json.dumps(debug)
    assert (debug["apiKeyNames"], debug["baseURLNames"]) == (["openai-api-key"], ["openai-base-url"])
    clone = settings.clone()
    assert clone is not settings and clone.to_json() == settings.to_json()
    clone.resolved.settings.chat.engine = "changed"
    assert settings.settings.chat.engine == "gpt-5-mini"
    settings.settings.chat.engine = "also-changed"  # .settings is a copy
    assert settings.to_json()["chat"]["engine"] == "gpt-5-mini"
    assert SECRET not in repr(settings)


def test_listing_and_resolve_inputs(sources: list[str]) -> None:
    registry = load_registries(",".join(sources))
    assert [r["slug"] for r in registry.list_registries()] == ["provider", "team"]
    assert [p["slug"] for p in registry.list_profiles()] == ["assistant", "echo"]  # the last source
    listed = registry.list_profiles("provider")
    assert SECRET not in json.dumps(listed)
    assert listed[0]["metadata"] == {"version": 2}
    assert registry.resolve().provenance.profile_slug == "assistant"
    assert registry.resolve(registry="provider").provenance.registry_slug == "provider"
    assert registry.resolve({"registrySlug": "team", "profileSlug": "echo"}).settings.chat.api_type == "echo"
    with pytest.raises(ConfigError, match="registry not found: nope"):
        registry.list_profiles("nope")
    with pytest.raises(ConfigError, match="profile slug 'A B' is invalid"):
        registry.resolve("A B")


def test_close_is_idempotent_and_final(sources: list[str]) -> None:
    registry = load_registries(sources)
    registry.close()
    registry.close()
    for call in (registry.list_registries, registry.list_profiles, registry.resolve):
        with pytest.raises(RegistryClosedError, match=r"^registry\.\w+ called after registry\.close$"):
            call()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "profile registry sources are required"),
        ("", "profile registry sources must not be empty"),
        ([], "profile registry sources must not be empty"),
        (["a.yaml", " "], "profile registry source entry 1 must be a non-empty string"),
        (42, "profile registry sources must be a comma-separated string or string array"),
    ],
)
def test_source_errors(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}$"):
        load_registries(value)  # type: ignore[arg-type]


def test_duplicate_registry_slugs_and_bad_model_info(tmp_path: Path, sources: list[str]) -> None:
    with pytest.raises(ConfigError, match="duplicate registry slug 'provider'"):
        load_registries([sources[0], sources[0]])
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "slug: bad\nprofiles:\n  p:\n    inference_settings:\n"
        "      model_info: {context_window: -1, cost: {inptu: 1}, colour: x}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_registries(str(bad)).resolve("p")
    message = str(info.value)
    assert "model_info.context_window must be an integer >= 0" in message
    assert "unknown field 'inptu' in model_info.cost (did you mean 'input'?)" in message
    assert "unknown field 'colour' in model_info" in message


def test_engine_from_settings_runs_echo_and_reports_missing_keys(
    tmp_path: Path, sources: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = load_registries(sources)
    engine = engine_from_settings(registry.resolve("echo"))
    assert isinstance(engine, SettingsEngine) and isinstance(engine.engine, EchoEngine)
    assert engine.name == "inferenceSettings" and engine.metadata["profileSlug"] == "echo"
    assert engine.model_info is None
    assert engine.reply == "READY"  # other attributes are the wrapped engine's
    turn = Turn.builder().user("hi").build()
    out = asyncio.run(engine.run(turn, RunContext()))
    assert out.assistant_text() == "READY"

    keyless = tmp_path / "keyless.yaml"
    keyless.write_text(
        "slug: k\nprofiles:\n  a:\n    inference_settings:\n"
        "      api: {api_keys: {}}\n      chat: {api_type: openai, engine: gpt-4o-mini}\n"
    )
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="missing API key openai-api-key"):
        engine_from_settings(load_registries(str(keyless)).resolve("a"))
    # the provider's key variable is the fallback when the profile names no key
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-0000")
    assert isinstance(engine_from_settings(load_registries(str(keyless)).resolve("a")), SettingsEngine)


def test_engine_from_plain_settings() -> None:
    settings = Settings()
    settings.chat.api_type = "echo"
    engine = engine_from_settings(settings)
    assert isinstance(engine, EchoEngine)
    wrapped = InferenceSettings.from_settings(settings)
    assert wrapped.to_json() == {"chat": {"api_type": "echo"}, "provenance": {}}
    with pytest.raises(TypeError, match="engine_from_settings expects InferenceSettings or Settings"):
        engine_from_settings({"chat": {}})  # type: ignore[arg-type]


def test_configured_registry_uses_the_run_precedence(
    tmp_path: Path, sources: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    message = r"^inferenceProfiles\.resolve requires a configured profile registry$"
    with pytest.raises(ConfigError, match=message):
        configured_registry(environ={}, home=home, where="inferenceProfiles.resolve")
    registry = configured_registry(
        profile_registries=",".join(sources),
        default_profile="assistant",
        environ={"PINOCCHIO_AI_TEMPERATURE": "0.9"},
        home=home,
    )
    settings = registry.resolve()
    assert settings.provenance.profile_slug == "assistant"
    assert settings.settings.chat.temperature == 0.9  # the environment sits above the profile
    assert registry.resolve("echo").settings.chat.api_type == "echo"
    assert registry.resolve(registry="team").provenance.profile_slug == "assistant"  # the host default
    assert registry.resolve(registry="provider", profile="default").provenance.profile_slug == "default"
    with pytest.raises(ConfigError, match="profile ghost not found"):
        registry.resolve("ghost")
    assert not registry.owned
    # a pinocchio profiles.yaml in the default place counts as configured too
    pinocchio = home / ".config" / "pinocchio" / "profiles.yaml"
    pinocchio.parent.mkdir(parents=True)
    pinocchio.write_text("fast:\n  ai-chat: {ai-api-type: echo}\n")
    assert configured_registry(environ={}, home=home).resolve("fast").settings.chat.api_type == "echo"


def test_sqlite_sources_carry_model_info(tmp_path: Path) -> None:
    from geppetto.profiles.sqlite_source import write_registry

    db = tmp_path / "profiles.db"
    write_registry(
        db,
        {
            "slug": "db",
            "profiles": {
                "fast": {
                    "inference_settings": {
                        "chat": {"api_type": "echo"},
                        "model_info": {"id": "echo", "context_window": 10},
                    }
                }
            },
        },
    )
    for source in (str(db), f"sqlite:{db}"):
        settings = load_registries(source).resolve("fast")
        assert settings.model_info is not None and settings.model_info.context_window == 10
        assert settings.provenance.registry_slug == "db"
