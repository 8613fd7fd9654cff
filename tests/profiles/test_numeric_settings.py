"""Every numeric setting is checked once, where settings are parsed, with its allowed range in the
error: flags, profile files, config files, the environment and JS options alike (issue 15, defect 7)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from geppetto.errors import ConfigError
from geppetto.profiles import resolve_run_settings
from geppetto.settings import Settings
from geppetto.settings.fields import set_field

SRC = Path(__file__).resolve().parents[2] / "src"

BAD = [
    ("timeout", "-5", "timeout must be a duration above 0 (seconds, or like 30s or 2m), got -5"),
    ("timeout", "nan", "timeout must be a duration above 0 (seconds, or like 30s or 2m), got nan"),
    ("timeout", "0", "timeout must be a duration above 0 (seconds, or like 30s or 2m), got 0"),
    ("timeout", "inf", "timeout must be a duration above 0 (seconds, or like 30s or 2m), got inf"),
    ("timeout", math.inf, "timeout must be a duration above 0 (seconds, or like 30s or 2m), got inf"),
    ("connect-timeout", "-1", "connect-timeout must be a duration above 0"),
    ("ai-temperature", "-3", "ai-temperature must be between 0 and 2, got -3"),
    ("ai-temperature", 2.5, "ai-temperature must be between 0 and 2, got 2.5"),
    ("ai-temperature", "nan", "ai-temperature must be between 0 and 2, got nan"),
    ("ai-top-p", "1.5", "ai-top-p must be between 0 and 1, got 1.5"),
    ("ai-max-response-tokens", "-3", "ai-max-response-tokens must be a whole number of at least 1, got -3"),
    ("ai-max-response-tokens", "1.5", "ai-max-response-tokens must be a whole number of at least 1, got 1.5"),
    ("ai-max-response-tokens", 0, "ai-max-response-tokens must be a whole number of at least 1, got 0"),
    ("ai-max-response-tokens", True,
     "ai-max-response-tokens must be a whole number of at least 1, got a bool"),
    ("max-retries", "-1", "max-retries must be a whole number between 0 and 100, got -1"),
    ("openai-n", "0", "openai-n must be a whole number of at least 1, got 0"),
    ("openai-presence-penalty", "3", "openai-presence-penalty must be between -2 and 2, got 3"),
    ("openai-frequency-penalty", "-2.5", "openai-frequency-penalty must be between -2 and 2, got -2.5"),
    ("claude-top-k", "0", "claude-top-k must be a whole number of at least 1, got 0"),
    ("claude-thinking-budget", "-1", "claude-thinking-budget must be a whole number of at least 0, got -1"),
    ("gemini-thinking-budget", "-2", "gemini-thinking-budget must be a whole number of at least -1, got -2"),
    ("ollama-num-ctx", "0", "ollama-num-ctx must be a whole number of at least 1, got 0"),
    ("openai-seed", "1.5", "openai-seed must be a whole number, got 1.5"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_out_of_range_values_are_refused_with_the_range(name: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        set_field(Settings(), name, value)
    assert message in str(caught.value)


GOOD = [
    ("timeout", "30s", 30.0),
    ("timeout", "1m30s", 90.0),
    ("timeout", "500ms", 0.5),
    ("timeout", "2h", 7200.0),
    ("timeout", "12.5", 12.5),
    ("timeout", 7, 7.0),
    ("connect-timeout", "3s", 3.0),
    ("ai-temperature", "0", 0.0),
    ("ai-temperature", 2, 2.0),
    ("ai-top-p", "0.9", 0.9),
    ("ai-max-response-tokens", "256", 256),
    ("ai-max-response-tokens", 256.0, 256),
    ("openai-presence-penalty", "-2", -2.0),
    ("gemini-thinking-budget", "-1", -1),
    ("openai-seed", "-7", -7),
    ("max-retries", "0", 0),
]


@pytest.mark.parametrize(("name", "value", "expected"), GOOD)
def test_values_in_range_are_accepted(name: str, value: Any, expected: Any) -> None:
    settings = Settings()
    set_field(settings, name, value)
    section, attr = {
        "timeout": ("client", "timeout"),
        "connect-timeout": ("client", "connect_timeout"),
        "ai-temperature": ("chat", "temperature"),
        "ai-top-p": ("chat", "top_p"),
        "ai-max-response-tokens": ("chat", "max_response_tokens"),
        "openai-presence-penalty": ("openai", "presence_penalty"),
        "gemini-thinking-budget": ("gemini", "thinking_budget"),
        "openai-seed": ("openai", "seed"),
        "max-retries": ("client", "max_retries"),
    }[name]
    got = getattr(getattr(settings, section), attr)
    assert got == expected and type(got) is type(expected)


def test_a_non_numeric_string_is_not_quoted_in_the_error() -> None:
    # a key pasted into a numeric field must not be echoed
    with pytest.raises(ConfigError) as caught:
        set_field(Settings(), "ai-temperature", "sk-not-a-number-1234567890")
    assert "sk-" not in str(caught.value)
    assert "ai-temperature must be between 0 and 2, got a string that is not a number" in str(caught.value)


def test_flags_profiles_config_and_env_share_the_check(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"-tokens: ai-max-response-tokens must be a whole"):
        resolve_run_settings(flags={"ai-max-response-tokens": "1.5"}, environ={}, home=str(tmp_path))
    with pytest.raises(ConfigError, match="ai-temperature must be between 0 and 2, got -1"):
        resolve_run_settings(environ={"PINOCCHIO_AI_TEMPERATURE": "-1"}, home=str(tmp_path))
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("hot:\n  ai-chat:\n    ai-temperature: 9\n")
    with pytest.raises(ConfigError, match="ai-temperature must be between 0 and 2, got 9"):
        resolve_run_settings(profile="hot", profile_file=str(profiles), environ={}, home=str(tmp_path))
    config = tmp_path / "config.yaml"
    config.write_text("ai-client:\n  timeout: -4\n")
    with pytest.raises(ConfigError, match="timeout must be a duration above 0"):
        resolve_run_settings(config_file=str(config), environ={}, home=str(tmp_path))
    resolved = resolve_run_settings(flags={"timeout": "45s"}, environ={}, home=str(tmp_path))
    assert resolved.settings.client.timeout == 45.0


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--timeout=-5", "timeout must be a duration above 0"),
        ("--timeout=nan", "got nan"),
        ("--ai-temperature=-3", "ai-temperature must be between 0 and 2, got -3"),
        ("--ai-max-response-tokens=-3", "at least 1, got -3"),
        ("--ai-max-response-tokens=1.5", "at least 1, got 1.5"),
    ],
)
def test_cli_refuses_bad_numeric_flags_before_any_request(flag: str, message: str, tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC), HOME=str(tmp_path))
    command = ["infer", "--ai-api-type", "openai", "--openai-api-key", "k", flag, "hi", "--no-store"]
    command += ["--openai-base-url", "http://127.0.0.1:9/v1"]  # the discard port: never reached
    result = subprocess.run(
        [sys.executable, "-m", "geppetto", *command], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "timed out" not in result.stderr
