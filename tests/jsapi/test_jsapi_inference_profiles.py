"""``inferenceProfiles``, ``InferenceSettings`` and ``engine()`` (reference HEAD, spec §9).

Written from the reference's Go tests (api_engine_builder_test.go, module_hardcut_test.go,
api_agent_profile_test.go); its example scripts run unchanged in ``test_reference_examples.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geppetto.engines.echo import EchoEngine
from geppetto.engines.from_settings import SettingsEngine
from geppetto.engines.local import LocalEngine
from geppetto.js.module.engines_api import EngineRef
from geppetto.js.module.profiles_api import JSInferenceSettings, settings_of
from geppetto.js.runtime import JSRuntime
from geppetto.profiles import InferenceSettings

from .conftest import REPO, JSHarness, make_harness

SECRET = "example-secret"

STACKED = """\
slug: workspace
profiles:
  default:
    display_name: Workspace Default
    inference_settings:
      api:
        api_keys:
          openai-api-key: example-secret
      chat:
        api_type: openai
        engine: gpt-4o-mini
      model_info:
        id: gpt-4o-mini
        reasoning: false
        input: [text, image]
        context_window: 128000
        quality_high_watermark: 100000
        max_output_tokens: 16384
        cost: {input: 0.15, output: 0.6, cache_read: 0.075, cache_write: 0.3}
        metadata: {family: gpt-4o}
  assistant:
    display_name: Assistant
    metadata: {version: 3}
    stack:
      - profile_slug: default
    inference_settings:
      chat:
        engine: gpt-5-mini
      model_info:
        name: GPT-5 Mini
  keyless:
    inference_settings:
      api:
        api_keys: {}
      chat:
        api_type: openai
        engine: gpt-4o-mini
"""

OFFLINE = """\
slug: offline
profiles:
  echo:
    inference_settings:
      chat: {api_type: echo}
  local:
    inference_settings:
      chat: {api_type: local, max_response_tokens: 8}
      model_info: {id: smollm2-135m, context_window: 4096}
"""


@pytest.fixture
def registries(tmp_path: Path, js: JSHarness) -> dict[str, str]:
    """Two registry files; scripts see their paths as the globals ``STACKED`` and ``OFFLINE``."""
    stacked = tmp_path / "stacked.yaml"
    stacked.write_text(STACKED)
    offline = tmp_path / "offline.yaml"
    offline.write_text(OFFLINE)
    js.runtime.set_global("STACKED", str(stacked))
    js.runtime.set_global("OFFLINE", str(offline))
    return {"stacked": str(stacked), "offline": str(offline)}


@pytest.fixture
def configured(registries: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[JSHarness]:
    """A module installed like ``geppetto js run --profile-registries R --profile assistant``."""
    monkeypatch.delenv("PINOCCHIO_PROFILE", raising=False)
    runtime, harness = make_harness(
        profile_registries=f"{registries['offline']},{registries['stacked']}", default_profile="assistant"
    )
    yield harness
    runtime.close()


def error_of(js: JSHarness, code: str) -> list[str]:
    return list(js.one(f"try {{ {code}; report(['no error']) }} catch (e) {{ report([e.name, e.message]) }}"))


# -- inferenceProfiles.load and the registry ----------------------------------------------------------


def test_load_lists_registries_and_profiles(js: JSHarness, registries: dict[str, str]) -> None:
    sources, rows, default_rows, named, summary = js.run(
        """
        const r = g.inferenceProfiles.load([OFFLINE, STACKED]);
        report(r.sources); report(r.listRegistries()); report(r.listProfiles().map(p => p.slug));
        report(r.listProfiles('offline').map(p => p.slug));
        const p = r.listProfiles('workspace').find(p => p.slug === 'assistant');
        report({name: p.display_name, stack: p.stack, engine: p.inference_settings.chat.engine});
        """
    )
    assert sources == [registries["offline"], registries["stacked"]]
    assert rows == [
        {"slug": "offline", "default_profile_slug": "echo", "profile_count": 2},
        {"slug": "workspace", "default_profile_slug": "default", "profile_count": 3},
    ]
    assert default_rows == ["assistant", "default", "keyless"]  # the last source's registry
    assert named == ["echo", "local"]
    assert summary == {"name": "Assistant", "stack": [{"profile_slug": "default"}], "engine": "gpt-5-mini"}


def test_load_argument_errors(js: JSHarness, tmp_path: Path) -> None:
    assert error_of(js, "g.inferenceProfiles.load()") == [
        "TypeError",
        "inferenceProfiles.load requires registry source string or string array",
    ]
    assert error_of(js, "g.inferenceProfiles.load(' , ')") == [
        "Error",
        "profile registry sources must not be empty",
    ]
    assert error_of(js, "g.inferenceProfiles.load(['a.yaml', ''])") == [
        "Error",
        "profile registry source entry 1 must be a non-empty string",
    ]
    missing = tmp_path / "missing.yaml"
    name, message = error_of(js, f"g.inferenceProfiles.load({json.dumps(str(missing))})")
    assert name == "Error" and message == f"profile registry {missing} does not exist"


def test_registry_methods_after_close(js: JSHarness, registries: dict[str, str]) -> None:
    js.run("globalThis.r = g.inferenceProfiles.load(STACKED); r.close(); r.close();")
    for method in ("listRegistries", "listProfiles", "resolve"):
        assert error_of(js, f"r.{method}()") == ["Error", f"registry.{method} called after registry.close"]
    assert js.one("report(r.sources.length)") == 1  # sources stay readable


def test_resolve_inputs_and_errors(js: JSHarness, registries: dict[str, str]) -> None:
    js.run("globalThis.r = g.inferenceProfiles.load(STACKED);")
    engines = js.one(
        """
        const e = (s) => s.toJSON().chat.engine;
        report([e(r.resolve()), e(r.resolve('assistant')), e(r.resolve({profile: 'assistant'})),
                e(r.resolve({registrySlug: 'workspace', profileSlug: 'assistant'})),
                e(r.resolve({registry: 'workspace'}))]);
        """
    )
    assert engines == ["gpt-4o-mini", "gpt-5-mini", "gpt-5-mini", "gpt-5-mini", "gpt-4o-mini"]
    assert error_of(js, "r.resolve('Bad Slug!')") == ["Error", "profile slug 'Bad Slug!' is invalid"]
    expects = "registry.resolve expects a profile string or options object"
    assert error_of(js, "r.resolve(42)") == ["Error", expects]
    name, message = error_of(js, "r.resolve({registry: 'nope'})")
    assert message == "registry not found: nope (registries: workspace)"
    name, message = error_of(js, "r.resolve('ghost')")
    assert name == "Error" and message.startswith("profile ghost not found")
    assert SECRET not in message


# -- InferenceSettings ------------------------------------------------------------------------------


def test_snapshot_is_redacted_with_provenance_of_the_stack(js: JSHarness, registries: dict[str, str]) -> None:
    snapshot, debug, listed, stringified = js.run(
        """
        const r = g.inferenceProfiles.load(STACKED);
        const s = r.resolve('assistant');
        report(s.toJSON()); report(s.debug()); report(r.listProfiles()); report(JSON.stringify(s));
        """
    )
    for shown in (snapshot, debug, listed, stringified):
        assert SECRET not in json.dumps(shown)
    assert snapshot["chat"] == {"api_type": "openai", "engine": "gpt-5-mini"}
    assert snapshot["api"] == {"api_keys": {"openai-api-key": "[REDACTED]"}}
    assert snapshot["model_info"]["name"] == "GPT-5 Mini" and snapshot["model_info"]["id"] == "gpt-4o-mini"
    provenance = snapshot["provenance"]
    assert (provenance["registrySlug"], provenance["profileSlug"]) == ("workspace", "assistant")
    assert [(e["registrySlug"], e["profileSlug"]) for e in provenance["stackLineage"]] == [
        ("workspace", "default"),
        ("workspace", "assistant"),
    ]
    assert provenance["stackLineage"][1]["version"] == 3
    assert provenance["sources"] == [registries["stacked"]]
    assert provenance["metadata"]["profile.slug"] == "assistant"
    assert json.loads(stringified) == snapshot  # JSON.stringify uses toJSON()
    assert debug["kind"] == "InferenceSettings" and debug["snapshot"] == snapshot
    assert debug["provenance"] == provenance
    assert (debug["apiKeyNames"], debug["baseURLNames"]) == (["openai-api-key"], [])


def test_clone_is_a_new_wrapper_with_the_same_snapshot(js: JSHarness, registries: dict[str, str]) -> None:
    same, distinct, is_settings = js.run(
        """
        const s = g.inferenceProfiles.load(STACKED).resolve('assistant');
        const c = s.clone();
        report(JSON.stringify(c.toJSON()) === JSON.stringify(s.toJSON()));
        report(c !== s);
        report(typeof g.engine().inference(c).build === 'function');
        """
    )
    assert same and distinct and is_settings


def test_the_python_settings_behind_a_wrapper(js: JSHarness, registries: dict[str, str]) -> None:
    js.run("globalThis.s = g.inferenceProfiles.load(STACKED).resolve('assistant');")
    wrapper = js.runtime.eval("s")
    assert isinstance(wrapper, JSInferenceSettings)
    settings = settings_of(wrapper, "agent().inference")
    assert isinstance(settings, InferenceSettings) and settings.settings.chat.engine == "gpt-5-mini"
    with pytest.raises(TypeError, match=r"^agent\(\).inference requires a registry-resolved Inference"):
        settings_of({"chat": {}}, "agent().inference")


# -- engine() ----------------------------------------------------------------------------------------


def test_engine_builder_exposes_name_metadata_and_model_info(
    js: JSHarness, registries: dict[str, str]
) -> None:
    name, metadata, info, keys, bare = js.run(
        """
        const r = g.inferenceProfiles.load(STACKED);
        const e = g.engine().inference(r.resolve('assistant')).build();
        report(e.name); report(e.metadata); report(e.modelInfo); report(Object.keys(e));
        const off = g.inferenceProfiles.load(OFFLINE);
        const echo = g.engine().inference(off.resolve('echo')).build();
        report([echo.name, 'modelInfo' in echo, echo.metadata.profileSlug]);
        """
    )
    assert name == "inferenceSettings"
    assert (metadata["registrySlug"], metadata["profileSlug"]) == ("workspace", "assistant")
    assert info == {
        "id": "gpt-4o-mini",
        "name": "GPT-5 Mini",
        "reasoning": False,
        "input": ["text", "image"],
        "contextWindow": 128000,
        "qualityHighWatermark": 100000,
        "maxOutputTokens": 16384,
        "cost": {"input": 0.15, "output": 0.6, "cacheRead": 0.075, "cacheWrite": 0.3},
        "metadata": {"family": "gpt-4o"},
    }
    assert keys == ["name", "metadata", "modelInfo"]
    assert bare == ["inferenceSettings", False, "echo"]


def test_engine_builder_rejects_plain_objects_and_missing_settings(js: JSHarness) -> None:
    message = "engine().inference requires a registry-resolved InferenceSettings wrapper"
    plain = "g.engine().inference({chat: {engine: 'gpt-4o-mini'}}).build()"
    assert error_of(js, plain) == ["TypeError", message]
    assert error_of(js, "g.engine().inference()") == ["TypeError", message]
    assert error_of(js, "g.engine().inference(g.engines.echo())") == ["TypeError", message]
    first = "engine().build requires inference(settings) first"
    assert error_of(js, "g.engine().build()") == ["Error", first]


def test_engine_builder_is_immutable(js: JSHarness, registries: dict[str, str]) -> None:
    assert js.one(
        """
        const off = g.inferenceProfiles.load(OFFLINE);
        const base = g.engine();
        base.inference(off.resolve('echo'));
        try { base.build(); report('built'); } catch (e) { report(e.message); }
        """
    ) == "engine().build requires inference(settings) first"


def test_missing_api_key_is_the_reference_error_at_build(js: JSHarness, registries: dict[str, str]) -> None:
    code = "g.engine().inference(g.inferenceProfiles.load(STACKED).resolve('keyless')).build()"
    name, message = error_of(js, code)
    assert name == "Error" and "missing API key openai-api-key" in message


def test_echo_and_local_profiles_build_engines_the_seed_sessions_run(
    js: JSHarness, registries: dict[str, str]
) -> None:
    text = js.one(
        """
        const off = g.inferenceProfiles.load(OFFLINE);
        const engine = g.engine().inference(off.resolve('echo')).build();
        const s = g.createSession({engine});
        const out = s.run({blocks: [g.turns.newUserBlock('hi')]});
        const viaBuilder = g.createBuilder().withEngine(engine).buildSession();
        const again = viaBuilder.run({blocks: [g.turns.newUserBlock('x')]});
        report([out.blocks.at(-1).payload.text, again.blocks.at(-1).payload.text]);
        """
    )
    assert text == ["READY", "READY"]
    js.run("globalThis.local = g.engine().inference(g.inferenceProfiles.load(OFFLINE).resolve('local'))")
    js.run("globalThis.local = local.build();")
    ref = js.runtime.eval("local")
    assert isinstance(ref, EngineRef) and isinstance(ref.engine, SettingsEngine)
    assert isinstance(ref.engine.engine, LocalEngine)
    assert js.one("report([local.modelInfo.contextWindow, local.metadata.profileSlug])") == [4096, "local"]
    echo_ref = js.eval("g.engine().inference(g.inferenceProfiles.load(OFFLINE).resolve('echo')).build()")
    assert isinstance(echo_ref.engine.engine, EchoEngine)


# -- host-configured registries ----------------------------------------------------------------------


def test_host_configured_resolve_and_default(configured: JSHarness, registries: dict[str, str]) -> None:
    default_profile, named, registry_sources, listed, scoped = configured.run(
        """
        report(g.inferenceProfiles.resolve().toJSON().provenance.profileSlug);
        report(g.inferenceProfiles.resolve('echo').toJSON().chat);
        const d = g.inferenceProfiles.default();
        report(d.sources); report(d.listProfiles('workspace').map(p => p.slug));
        report([d.resolve({registry: 'workspace'}).toJSON().provenance.registrySlug,
                d.resolve({registry: 'offline', profile: 'echo'}).toJSON().chat.api_type]);
        d.close();
        """
    )
    assert default_profile == "assistant"  # the host's --profile
    assert named == {"api_type": "echo"}
    assert registries["stacked"] in registry_sources and registries["offline"] in registry_sources
    assert listed == ["assistant", "default", "keyless"]
    assert scoped == ["workspace", "echo"]  # {registry} alone: the host's --profile in that registry
    assert configured.one(
        "try { g.inferenceProfiles.resolve({registry: 'offline'}) } catch (e) { report(e.message) }"
    ).startswith("profile offline/assistant not found")
    # the host's registry stays usable after a script closed its wrapper
    assert configured.one("report(g.inferenceProfiles.resolve('local').toJSON().chat.api_type)") == "local"


def test_host_configured_resolve_applies_the_environment(
    configured: JSHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINOCCHIO_AI_TEMPERATURE", "0.25")
    chat = configured.one("report(g.inferenceProfiles.resolve('echo').toJSON().chat)")
    assert chat == {"api_type": "echo", "temperature": 0.25}


def test_without_configured_registries(js: JSHarness) -> None:
    for method in ("resolve", "default"):
        assert error_of(js, f"g.inferenceProfiles.{method}()") == [
            "Error",
            f"inferenceProfiles.{method} requires a configured profile registry",
        ]


def test_exports_are_frozen(js: JSHarness) -> None:
    frozen: list[Any] = js.one("report([Object.isFrozen(g.inferenceProfiles), Object.isFrozen(g.engine())])")
    assert frozen == [True, True]


def test_wrappers_survive_a_runtime_without_the_examples(tmp_path: Path) -> None:
    """A settings wrapper passed back into JS from Python is the same object (host identity)."""
    runtime = JSRuntime()
    try:
        from geppetto.js.module import install_geppetto_module

        install_geppetto_module(runtime)
        path = tmp_path / "r.yaml"
        path.write_text(OFFLINE)
        runtime.set_global("path", str(path))
        same = runtime.eval(
            "(() => { const g = require('geppetto');"
            " const s = g.inferenceProfiles.load(path).resolve('echo');"
            " return [s.clone() !== s, JSON.stringify([s])]; })()"
        )
        assert same[0] is True and json.loads(same[1])[0]["chat"] == {"api_type": "echo"}
    finally:
        runtime.close()


def test_declarations_match_the_objects(js: JSHarness, registries: dict[str, str]) -> None:
    from .test_jsapi_dts import MODULE, _block, _top_level, interface_members

    real = js.one(
        """
        const proto = (o) => Object.getOwnPropertyNames(Object.getPrototypeOf(o));
        const members = (o) => [...new Set([...Object.keys(o), ...proto(o)])];
        const r = g.inferenceProfiles.load(OFFLINE);
        report({registry: members(r), settings: members(r.resolve('echo')),
                builder: Object.keys(g.engine()), namespace: Object.keys(g.inferenceProfiles)});
        """
    )
    assert interface_members("InferenceRegistry") == set(real["registry"])
    assert interface_members("InferenceSettings") == set(real["settings"])
    assert interface_members("EngineBuilder") == set(real["builder"])
    declared = _top_level(_block(MODULE, "export const inferenceProfiles: {"))
    assert {"load", "resolve", "default"} == set(real["namespace"])
    assert all(f"{name}(" in declared for name in real["namespace"])


RUN_SCRIPT = """
const gp = require("geppetto");
const settings = gp.inferenceProfiles.resolve();
const engine = gp.engine().inference(settings).build();
const out = gp.createSession({engine}).run({blocks: [{kind: "user", payload: {text: "Say hi."}}]});
console.log(JSON.stringify({profile: settings.toJSON().provenance.profileSlug, engine: engine.name,
                            text: out.blocks.at(-1).payload.text}));
"""


def run_with_registry(tmp_path: Path, api_type: str) -> dict[str, Any]:
    """``geppetto js run --profile-registries R --profile P``; the registry's profile runs ``api_type``."""
    (tmp_path / "reg.yaml").write_text(
        "slug: offline\nprofiles:\n  main:\n    inference_settings:\n"
        f"      chat: {{api_type: {api_type}, max_response_tokens: 8}}\n"
    )
    (tmp_path / "script.js").write_text(RUN_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "geppetto", "js", "run", "script.js"]
    result = subprocess.run(
        [*command, "--profile-registries", "reg.yaml", "--profile", "main"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.splitlines()[0]))


def test_cli_profile_registries_feed_inference_profiles_resolve(tmp_path: Path) -> None:
    printed = run_with_registry(tmp_path, "echo")
    assert printed == {"profile": "main", "engine": "inferenceSettings", "text": "READY"}


@pytest.mark.heavy
def test_cli_registry_profile_on_the_embedded_local_model(tmp_path: Path) -> None:
    printed = run_with_registry(tmp_path, "local")
    assert printed["profile"] == "main" and printed["text"].strip()
