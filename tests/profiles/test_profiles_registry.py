"""The registry format: YAML and SQLite sources, slugs, defaults, stacks, provenance, bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from profile_helpers import geppetto_profiles, pinocchio_profiles, write

from geppetto.errors import ConfigError
from geppetto.profiles import resolve_run_settings
from geppetto.profiles.formats import normalize_slug
from geppetto.profiles.resolve import load_catalog
from geppetto.profiles.sqlite_source import write_registry

WORKSPACE = """\
slug: workspace
display_name: Workspace
profiles:
  base:
    inference_settings:
      chat: {api_type: openai, engine: gpt-4o-mini, temperature: 0.3}
      api:
        base_urls: {openai-base-url: "http://localhost:8000/v1"}
      client: {timeout_second: 20}
  fast:
    stack:
      - profile_slug: base
    inference_settings:
      chat: {engine: gpt-4o, max_response_tokens: 256}
    metadata: {version: 3}
"""


def _registry(slug: str, **profiles: dict[str, Any]) -> dict[str, Any]:
    return {"slug": slug, "profiles": profiles}


def test_yaml_registry_with_stack_merges_base_to_leaf(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "workspace.yaml", WORKSPACE)
    resolved = resolve_run_settings(profile="fast", profile_registries=str(path), environ={}, home=home)
    s = resolved.settings
    assert s.chat.engine == "gpt-4o"  # leaf wins
    assert s.chat.temperature == 0.3  # from the base
    assert s.chat.max_response_tokens == 256
    assert s.client.timeout == 20  # timeout_second normalised
    assert s.api.base_urls["openai-base-url"] == "http://localhost:8000/v1"
    assert [(e.registry, e.profile) for e in resolved.lineage] == [
        ("workspace", "base"),
        ("workspace", "fast"),
    ]
    assert resolved.lineage[1].version == "3"


def test_provenance_names_the_stack_layer_of_each_value(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "workspace.yaml", WORKSPACE)
    resolved = resolve_run_settings(profile="fast", profile_registries=str(path), environ={}, home=home)
    engine = resolved.origin("ai-engine")
    temperature = resolved.origin("ai-temperature")
    assert (engine.layer, engine.registry, engine.profile, engine.source) == (
        "profile",
        "workspace",
        "fast",
        str(path),
    )
    assert (temperature.registry, temperature.profile) == ("workspace", "base")
    assert resolved.origin("ai-top-p").layer == "default"
    provenance = resolved.provenance()
    assert provenance["registrySlug"] == "workspace" and provenance["profileSlug"] == "fast"
    assert provenance["stackLineage"][0] == {
        "registrySlug": "workspace",
        "profileSlug": "base",
        "source": str(path),
    }
    assert provenance["values"]["ai-temperature"]["profileSlug"] == "base"


def test_diamond_stack_visits_each_base_once(home: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.yaml",
        """\
        slug: r
        profiles:
          root: {inference_settings: {chat: {engine: root, temperature: 0.1}}}
          left: {stack: [{profile_slug: root}], inference_settings: {chat: {engine: left}}}
          right: {stack: [{profile_slug: root}], inference_settings: {chat: {temperature: 0.9}}}
          leaf: {stack: [{profile_slug: left}, {profile_slug: right}]}
        """,
    )
    resolved = resolve_run_settings(profile="leaf", profile_registries=str(path), environ={}, home=home)
    assert [e.profile for e in resolved.lineage] == ["root", "left", "right", "leaf"]
    assert resolved.settings.chat.engine == "left" and resolved.settings.chat.temperature == 0.9


def test_map_fields_deep_merge_along_the_stack(home: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.yaml",
        """\
        slug: r
        profiles:
          base: {inference_settings: {openai: {logit_bias: {"50256": -100, "1000": 5}}}}
          leaf:
            stack: [{profile_slug: base}]
            inference_settings: {openai: {logit_bias: {"1000": -5, "42": 1}}}
        """,
    )
    resolved = resolve_run_settings(profile="leaf", profile_registries=str(path), environ={}, home=home)
    assert resolved.settings.openai.logit_bias == {"50256": -100, "1000": -5, "42": 1}
    flagged = resolve_run_settings(
        profile="leaf",
        profile_registries=str(path),
        flags={"openai-logit-bias": '{"7": 1}'},
        environ={},
        home=home,
    )
    assert flagged.settings.openai.logit_bias == {"7": 1}  # a flag still replaces the whole map


def test_stack_across_registries(home: Path, tmp_path: Path) -> None:
    shared = write(
        tmp_path / "shared.yaml",
        "slug: shared\nprofiles:\n  keys:\n    inference_settings:\n"
        "      api: {base_urls: {claude-base-url: 'https://proxy.example'}}\n",
    )
    team = write(
        tmp_path / "team.yaml",
        "slug: team\nprofiles:\n  claude:\n    stack:\n"
        "      - {registry_slug: shared, profile_slug: keys}\n"
        "    inference_settings: {chat: {api_type: claude, engine: claude-haiku-4-5}}\n",
    )
    resolved = resolve_run_settings(
        profile="claude", profile_registries=f"{shared},{team}", environ={}, home=home
    )
    assert resolved.settings.api.base_urls["claude-base-url"] == "https://proxy.example"
    assert resolved.origin("claude-base-url").registry == "shared"


def test_stack_cycle_is_detected(home: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.yaml",
        "slug: r\nprofiles:\n  a: {stack: [{profile_slug: b}]}\n  b: {stack: [{profile_slug: c}]}\n"
        "  c: {stack: [{profile_slug: a}]}\n",
    )
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="a", profile_registries=str(path), environ={}, home=home)
    assert "stack cycle detected: r/a -> r/b -> r/c -> r/a" in str(exc.value)
    assert str(path) in str(exc.value)


def test_self_reference_is_a_cycle(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", "slug: r\nprofiles:\n  a: {stack: [a]}\n")
    with pytest.raises(ConfigError, match="stack cycle detected: r/a -> r/a"):
        resolve_run_settings(profile="a", profile_registries=str(path), environ={}, home=home)


def test_missing_stack_references(home: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.yaml",
        "slug: r\nprofiles:\n  a: {stack: [{profile_slug: ghost}]}\n"
        "  b: {stack: [{registry_slug: nowhere, profile_slug: x}]}\n",
    )
    with pytest.raises(ConfigError, match="referenced profile 'ghost' not found in registry 'r'"):
        resolve_run_settings(profile="a", profile_registries=str(path), environ={}, home=home)
    with pytest.raises(ConfigError, match="referenced registry 'nowhere' not found"):
        resolve_run_settings(profile="b", profile_registries=str(path), environ={}, home=home)


def test_slug_rules() -> None:
    assert normalize_slug("  Fast-Model.v2 ") == "fast-model.v2"
    assert normalize_slug("a") == "a"
    for bad in ("", "-lead", "trail_", "has space", "x/y", "a" * 129, 7):
        assert normalize_slug(bad) is None
    assert normalize_slug("a" * 128) == "a" * 128


def test_profile_keys_are_normalised_and_looked_up_case_insensitively(home: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.yaml", "slug: Team\nprofiles:\n  Fast: {inference_settings: {chat: {engine: m}}}\n"
    )
    resolved = resolve_run_settings(profile="FAST", profile_registries=str(path), environ={}, home=home)
    assert (resolved.registry, resolved.profile) == ("team", "fast")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slug: 'Bad Slug'\nprofiles: {}\n", "invalid registry slug 'Bad Slug'"),
        ("slug: r\nprofiles:\n  'no good': {}\n", "invalid profile slug 'no good'"),
        ("profiles:\n  a: {inference_settings: {}}\n", "missing slug"),
        ("registries:\n  a: {slug: a}\n", "top-level registries is not supported"),
        ("slug: r\ndefault_profile_slug: a\nprofiles: {}\n", "default_profile_slug is not supported"),
        ("a:\n  ai-chat: {ai-engine: x}\n", "legacy profile-map format is not supported"),
        ("slug: r\nprofils: {}\n", "unknown key 'profils' (did you mean 'profiles'?)"),
        ("slug: r\nprofiles: [a]\n", "profiles must be a mapping"),
    ],
)
def test_registry_source_rejections(home: Path, tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "r.yaml", text)
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile_registries=str(path), environ={}, home=home)
    assert expected in str(exc.value) and str(path) in str(exc.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("inference_settings: {chat: {engnie: x}}", "unknown field 'engnie' in inference_settings.chat"),
        ("inference_settings: {chatt: {engine: x}}", "unknown section 'chatt' in inference_settings"),
        ("inference_settings: {chat: {temperature: hot}}", "ai-temperature must be between 0 and 2"),
        ("inference_settings: {api: {api_keys: {openai: x}}}", "must be named <type>-api-key"),
        ("stack: base", "stack must be a list"),
        ("slug: other", "does not match its key"),
        ("inference: {}", "unknown key 'inference' (did you mean 'inference_settings'?)"),
    ],
)
def test_profile_level_errors_only_fail_that_profile(
    home: Path, tmp_path: Path, body: str, expected: str
) -> None:
    path = write(tmp_path / "r.yaml", f"slug: r\nprofiles:\n  bad: {{{body}}}\n  good: {{}}\n")
    assert (
        resolve_run_settings(profile="good", profile_registries=str(path), environ={}, home=home).profile
        == "good"
    )
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="bad", profile_registries=str(path), environ={}, home=home)
    assert expected in str(exc.value) and f"{path}: profile r/bad" in str(exc.value)


def test_default_profile_rules(home: Path, tmp_path: Path) -> None:
    with_default = write(tmp_path / "a.yaml", "slug: a\nprofiles:\n  zed: {}\n  default: {}\n")
    alphabetical = write(tmp_path / "b.yaml", "slug: b\nprofiles:\n  zed: {}\n  beta: {}\n")
    assert (
        resolve_run_settings(profile_registries=str(with_default), environ={}, home=home).profile == "default"
    )
    assert resolve_run_settings(profile_registries=str(alphabetical), environ={}, home=home).profile == "beta"
    # the last source's registry is the default registry
    chain = f"{with_default},{alphabetical}"
    resolved = resolve_run_settings(profile_registries=chain, environ={}, home=home)
    assert (resolved.registry, resolved.profile) == ("b", "beta")


def test_later_registry_sources_are_searched_first(home: Path, tmp_path: Path) -> None:
    first = write(
        tmp_path / "a.yaml", "slug: a\nprofiles:\n  p: {inference_settings: {chat: {engine: from-a}}}\n"
    )
    second = write(
        tmp_path / "b.yaml", "slug: b\nprofiles:\n  p: {inference_settings: {chat: {engine: from-b}}}\n"
    )
    resolved = resolve_run_settings(
        profile="p", profile_registries=[str(first), str(second)], environ={}, home=home
    )
    assert resolved.settings.chat.engine == "from-b"
    scoped = resolve_run_settings(
        profile="a/p", profile_registries=f"{first},{second}", environ={}, home=home
    )
    assert scoped.settings.chat.engine == "from-a"


def test_duplicate_registry_slugs(home: Path, tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", "slug: same\nprofiles:\n  p: {}\n")
    second = write(tmp_path / "b.yaml", "slug: same\nprofiles:\n  q: {}\n")
    with pytest.raises(ConfigError) as exc:
        resolve_run_settings(profile="p", profile_registries=f"{first},{second}", environ={}, home=home)
    assert f"{second}: duplicate registry slug 'same' (already defined by {first})" in str(exc.value)


def test_registry_sources_from_environment(home: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.yaml", "slug: r\nprofiles:\n  p: {inference_settings: {chat: {engine: env-reg}}}\n"
    )
    env = {"PINOCCHIO_PROFILE_REGISTRIES": str(path), "PINOCCHIO_PROFILE": "p"}
    assert resolve_run_settings(environ=env, home=home).settings.chat.engine == "env-reg"


def test_registry_format_in_the_geppetto_profiles_file(home: Path) -> None:
    write(
        geppetto_profiles(home), "slug: mine\nprofiles:\n  p: {inference_settings: {chat: {engine: reg}}}\n"
    )
    resolved = resolve_run_settings(profile="p", environ={}, home=home)
    assert (resolved.registry, resolved.settings.chat.engine) == ("mine", "reg")


def test_pinocchio_and_registry_sources_together(home: Path, tmp_path: Path) -> None:
    write(pinocchio_profiles(home), "legacy:\n  ai-chat: {ai-engine: old}\n")
    path = write(
        tmp_path / "r.yaml", "slug: r\nprofiles:\n  new: {inference_settings: {chat: {engine: new}}}\n"
    )
    catalog = load_catalog(profile_registries=str(path), environ={}, home=home)
    names = [name for name, _ in catalog.listing()]
    assert names == ["new", "legacy", "echo", "local"]
    legacy = resolve_run_settings(profile="legacy", profile_registries=str(path), environ={}, home=home)
    assert legacy.settings.chat.engine == "old"


# -- SQLite ------------------------------------------------------------------------------------


def _db(path: Path, *registries: dict[str, Any]) -> Path:
    for registry in registries:
        write_registry(path, registry)
    return path


def test_sqlite_registry(home: Path, tmp_path: Path) -> None:
    db = _db(
        tmp_path / "profiles.db",
        _registry(
            "db",
            base={"inference_settings": {"chat": {"api_type": "gemini"}}},
            lite={
                "stack": [{"profile_slug": "base"}],
                "inference_settings": {"chat": {"engine": "gemini-2.5-flash-lite"}},
            },
        ),
    )
    resolved = resolve_run_settings(profile="lite", profile_registries=str(db), environ={}, home=home)
    assert resolved.settings.chat.api_type == "gemini"
    assert resolved.settings.chat.engine == "gemini-2.5-flash-lite"
    assert resolved.origin("ai-api-type").profile == "base"
    assert resolved.profile_source == str(db)


@pytest.mark.parametrize("prefix", ["sqlite:", "sqlite-dsn:file:", ""])
def test_sqlite_source_specs(home: Path, tmp_path: Path, prefix: str) -> None:
    db = _db(tmp_path / "reg.data", _registry("s", p={"inference_settings": {"chat": {"engine": "m"}}}))
    # without a prefix (and no known extension) the file is recognised by the SQLite header
    spec = f"{prefix}{db}"
    resolved = resolve_run_settings(profile="p", profile_registries=spec, environ={}, home=home)
    assert resolved.settings.chat.engine == "m"


@pytest.mark.parametrize("prefix", ["yaml:", "yaml://"])
def test_yaml_source_prefixes(home: Path, tmp_path: Path, prefix: str) -> None:
    path = write(tmp_path / "r.conf", "slug: r\nprofiles:\n  p: {inference_settings: {chat: {engine: y}}}\n")
    resolved = resolve_run_settings(profile="p", profile_registries=f"{prefix}{path}", environ={}, home=home)
    assert resolved.settings.chat.engine == "y"


def test_sqlite_with_several_registries(home: Path, tmp_path: Path) -> None:
    db = _db(tmp_path / "many.db", _registry("beta", p={}), _registry("alpha", q={}))
    resolved = resolve_run_settings(profile_registries=str(db), environ={}, home=home)
    assert resolved.registry == "alpha"  # first row by slug is the default registry


def test_unreadable_sqlite_files(home: Path, tmp_path: Path) -> None:
    not_db = tmp_path / "broken.db"
    not_db.write_bytes(b"this is not a database at all, just text" * 20)
    with pytest.raises(ConfigError, match=f"cannot read SQLite profile registry {not_db}"):
        resolve_run_settings(profile_registries=str(not_db), environ={}, home=home)

    no_table = tmp_path / "empty.db"
    sqlite3.connect(no_table).execute("CREATE TABLE other (x)").connection.close()
    with pytest.raises(ConfigError, match="no such table: profile_registries"):
        resolve_run_settings(profile_registries=str(no_table), environ={}, home=home)

    with pytest.raises(ConfigError, match=r"profile registry .*missing\.db does not exist"):
        resolve_run_settings(profile_registries=str(tmp_path / "missing.db"), environ={}, home=home)


def test_sqlite_bad_payloads(home: Path, tmp_path: Path) -> None:
    db = _db(tmp_path / "bad.db", _registry("ok", p={}))
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("INSERT INTO profile_registries (slug, payload_json) VALUES ('zz', '{not json')")
    connection.close()
    with pytest.raises(ConfigError, match=r"bad.db \(row zz\): payload_json is not valid JSON"):
        resolve_run_settings(profile_registries=str(db), environ={}, home=home)

    mismatch = _db(tmp_path / "mismatch.db", _registry("ok", p={}))
    connection = sqlite3.connect(mismatch)
    with connection:
        connection.execute(
            "INSERT INTO profile_registries (slug, payload_json) VALUES ('row', ?)",
            (json.dumps({"slug": "payload", "profiles": {}}),),
        )
    connection.close()
    with pytest.raises(ConfigError, match="does not match the row slug"):
        resolve_run_settings(profile_registries=str(mismatch), environ={}, home=home)


def test_sqlite_database_is_not_modified(home: Path, tmp_path: Path) -> None:
    db = _db(tmp_path / "ro.db", _registry("r", p={}))
    before = db.read_bytes()
    resolve_run_settings(profile="p", profile_registries=str(db), environ={}, home=home)
    assert db.read_bytes() == before


def test_broken_registry_does_not_block_a_higher_source(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    good = write(
        tmp_path / "good.yaml", "slug: good\nprofiles:\n  p: {inference_settings: {chat: {engine: ok}}}\n"
    )
    # good is later, so it is searched first: the broken source is never needed
    resolved = resolve_run_settings(profile="p", profile_registries=f"{bad},{good}", environ={}, home=home)
    assert resolved.settings.chat.engine == "ok"
    assert any("bad.db" in w for w in resolved.warnings)
    # ...but a profile found only below the broken explicit source might be shadowed by it: error
    with pytest.raises(ConfigError, match="cannot read SQLite profile registry"):
        resolve_run_settings(profile="p", profile_registries=f"{good},{bad}", environ={}, home=home)
