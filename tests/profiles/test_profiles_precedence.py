"""Precedence (defaults < profile < config < env < flags), profile selection, config files,
built-in profiles, and the engine a resolution builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_helpers import (
    PINOCCHIO_EXAMPLE,
    geppetto_config,
    pinocchio_config,
    pinocchio_profiles,
    write,
)

from geppetto.engines import engine_for
from geppetto.engines.echo import EchoEngine
from geppetto.errors import ConfigError
from geppetto.profiles import lookup_profile, resolve_run_settings

PROFILES = """\
p:
  ai-chat:
    ai-engine: from-profile
    ai-temperature: 0.1
    ai-top-p: 0.1
    ai-max-response-tokens: 10
    ai-stop: [profile]
other:
  ai-chat:
    ai-engine: other-profile
"""


def _setup_all_layers(home: Path) -> None:
    write(pinocchio_profiles(home), PROFILES)
    write(
        geppetto_config(home),
        "ai-chat:\n  ai-temperature: 0.2\n  ai-top-p: 0.2\n  ai-max-response-tokens: 20\n",
    )


def test_whole_precedence_order(home: Path) -> None:
    """Each field is set by every layer up to one; the highest of those wins."""
    _setup_all_layers(home)
    env = {"PINOCCHIO_AI_TOP_P": "0.3", "PINOCCHIO_AI_MAX_RESPONSE_TOKENS": "30"}
    flags = {"ai_max_response_tokens": "40"}
    resolved = resolve_run_settings(profile="p", flags=flags, environ=env, home=home)
    chat = resolved.settings.chat
    assert chat.stream is True and resolved.origin("ai-stream").layer == "default"
    assert chat.stop == ["profile"] and resolved.origin("ai-stop").layer == "profile"
    assert chat.temperature == 0.2 and resolved.origin("ai-temperature").layer == "config"
    assert chat.top_p == 0.3 and resolved.origin("ai-top-p").layer == "env"
    assert chat.max_response_tokens == 40 and resolved.origin("ai-max-response-tokens").layer == "flags"
    assert resolved.origin("ai-top-p").source == "PINOCCHIO_AI_TOP_P"
    assert resolved.origin("ai-max-response-tokens").source == "--ai-max-response-tokens"
    assert resolved.origin("ai-temperature").source == str(geppetto_config(home))


def test_pinocchio_config_is_below_geppetto_config(home: Path) -> None:
    write(
        pinocchio_config(home),
        "ai-chat:\n  ai-engine: pino-config\n  ai-temperature: 0.5\nrepositories: [/x]\n",
    )
    write(geppetto_config(home), "ai-chat:\n  ai-temperature: 0.6\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.settings.chat.engine == "pino-config"
    assert resolved.settings.chat.temperature == 0.6


def test_an_explicit_config_file_is_read_last_of_the_config_files(home: Path, tmp_path: Path) -> None:
    write(geppetto_config(home), "ai-chat:\n  ai-temperature: 0.6\n  ai-engine: from-geppetto\n")
    named = write(
        tmp_path / "team.yaml",
        "ai-chat:\n  ai-temperature: 0.9\nprofile-settings:\n  profile: other\nrepositories: [/x]\n",
    )
    write(pinocchio_profiles(home), PROFILES)
    resolved = resolve_run_settings(config_file=str(named), environ={}, home=home)
    assert resolved.settings.chat.temperature == 0.9
    assert resolved.origin("ai-temperature").source == str(named)
    assert resolved.profile == "other"  # the named file can select the profile too
    flags = resolve_run_settings(config_file=str(named), flags={"ai_temperature": 0.1}, environ={}, home=home)
    assert flags.settings.chat.temperature == 0.1  # flags still win
    with pytest.raises(ConfigError, match=r"--config-file: no such file: .*missing\.yaml"):
        resolve_run_settings(config_file=str(tmp_path / "missing.yaml"), environ={}, home=home)


def test_config_file_flag_reaches_infer(home: Path, tmp_path: Path) -> None:
    from geppetto.cli import build_parser
    from geppetto.cli.profiles import resolve_from_args

    named = write(tmp_path / "c.yaml", "ai-chat:\n  ai-api-type: echo\n  ai-engine: named-model\n")

    args = build_parser().parse_args(["infer", "hi", "--config-file", str(named)])
    assert resolve_from_args(args).settings.chat.engine == "named-model"


def test_pinocchio_config_fallback_locations(home: Path) -> None:
    write(home / ".pinocchio" / "config.yaml", "ai-chat:\n  ai-engine: dot-pinocchio\n")
    assert resolve_run_settings(environ={}, home=home).settings.chat.engine == "dot-pinocchio"
    write(pinocchio_config(home), "ai-chat:\n  ai-engine: xdg\n")
    assert resolve_run_settings(environ={}, home=home).settings.chat.engine == "xdg"


def test_pinocchio_config_tolerates_other_tools_sections(home: Path) -> None:
    write(pinocchio_config(home), "some-pinocchio-command:\n  flag: 1\nai-chat:\n  ai-engine: m\n")
    assert resolve_run_settings(environ={}, home=home).settings.chat.engine == "m"


def test_geppetto_config_is_strict(home: Path) -> None:
    write(geppetto_config(home), "ai-chta:\n  ai-engine: m\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(environ={}, home=home)
    assert str(geppetto_config(home)) in str(exc.value) and "did you mean 'ai-chat'" in str(exc.value)


def test_config_flat_fields_are_accepted(home: Path) -> None:
    write(geppetto_config(home), "ai-engine: flat\nopenai-api-key: sk-flat\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.settings.chat.engine == "flat"
    assert resolved.settings.api.api_keys["openai-api-key"] == "sk-flat"


def test_config_wrong_types_and_syntax(home: Path) -> None:
    write(geppetto_config(home), "ai-chat:\n  ai-temperature: [1]\n")
    with pytest.raises(ConfigError, match="ai-temperature must be between 0 and 2"):
        resolve_run_settings(environ={}, home=home)
    write(geppetto_config(home), "ai-chat: {ai-temperature: 1\n")
    with pytest.raises(ConfigError, match=f"{geppetto_config(home)}: YAML syntax error at line"):
        resolve_run_settings(environ={}, home=home)
    write(geppetto_config(home), "profile-settings:\n  profil: x\n")
    with pytest.raises(ConfigError, match="unknown field 'profil' \\(did you mean 'profile'\\?\\)"):
        resolve_run_settings(environ={}, home=home)


# -- profile selection -------------------------------------------------------------------------


def test_selection_order_flag_env_config_default(home: Path) -> None:
    write(
        pinocchio_profiles(home),
        "default:\n  ai-chat: {ai-engine: d}\nc:\n  ai-chat: {ai-engine: c}\n"
        "e:\n  ai-chat: {ai-engine: e}\nf:\n  ai-chat: {ai-engine: f}\n",
    )
    assert resolve_run_settings(environ={}, home=home).settings.chat.engine == "d"
    write(geppetto_config(home), "profile-settings:\n  profile: c\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.settings.chat.engine == "c" and resolved.selected_by == f"config {geppetto_config(home)}"
    env = {"PINOCCHIO_PROFILE": "e"}
    resolved = resolve_run_settings(environ=env, home=home)
    assert resolved.settings.chat.engine == "e" and resolved.selected_by == "PINOCCHIO_PROFILE"
    resolved = resolve_run_settings(profile="f", environ=env, home=home)
    assert resolved.settings.chat.engine == "f" and resolved.selected_by == "--profile"


def test_pinocchio_config_selects_profile_and_file(home: Path, tmp_path: Path) -> None:
    profiles = write(tmp_path / "team" / "profiles.yaml", "team:\n  ai-chat: {ai-engine: team-model}\n")
    write(pinocchio_config(home), f"profile-settings:\n  profile: team\n  profile-file: {profiles}\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.profile == "team" and resolved.settings.chat.engine == "team-model"


def test_config_relative_paths_are_relative_to_the_config_file(home: Path) -> None:
    write(home / ".config" / "geppetto" / "mine.yaml", "x:\n  ai-chat: {ai-engine: rel}\n")
    write(geppetto_config(home), "profile-settings:\n  profile: x\n  profile-file: mine.yaml\n")
    assert resolve_run_settings(environ={}, home=home).settings.chat.engine == "rel"


def test_config_values_beat_the_profile_it_selects(home: Path) -> None:
    write(pinocchio_profiles(home), PROFILES)
    write(geppetto_config(home), "profile-settings: {profile: p}\nai-chat: {ai-engine: config-engine}\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.profile == "p" and resolved.settings.chat.engine == "config-engine"


# -- keys from the environment -----------------------------------------------------------------


def test_provider_key_variables_are_env_level(home: Path) -> None:
    write(pinocchio_profiles(home), "g:\n  gemini-chat: {gemini-api-key: from-profile}\n")
    env = {"GEMINI_API_KEY": "from-env"}
    resolved = resolve_run_settings(profile="g", environ=env, home=home)
    assert resolved.settings.api.api_keys["gemini-api-key"] == "from-env"
    assert resolved.origin("gemini-api-key").source == "GEMINI_API_KEY"
    # GOOGLE_API_KEY is the fallback variable; PINOCCHIO_ variables are more specific
    resolved = resolve_run_settings(environ={"GOOGLE_API_KEY": "g2"}, home=home)
    assert resolved.settings.api.api_keys["gemini-api-key"] == "g2"
    both = {"GEMINI_API_KEY": "g1", "GOOGLE_API_KEY": "g2", "PINOCCHIO_GEMINI_API_KEY": "g3"}
    resolved = resolve_run_settings(environ=both, home=home)
    assert resolved.settings.api.api_keys["gemini-api-key"] == "g3"
    # flags beat everything
    resolved = resolve_run_settings(flags={"gemini_api_key": "g4"}, environ=both, home=home)
    assert resolved.settings.api.api_keys["gemini-api-key"] == "g4"


def test_provider_key_variable_never_replaces_a_key_bound_to_a_custom_endpoint(home: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    resolved = resolve_run_settings(
        profile="mixtral", environ={"OPENAI_API_KEY": "sk-openai-real"}, home=home
    )
    assert resolved.settings.api.api_keys["openai-api-key"] == "XXX"
    assert resolved.origin("openai-api-key").layer == "profile"
    # the explicit PINOCCHIO_ variable still wins: the user named that field
    resolved = resolve_run_settings(
        profile="mixtral", environ={"PINOCCHIO_OPENAI_API_KEY": "chosen"}, home=home
    )
    assert resolved.settings.api.api_keys["openai-api-key"] == "chosen"


def test_env_values_are_checked(home: Path) -> None:
    with pytest.raises(ConfigError, match="PINOCCHIO_AI_TEMPERATURE: ai-temperature must be between 0 and 2"):
        resolve_run_settings(environ={"PINOCCHIO_AI_TEMPERATURE": "warm"}, home=home)


def test_unknown_flag_is_named(home: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"flag --ai-temprature: unknown field.*did you mean 'ai-temperature'"
    ):
        resolve_run_settings(flags={"ai_temprature": 1}, environ={}, home=home)


def test_profile_selection_variables_are_not_fields(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "x:\n  ai-chat: {ai-engine: m}\n")
    env = {"PINOCCHIO_PROFILE": "x", "PINOCCHIO_PROFILE_FILE": str(path)}
    resolved = resolve_run_settings(environ=env, home=home)
    assert set(resolved.origins) == {"ai-engine"}


# -- built-ins and engines ---------------------------------------------------------------------


def test_builtin_profiles(home: Path) -> None:
    echo = resolve_run_settings(profile="echo", environ={}, home=home)
    assert echo.registry == "builtin" and echo.settings.chat.api_type == "echo"
    assert isinstance(engine_for(echo), EchoEngine)
    local = resolve_run_settings(profile="local", environ={}, home=home)
    assert local.settings.chat.api_type == "local"


def test_user_profiles_replace_builtins(home: Path) -> None:
    write(pinocchio_profiles(home), "echo:\n  ai-chat: {ai-engine: gpt-4o-mini, ai-api-type: openai}\n")
    assert resolve_run_settings(profile="echo", environ={}, home=home).settings.chat.api_type == "openai"


def test_flags_beat_the_profile_api_type(home: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    resolved = resolve_run_settings(
        flags={"ai_api_type": "echo"}, environ={"PINOCCHIO_PROFILE": "gemini-2.5-flash-lite"}, home=home
    )
    assert isinstance(engine_for(resolved), EchoEngine)


def test_gemini_profile_from_environment_selects_gemini(home: Path) -> None:
    """The issue's acceptance case: PINOCCHIO_PROFILE plus a pinocchio-style file."""
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    env = {"PINOCCHIO_PROFILE": "gemini-2.5-flash-lite"}
    resolved = resolve_run_settings(environ=env, home=home)
    assert resolved.settings.resolved_api_type() == "gemini"
    assert resolved.settings.chat.engine == "gemini-2.5-flash-lite"
    with pytest.raises(ConfigError) as exc:
        engine_for(resolved)
    assert "missing API key gemini-api-key: set GEMINI_API_KEY or GOOGLE_API_KEY, or --gemini-api-key" in str(
        exc.value
    )
    keyed = resolve_run_settings(environ={**env, "GEMINI_API_KEY": "k-123456"}, home=home)
    engine = engine_for(keyed)
    assert "gemini" in type(engine).__name__.lower()


def test_provider_engine_gets_the_resolved_settings(home: Path) -> None:
    write(
        pinocchio_profiles(home),
        "vllm:\n  ai-chat: {ai-engine: qwen, ai-api-type: openai, ai-temperature: 0.25}\n"
        "  openai-chat: {openai-base-url: 'http://127.0.0.1:9/v1'}\n",
    )
    engine = engine_for(resolve_run_settings(profile="vllm", environ={}, home=home))
    config = engine.config
    assert (config.model, config.base_url) == ("qwen", "http://127.0.0.1:9/v1")
    assert config.settings.chat.temperature == 0.25


def test_unknown_api_type_in_profile(home: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  ai-chat: {ai-api-type: gemnii, ai-engine: m}\n")
    with pytest.raises(ConfigError, match=r"unknown provider gemnii.*profile p from"):
        engine_for(resolve_run_settings(profile="p", environ={}, home=home))


# -- lookup_profile (JS engines.fromProfile) ---------------------------------------------------


def test_lookup_profile_found_and_not_found(home: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    found = lookup_profile("gemini-2.5-flash-lite", environ={"PINOCCHIO_AI_TEMPERATURE": "0.4"}, home=home)
    assert found is not None and found.settings.chat.api_type == "gemini"
    assert found.settings.chat.temperature == 0.4
    assert lookup_profile("gpt-4o-mini", environ={}, home=home) is None
    assert lookup_profile("echo", environ={}, home=home) is not None


def test_lookup_profile_with_broken_files(home: Path, tmp_path: Path) -> None:
    write(pinocchio_profiles(home), "x: [broken\n")
    assert lookup_profile("gpt-4o-mini", environ={}, home=home) is None  # default file: skipped
    bad = write(tmp_path / "bad.yaml", "x: [broken\n")
    with pytest.raises(ConfigError, match="YAML syntax error"):
        lookup_profile("gpt-4o-mini", profile_file=bad, environ={}, home=home)


def test_explicit_default_that_exists_nowhere_is_not_an_error(home: Path) -> None:
    resolved = resolve_run_settings(profile="default", environ={}, home=home)
    assert resolved.profile is None


def test_implicit_default_selection_is_reported(home: Path) -> None:
    write(pinocchio_profiles(home), "default:\n  ai-chat: {ai-engine: d}\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.selected_by == "default"
    assert resolve_run_settings(environ={}, home=home / "empty").selected_by == ""


def test_config_selects_registries(home: Path) -> None:
    write(
        home / ".config" / "geppetto" / "team.yaml",
        "slug: team\nprofiles:\n  fast: {inference_settings: {chat: {engine: fast-model}}}\n",
    )
    write(geppetto_config(home), "profile-settings:\n  profile-registries: team.yaml\n")
    resolved = resolve_run_settings(environ={}, home=home)
    assert (resolved.registry, resolved.profile, resolved.settings.chat.engine) == (
        "team",
        "fast",
        "fast-model",
    )


def test_config_flat_typo_suggests_the_field(home: Path) -> None:
    write(geppetto_config(home), "ai-engien: x\n")
    with pytest.raises(ConfigError, match=r"unknown field 'ai-engien' \(did you mean 'ai-engine'\?\)"):
        resolve_run_settings(environ={}, home=home)
    write(pinocchio_config(home), "ai-engien: x\n")
    geppetto_config(home).unlink()
    assert resolve_run_settings(environ={}, home=home).origins == {}  # pinocchio's file: skipped


def test_local_engine_gets_only_explicit_sampling_values(home: Path) -> None:
    pytest.importorskip("xllamacpp")
    from geppetto.engines.local import BUNDLED_TEMPERATURE, DEFAULT_MAX_TOKENS

    plain = engine_for(resolve_run_settings(profile="local", environ={}, home=home))
    assert plain.temperature == BUNDLED_TEMPERATURE
    assert plain.max_tokens == DEFAULT_MAX_TOKENS  # the local engine's own cap
    flags = {"ai_temperature": "0.5", "ai_max_response_tokens": "64"}
    tuned = engine_for(resolve_run_settings(profile="local", flags=flags, environ={}, home=home))
    assert tuned.temperature == 0.5
    assert tuned.max_tokens == 64
