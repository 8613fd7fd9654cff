"""Secrets never appear in what profiles show: tables, JSON, --debug, warnings, errors.

The canary is deliberately not shaped like any provider's key, so only exact-value redaction
can hide it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_helpers import CANARY, RunCli, geppetto_config, pinocchio_profiles, write

from geppetto.engines import engine_for
from geppetto.errors import ConfigError
from geppetto.profiles import resolve_run_settings

PROFILE_WITH_KEY = f"""\
keyed:
  ai-chat: {{ai-engine: gpt-4o-mini, ai-api-type: openai}}
  openai-chat:
    openai-base-url: http://127.0.0.1:9/v1
    openai-api-key: {CANARY}
"""


def _assert_clean(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text


@pytest.mark.parametrize("debug", [[], ["--debug"]])
@pytest.mark.parametrize("fmt", [[], ["--json"], ["--all"]])
def test_show_redacts(home: Path, run_cli: RunCli, debug: list[str], fmt: list[str]) -> None:
    write(pinocchio_profiles(home), PROFILE_WITH_KEY)
    result = run_cli(*debug, "profiles", "show", "keyed", *fmt)
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stdout, result.stderr)
    assert "***" in result.stdout
    assert "openai-api-key" in result.stdout


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_resolve_redacts_every_layer(home: Path, run_cli: RunCli, debug: list[str]) -> None:
    write(pinocchio_profiles(home), PROFILE_WITH_KEY)
    write(geppetto_config(home), f"claude-chat:\n  claude-api-key: {CANARY}-config\n")
    env = {
        "PINOCCHIO_PROFILE": "keyed",
        "GEMINI_API_KEY": f"{CANARY}-env",
        "PINOCCHIO_OLLAMA_API_KEY": f"{CANARY}-pinocchio",
    }
    for fmt in ([], ["--json"]):
        result = run_cli(*debug, "profiles", "resolve", "--groq-api-key", f"{CANARY}-flag", *fmt, env=env)
        assert result.returncode == 0, result.stderr
        _assert_clean(result.stdout, result.stderr)
        for name in ("openai-api-key", "claude-api-key", "gemini-api-key", "ollama-api-key", "groq-api-key"):
            assert name in result.stdout


def test_list_never_shows_keys(home: Path, run_cli: RunCli) -> None:
    write(pinocchio_profiles(home), PROFILE_WITH_KEY)
    for fmt in ([], ["--json"]):
        result = run_cli("profiles", "list", *fmt)
        assert result.returncode == 0
        _assert_clean(result.stdout, result.stderr)


@pytest.mark.parametrize(
    "text",
    [
        # a key pasted into a field of another type
        f"p:\n  ai-chat:\n    ai-max-response-tokens: {CANARY}\n",
        # a syntax error on the line that holds the key
        f"p:\n  openai-chat:\n    openai-api-key: {CANARY}: [\n",
        # a key nested where a string is expected
        f"p:\n  openai-chat:\n    openai-api-key: {{nested: {CANARY}}}\n",
        # a typo'd section holding a key
        f"p:\n  openai-caht:\n    openai-api-key: {CANARY}\n",
    ],
)
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_errors_never_quote_values(home: Path, run_cli: RunCli, text: str, debug: list[str]) -> None:
    write(pinocchio_profiles(home), text)
    for command in (["profiles", "show", "p"], ["profiles", "resolve", "--profile", "p"]):
        result = run_cli(*debug, *command)
        assert result.returncode == 1
        assert result.stderr.startswith("error: ")
        _assert_clean(result.stdout, result.stderr)


def test_env_value_errors_do_not_quote(home: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(environ={"PINOCCHIO_AI_TEMPERATURE": CANARY}, home=home)
    _assert_clean(str(exc.value))


def test_not_found_error_lists_names_not_values(home: Path) -> None:
    write(pinocchio_profiles(home), PROFILE_WITH_KEY)
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="nope", environ={}, home=home)
    assert "keyed" in str(exc.value)
    _assert_clean(str(exc.value))


def test_repr_and_dict_are_redacted(home: Path) -> None:
    write(pinocchio_profiles(home), PROFILE_WITH_KEY)
    resolved = resolve_run_settings(profile="keyed", environ={"GEMINI_API_KEY": CANARY + "2"}, home=home)
    assert resolved.settings.api.api_keys["openai-api-key"] == CANARY  # the engine still gets it
    _assert_clean(repr(resolved), str(resolved.to_dict()), str(resolved.values(include_defaults=True)))
    assert resolved.redact(f"echo {CANARY} back") == "echo *** back"


def test_engine_errors_are_redacted(home: Path) -> None:
    write(pinocchio_profiles(home), PROFILE_WITH_KEY.replace("ai-api-type: openai", "ai-api-type: bogus"))
    resolved = resolve_run_settings(profile="keyed", environ={}, home=home)
    with pytest.raises(ConfigError) as exc:
        engine_for(resolved)
    _assert_clean(str(exc.value))
