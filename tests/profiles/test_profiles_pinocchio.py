"""Pinocchio's profiles.yaml (profile -> section slug -> field): locations, format, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_helpers import (
    PINOCCHIO_EXAMPLE,
    geppetto_profiles,
    pinocchio_profiles,
    write,
)

from geppetto.errors import ConfigError
from geppetto.profiles import resolve_run_settings
from geppetto.profiles.resolve import load_catalog


def test_reference_example_works_unchanged(home: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    gemini = resolve_run_settings(profile="gemini-2.5-flash-lite", environ={}, home=home)
    assert gemini.settings.chat.engine == "gemini-2.5-flash-lite"
    assert gemini.settings.chat.api_type == "gemini"
    mixtral = resolve_run_settings(profile="mixtral", environ={}, home=home)
    assert mixtral.settings.chat.engine == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    assert mixtral.settings.api.base_urls["openai-base-url"] == "https://api.endpoints.anyscale.com/v1"
    assert mixtral.settings.api.api_keys["openai-api-key"] == "XXX"
    assert mixtral.registry == "pinocchio"
    assert mixtral.profile_source == str(pinocchio_profiles(home))


def test_xdg_config_home_wins_over_home(home: Path, tmp_path: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  ai-chat: {ai-engine: from-home}\n")
    xdg = tmp_path / "xdg"
    write(xdg / "pinocchio" / "profiles.yaml", "p:\n  ai-chat: {ai-engine: from-xdg}\n")
    resolved = resolve_run_settings(profile="p", environ={"XDG_CONFIG_HOME": str(xdg)}, home=home)
    assert resolved.settings.chat.engine == "from-xdg"


def test_home_defaults_to_environ_home(home: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  ai-chat: {ai-engine: m}\n")
    resolved = resolve_run_settings(profile="p", environ={"HOME": str(home)})
    assert resolved.settings.chat.engine == "m"


def test_profile_file_flag_replaces_default_file(home: Path, tmp_path: Path) -> None:
    write(pinocchio_profiles(home), "only-default:\n  ai-chat: {ai-engine: a}\n")
    other = write(tmp_path / "other.yaml", "p:\n  ai-chat: {ai-engine: from-flag}\n")
    resolved = resolve_run_settings(profile="p", profile_file=other, environ={}, home=home)
    assert resolved.settings.chat.engine == "from-flag"
    with pytest.raises(ConfigError, match="profile only-default not found"):
        resolve_run_settings(profile="only-default", profile_file=other, environ={}, home=home)


def test_profile_file_from_environment(home: Path, tmp_path: Path) -> None:
    other = write(tmp_path / "env.yaml", "p:\n  ai-chat: {ai-engine: from-env-file}\n")
    flag = write(tmp_path / "flag.yaml", "p:\n  ai-chat: {ai-engine: from-flag-file}\n")
    env = {"PINOCCHIO_PROFILE_FILE": str(other)}
    assert resolve_run_settings(profile="p", environ=env, home=home).settings.chat.engine == "from-env-file"
    resolved = resolve_run_settings(profile="p", profile_file=flag, environ=env, home=home)
    assert resolved.settings.chat.engine == "from-flag-file"


def test_profile_file_tilde_is_the_given_home(home: Path) -> None:
    write(home / "mine.yaml", "p:\n  ai-chat: {ai-engine: tilde}\n")
    resolved = resolve_run_settings(profile="p", profile_file="~/mine.yaml", environ={}, home=home)
    assert resolved.settings.chat.engine == "tilde"


def test_geppetto_profiles_file_is_read_and_wins_over_pinocchio(home: Path) -> None:
    write(
        pinocchio_profiles(home),
        "shared:\n  ai-chat: {ai-engine: pino}\nonly-pino:\n  ai-chat: {ai-engine: p}\n",
    )
    write(geppetto_profiles(home), "shared:\n  ai-chat: {ai-engine: gep}\n")
    shared = resolve_run_settings(profile="shared", environ={}, home=home)
    assert shared.settings.chat.engine == "gep"
    assert shared.registry == "geppetto"
    assert resolve_run_settings(profile="only-pino", environ={}, home=home).settings.chat.engine == "p"


def test_default_profile_applies_when_nothing_selected(home: Path) -> None:
    write(
        pinocchio_profiles(home),
        "default:\n  ai-chat: {ai-engine: dflt}\nother:\n  ai-chat: {ai-engine: o}\n",
    )
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.profile == "default"
    assert resolved.settings.chat.engine == "dflt"


def test_no_default_profile_means_no_profile(home: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.profile is None
    assert resolved.settings.chat.engine == ""
    assert resolved.origins == {}


def test_nothing_configured_at_all(home: Path) -> None:
    resolved = resolve_run_settings(environ={}, home=home)
    assert resolved.profile is None and resolved.origins == {} and resolved.warnings == []


def test_all_reference_sections_load(home: Path) -> None:
    write(
        pinocchio_profiles(home),
        """\
        full:
          ai-chat:
            ai-engine: gpt-4o-mini
            ai-api-type: openai
            ai-max-response-tokens: 512
            ai-temperature: 0.2
            ai-top-p: 0.9
            ai-stop: [END]
            ai-stream: false
            ai-cache-type: memory
            ai-cache-max-entries: 10
          ai-client:
            timeout: 30
            organization: org-1
          openai-chat:
            openai-n: 1
            openai-reasoning-effort: low
          claude-chat:
            claude-top-k: 5
            claude-base-url: https://claude.example/
          gemini-chat:
            gemini-base-url: https://gemini.example/
          embeddings:
            embeddings-engine: text-embedding-3-small
          ai-inference:
            inference-thinking-budget: 100
        """,
    )
    s = resolve_run_settings(profile="full", environ={}, home=home).settings
    assert (s.chat.max_response_tokens, s.chat.temperature, s.chat.top_p) == (512, 0.2, 0.9)
    assert s.chat.stop == ["END"] and s.chat.stream is False
    assert s.client.timeout == 30 and s.client.organization == "org-1"
    assert s.openai.reasoning_effort == "low" and s.claude.top_k == 5
    assert s.api.base_urls["claude-base-url"] == "https://claude.example/"
    assert s.api.base_urls["gemini-base-url"] == "https://gemini.example/"


def test_unknown_section_is_named_with_suggestion(home: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  ai-caht:\n    ai-engine: x\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="p", environ={}, home=home)
    message = str(exc.value)
    assert str(pinocchio_profiles(home)) in message
    assert "unknown section 'ai-caht'" in message and "did you mean 'ai-chat'" in message


def test_unknown_field_is_named_with_suggestion(home: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  ai-chat:\n    ai-engnie: x\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="p", environ={}, home=home)
    assert "unknown field 'ai-engnie' in section ai-chat (did you mean 'ai-engine'?)" in str(exc.value)
    assert "profile p" in str(exc.value)


def test_misspelled_key_field_is_caught(home: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  openai-chat:\n    opnai-api-key: x\n")
    with pytest.raises(ConfigError, match=r"unknown field 'opnai-api-key'.*did you mean 'openai-api-key'"):
        resolve_run_settings(profile="p", environ={}, home=home)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "ai-chat: {ai-max-response-tokens: many}",
            "ai-max-response-tokens must be a whole number of at least 1, got a string that is not a number",
        ),
        ("ai-chat: {ai-stream: maybe}", "invalid value for ai-stream: expected true or false"),
        ("ai-chat: {ai-engine: [a, b]}", "invalid value for ai-engine: expected a string, got list"),
        ("openai-chat: {openai-api-key: {a: 1}}", "invalid value for openai-api-key: expected a string"),
        ("ai-chat: [1, 2]", "section ai-chat must be a mapping"),
        ("[1, 2]", "expected a mapping of section: fields"),
    ],
)
def test_wrong_value_types(home: Path, body: str, expected: str) -> None:
    write(pinocchio_profiles(home), f"p:\n  {body}\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="p", environ={}, home=home)
    assert expected in str(exc.value)
    assert str(pinocchio_profiles(home)) in str(exc.value)


def test_one_bad_profile_does_not_block_the_others_in_its_file(home: Path) -> None:
    write(
        pinocchio_profiles(home),
        "bad:\n  ai-chat: {ai-temperature: hot}\ngood:\n  ai-chat: {ai-engine: ok}\n",
    )
    assert resolve_run_settings(profile="good", environ={}, home=home).settings.chat.engine == "ok"
    with pytest.raises(ConfigError, match="profile bad: ai-temperature must be between 0 and 2"):
        resolve_run_settings(profile="bad", environ={}, home=home)


def test_yaml_syntax_error_names_file_and_line(home: Path) -> None:
    path = write(pinocchio_profiles(home), "p:\n  ai-chat:\n    ai-engine: x\n  bad: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="p", environ={}, home=home)
    message = str(exc.value)
    assert str(path) in message and "YAML syntax error at line" in message


def test_yaml_error_line_number_is_right(home: Path) -> None:
    path = write(
        pinocchio_profiles(home), "a:\n  ai-chat:\n    ai-engine: x\nb:\n  ai-chat:\n    ai-engine: x: y\n"
    )
    catalog = load_catalog(environ={}, home=home)
    (source,) = [s for s in catalog.sources if s.label == str(path)]
    assert source.error == (
        f"{path}: YAML syntax error at line 6, column 17: mapping values are not allowed in this context"
    )


def test_duplicate_profile_names_are_an_error(home: Path) -> None:
    write(pinocchio_profiles(home), "p:\n  ai-chat: {ai-engine: a}\np:\n  ai-chat: {ai-engine: b}\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'p' \(first defined at line 1\)"):
        resolve_run_settings(profile="p", environ={}, home=home)


def test_broken_default_file_does_not_block_other_sources(home: Path) -> None:
    write(pinocchio_profiles(home), "p: [unclosed\n")
    write(geppetto_profiles(home), "q:\n  ai-chat: {ai-engine: fine}\n")
    resolved = resolve_run_settings(profile="q", environ={}, home=home)
    assert resolved.settings.chat.engine == "fine"
    assert any(str(pinocchio_profiles(home)) in w for w in resolved.warnings)
    # builtins and the no-profile default keep working too
    assert resolve_run_settings(profile="echo", environ={}, home=home).settings.chat.api_type == "echo"
    assert resolve_run_settings(environ={}, home=home).profile is None


def test_broken_file_is_reported_when_profile_is_found_nowhere(home: Path) -> None:
    write(pinocchio_profiles(home), "p: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="p", environ={}, home=home)
    assert "profile p not found" in str(exc.value)
    assert "could not read" in str(exc.value) and "YAML syntax error" in str(exc.value)


def test_broken_explicit_file_fails_the_run(home: Path, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "p: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{bad}: YAML syntax error"):
        resolve_run_settings(profile_file=bad, environ={}, home=home)


def test_missing_explicit_profile_file(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"profile file {missing} does not exist"):
        resolve_run_settings(profile_file=missing, environ={}, home=home)


def test_not_found_lists_files_and_known_profiles(home: Path) -> None:
    write(pinocchio_profiles(home), PINOCCHIO_EXAMPLE)
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="gpt-9", environ={}, home=home)
    message = str(exc.value)
    assert message.startswith(f"profile gpt-9 not found in {pinocchio_profiles(home)}")
    assert "known profiles: gemini-2.5-flash-lite, mixtral, echo, local" in message


def test_empty_file_and_empty_profile(home: Path) -> None:
    write(pinocchio_profiles(home), "")
    assert resolve_run_settings(environ={}, home=home).profile is None
    write(pinocchio_profiles(home), "empty:\n")
    resolved = resolve_run_settings(profile="empty", environ={}, home=home)
    assert resolved.profile == "empty" and resolved.origins == {}
