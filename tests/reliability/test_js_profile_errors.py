"""JS engine construction: a mistyped profile is "not found" like the CLI says it (issue 15,
defect 11), and a key put in the wrong option is redacted from every error (defect 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from geppetto.errors import ConfigError
from geppetto.js.module.profile import ProfileDefaults, resolve_profile_engine

SRC = Path(__file__).resolve().parents[2] / "src"
KEY = "zz-secret-value-0123456789"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in ("PINOCCHIO_PROFILE", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("profile", "opts", "defaults"),
    [
        ("echoo", {}, ProfileDefaults()),
        ("nope", {"apiKey": "k"}, ProfileDefaults()),
        (None, {"profile": "nope"}, ProfileDefaults()),
        (None, {}, ProfileDefaults(profile="nope")),
    ],
)
def test_an_unknown_profile_that_is_no_model_name_is_not_found(
    profile: str | None, opts: dict[str, Any], defaults: ProfileDefaults
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_profile_engine(profile, opts, defaults=defaults)
    message = str(caught.value)
    assert "profile nope not found" in message or "profile echoo not found" in message
    assert "known profiles: echo, local" in message
    assert "API key" not in message


def test_the_environment_profile_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINOCCHIO_PROFILE", "nope")
    with pytest.raises(ConfigError, match="profile nope not found"):
        resolve_profile_engine(None, {})


@pytest.mark.parametrize(
    ("profile", "opts", "family"),
    [
        ("gpt-4o-mini", {"apiKey": "k"}, "openai"),
        ("claude-haiku-4-5", {"apiKey": "k"}, "claude"),
        ("gemini-2.5-flash", {"apiKey": "k"}, "gemini"),
        ("o3-mini", {"apiKey": "k"}, "openai-responses"),
        ("my-finetune", {"apiType": "openai", "apiKey": "k"}, "openai"),
        ("llama3", {"baseURL": "http://127.0.0.1:9/v1", "apiKey": "k"}, "openai"),
    ],
)
def test_model_names_still_fall_back_to_a_model(profile: str, opts: dict[str, Any], family: str) -> None:
    _, engine = resolve_profile_engine(profile, opts)
    config: Any = engine.config  # type: ignore[attr-defined]
    assert (config.spec.name, config.model) == (family, profile)


def test_a_known_profile_is_used() -> None:
    name, engine = resolve_profile_engine("echo", {})
    assert name == "echo" and "echo" in type(engine).__name__.lower()


@pytest.mark.parametrize(
    "opts",
    [
        {"apiType": "openai", "baseURL": KEY, "apiKey": KEY},
        {"apiType": KEY, "apiKey": KEY},
        {"apiType": "openai", "baseURL": "sk-proj-abcdefgh12345678XYZ", "apiKey": "k"},
        {"apiType": "sk-ant-abcdefgh12345678"},
        {"apiType": "openai", "model": KEY, "apiKey": KEY, "baseURL": "ftp://x"},
    ],
)
def test_from_config_errors_never_echo_a_key(opts: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_profile_engine(None, opts, where="fromConfig")
    message = str(caught.value)
    assert KEY not in message and "abcdefgh12345678" not in message
    assert "***" in message or "ftp://x" in message


def test_from_config_redacts_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(ConfigError) as caught:
        resolve_profile_engine(None, {"apiType": "openai", "baseURL": KEY}, where="fromConfig")
    assert KEY not in str(caught.value) and "***" in str(caught.value)


def test_js_run_with_a_mistyped_profile_flag_says_not_found(tmp_path: Path) -> None:
    script = tmp_path / "s.js"
    script.write_text("const g = require('geppetto');\ng.engines.fromProfile();\n")
    env = {k: v for k, v in os.environ.items() if k != "PINOCCHIO_PROFILE"}
    env |= {"PYTHONPATH": str(SRC), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "geppetto", "js", "run", str(script), "--profile", "nope", "--no-store"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "profile nope not found" in result.stderr and "known profiles: echo, local" in result.stderr
    assert "API key" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"temperature": 5}, "ai-temperature must be between 0 and 2, got 5"),
        ({"topP": 1.5}, "ai-top-p must be between 0 and 1, got 1.5"),
        ({"maxTokens": 1.5}, "ai-max-response-tokens must be a whole number of at least 1, got 1.5"),
    ],
)
def test_js_numeric_options_share_the_settings_check(opts: dict[str, Any], message: str) -> None:
    base = {"apiType": "openai", "model": "gpt-4o-mini", "apiKey": "k"}
    with pytest.raises(ConfigError, match=message):
        resolve_profile_engine(None, base | opts, where="fromConfig")


def test_js_timeout_seconds_keep_their_fraction() -> None:
    opts = {"apiType": "openai", "model": "gpt-4o-mini", "apiKey": "k", "timeoutSeconds": 0.5}
    _, engine = resolve_profile_engine(None, opts, where="fromConfig")
    assert engine.config.settings.client.timeout == 0.5  # type: ignore[attr-defined]
