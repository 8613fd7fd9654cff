"""``geppetto profiles list|show|resolve`` in a subprocess with HOME at a temporary directory, and
the engine ``geppetto infer`` builds through the profile resolution."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from profile_helpers import PINOCCHIO_EXAMPLE, RunCli, geppetto_config, pinocchio_profiles, write

from geppetto.cli import build_parser
from geppetto.cli.profile_commands import add_profile_options
from geppetto.cli.profiles import engine_from_args, resolve_from_args
from geppetto.engines.echo import EchoEngine
from geppetto.errors import ConfigError

REGISTRY = """\
slug: team
profiles:
  base:
    inference_settings: {chat: {api_type: claude, temperature: 0.5}}
  haiku:
    stack: [{profile_slug: base}]
    inference_settings: {chat: {engine: claude-haiku-4-5}}
"""


def test_list_shows_name_provider_model_source(home: Path, run_cli: RunCli) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    result = run_cli("profiles", "list", env={"PINOCCHIO_PROFILE": "mixtral"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROVIDER", "MODEL", "SOURCE"]
    rows = {line[2:].split()[0]: line for line in lines[1:]}
    assert rows["gemini-2.5-flash-lite"].split()[1:] == [
        "gemini",
        "gemini-2.5-flash-lite",
        str(pinocchio_profiles(home)),
    ]
    assert rows["mixtral"].startswith("* ")  # selected by PINOCCHIO_PROFILE
    assert rows["echo"].split()[1:] == ["echo", "builtin"]
    assert rows["local"].split()[1:] == ["local", "builtin"]


def test_list_with_registries_and_json(home: Path, run_cli: RunCli, tmp_path: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    registry = write(tmp_path / "team.yaml", REGISTRY)
    result = run_cli("profiles", "list", "--profile-registries", str(registry), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_name = {row["name"]: row for row in data["profiles"]}
    assert by_name["haiku"]["provider"] == "claude" and by_name["haiku"]["model"] == "claude-haiku-4-5"
    assert by_name["haiku"]["registry"] == "team" and by_name["haiku"]["source"] == str(registry)
    assert by_name["base"]["selected"] is True  # default registry's default profile (alphabetical)
    assert data["errors"] == []


def test_list_reports_broken_sources_and_profiles(home: Path, run_cli: RunCli, tmp_path: Path) -> None:
    write(pinocchio_profiles(home), "good:\n  ai-chat: {ai-engine: m}\nbad:\n  ai-chat: {ai-engien: m}\n")
    broken = write(tmp_path / "broken.yaml", "slug: [\n")
    result = run_cli("profiles", "list", "--profile-registries", str(broken))
    assert result.returncode == 0
    assert "good" in result.stdout and "invalid" in result.stdout
    assert f"{broken}: YAML syntax error" in result.stderr
    assert "did you mean 'ai-engine'" in result.stderr


def test_show_text_and_json(home: Path, run_cli: RunCli, tmp_path: Path) -> None:
    registry = write(tmp_path / "team.yaml", REGISTRY)
    result = run_cli("profiles", "show", "haiku", "--profile-registries", str(registry))
    assert result.returncode == 0, result.stderr
    assert "profile: haiku (registry team)" in result.stdout
    assert "stack: team/base -> team/haiku" in result.stdout
    assert "engine: claude, model: claude-haiku-4-5" in result.stdout
    temperature = next(line for line in result.stdout.splitlines() if line.startswith("ai-temperature"))
    assert "0.5" in temperature and f"profile team/base ({registry})" in temperature

    result = run_cli("profiles", "show", "haiku", "--profile-registries", str(registry), "--json")
    data = json.loads(result.stdout)
    assert data["settings"]["ai-chat"]["engine"] == "claude-haiku-4-5"
    assert data["provenance"]["stackLineage"][0]["profileSlug"] == "base"
    assert data["provenance"]["values"]["ai-temperature"]["profileSlug"] == "base"


def test_show_ignores_env_and_config(home: Path, run_cli: RunCli) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    write(geppetto_config(home), "ai-chat: {ai-temperature: 0.9}\n")
    result = run_cli("profiles", "show", "mixtral", "--json", env={"PINOCCHIO_AI_ENGINE": "override"})
    data = json.loads(result.stdout)
    assert data["settings"]["ai-chat"]["engine"] == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    assert data["settings"]["ai-chat"]["temperature"] == 0.7


def test_show_unknown_profile(home: Path, run_cli: RunCli) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    result = run_cli("profiles", "show", "gpt-9")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: profile gpt-9 not found in {pinocchio_profiles(home)}")
    assert "known profiles: gemini-2.5-flash-lite, mixtral, echo, local" in result.stderr


def test_resolve_shows_each_layer(home: Path, run_cli: RunCli) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    write(geppetto_config(home), "ai-client: {timeout: 12}\n")
    env = {"PINOCCHIO_PROFILE": "gemini-2.5-flash-lite", "PINOCCHIO_AI_TOP_P": "0.5"}
    result = run_cli("profiles", "resolve", "--ai-temperature", "0.1", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "profile: gemini-2.5-flash-lite (registry pinocchio, selected by PINOCCHIO_PROFILE)" in out
    assert "engine: gemini, model: gemini-2.5-flash-lite" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.endswith(":")}
    assert "profile pinocchio/gemini-2.5-flash-lite" in rows["ai-engine"]
    assert f"config {geppetto_config(home)}" in rows["timeout"]
    assert "env PINOCCHIO_AI_TOP_P" in rows["ai-top-p"]
    assert "flags --ai-temperature" in rows["ai-temperature"]


def test_resolve_with_nothing_configured(home: Path, run_cli: RunCli) -> None:
    result = run_cli("profiles", "resolve")
    assert result.returncode == 0, result.stderr
    assert "profile: none" in result.stdout
    assert "engine: local (default)" in result.stdout
    assert "(every field at its default)" in result.stdout


def test_resolve_json_and_flag_selection(home: Path, run_cli: RunCli) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    result = run_cli("profiles", "resolve", "--profile", "mixtral", "--json", env={"PINOCCHIO_PROFILE": "x"})
    data = json.loads(result.stdout)
    assert data["profile"] == "mixtral" and data["provenance"]["selectedBy"] == "--profile"


def test_profiles_without_subcommand_prints_help(home: Path, run_cli: RunCli) -> None:
    result = run_cli("profiles")
    assert result.returncode == 2
    assert "list" in result.stderr and "resolve" in result.stderr


# -- the engine of `geppetto infer` ------------------------------------------------------------


def _infer_args(*argv: str) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(["infer", *argv])
    if not hasattr(args, "profile"):  # until the options are added to `infer` itself
        extra = argparse.ArgumentParser(add_help=False)
        add_profile_options(extra)
        extra.parse_known_args([], namespace=args)
    return args


@pytest.fixture
def isolated_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("PINOCCHIO_") or name == "XDG_CONFIG_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    return home


def test_infer_engine_uses_pinocchio_profile_from_environment(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pinocchio_profiles(isolated_env), PINOCCHIO_EXAMPLE)
    monkeypatch.setenv("PINOCCHIO_PROFILE", "gemini-2.5-flash-lite")
    args = _infer_args("hello")
    resolved = resolve_from_args(args)
    assert (resolved.settings.resolved_api_type(), resolved.settings.chat.engine) == (
        "gemini",
        "gemini-2.5-flash-lite",
    )
    with pytest.raises(ConfigError, match="missing API key gemini-api-key: set GEMINI_API_KEY or GOOGLE"):
        engine_from_args(args)


def test_infer_engine_flags_still_work(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(pinocchio_profiles(isolated_env), PINOCCHIO_EXAMPLE)
    monkeypatch.setenv("PINOCCHIO_PROFILE", "gemini-2.5-flash-lite")
    assert isinstance(engine_from_args(_infer_args("x", "--ai-api-type", "echo")), EchoEngine)


def test_infer_engine_default_without_configuration(isolated_env: Path) -> None:
    from geppetto.profiles import engine_api_type

    resolved = resolve_from_args(_infer_args("x"))
    assert resolved.profile is None and engine_api_type(resolved) == ""  # the factory default (local)


def test_geppetto_infer_with_pinocchio_profile(home: Path, run_cli: RunCli) -> None:
    import subprocess
    import sys

    from profile_helpers import clean_env

    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    env = clean_env(home, PINOCCHIO_PROFILE="gemini-2.5-flash-lite")
    cli = [sys.executable, "-m", "geppetto", "infer", "hello", "--no-store"]
    result = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "missing API key gemini-api-key: set GEMINI_API_KEY or GOOGLE_API_KEY" in result.stderr
    echo = subprocess.run(
        [*cli, "--ai-api-type", "echo"], env=env, capture_output=True, text=True, timeout=60
    )
    assert echo.returncode == 0, echo.stderr
    assert "READY" in echo.stdout
