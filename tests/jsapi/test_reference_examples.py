"""The reference's own example scripts for its current JS API run here unchanged and offline.

They are read from ``../shared/spec/reference-head/examples`` (never copied) and run with the
reference runner's spelling (``--script``, ``--profile-registries``, ``--profile``,
``--timeout-ms``). They name their registry fixture relative to the reference's root
(``examples/js/geppetto/profiles/...``), so each runs from a directory where that path leads to the
shared examples. The scripts that infer resolve the profile ``default`` from a registry whose
``default`` is the embedded local model, and again from one on the echo engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REFERENCE_HEAD, REPO, reference_head

REFERENCE_EXAMPLES = REFERENCE_HEAD / "examples"
REGISTRIES = REPO / "tests" / "fixtures" / "registries"


@pytest.fixture(scope="module")
def reference_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where ``examples/js/geppetto`` is the shared reference examples folder."""
    examples = reference_head("examples")
    root = tmp_path_factory.mktemp("reference-root")
    (root / "examples" / "js").mkdir(parents=True)
    (root / "examples" / "js" / "geppetto").symlink_to(examples, target_is_directory=True)
    return root


def run_example(
    script: str, root: Path, *extra: str, engine: str = "echo", timeout: float = 240
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINOCCHIO_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geppetto",
            "js",
            "run",
            "--script",
            str(REFERENCE_EXAMPLES / script),
            "--profile-registries",
            str(REGISTRIES / f"examples-{engine}.yaml"),
            "--profile",
            "default",
            "--timeout-ms",
            "200000",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env=env,
    )
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    out = proc.stdout
    assert "example-secret" not in out + proc.stderr  # the fixture's key never shows
    assert "{" in out, f"{script} printed no JSON:\n{out}"
    result, _ = json.JSONDecoder().raw_decode(out, out.index("{"))  # the runner adds a PASS line
    assert isinstance(result, dict)
    return result


# -- scripts that build from the hard-cut registry fixture and make no inference -------------------


def test_25_inference_profiles_load_resolve_settings(reference_root: Path) -> None:
    out = run_example("25_inference_profiles_load_resolve_settings.js", reference_root)
    assert out == {
        "profile": "assistant",
        "registry": "hardcut",
        "model": "gpt-4o-mini",
        "apiKeys": ["openai-api-key"],
    }


def test_26_engine_builder_from_registry_profile(reference_root: Path) -> None:
    out = run_example("26_engine_builder_from_registry_profile.js", reference_root)
    assert out["registry"] == "hardcut"
    assert out["profile"] == "assistant"
    assert out["contextWindow"] == 128000
    assert isinstance(out["engineName"], str) and out["engineName"]


def test_28_agent_from_registry_profile(reference_root: Path) -> None:
    out = run_example("28_agent_from_registry_profile.js", reference_root)
    assert out["agent"] == "registry-agent"
    assert out["profile"] == "assistant"
    assert out["model"] == "gpt-4o-mini"


def test_29_tools_schema_multimodal_turn(reference_root: Path) -> None:
    out = run_example("29_tools_schema_multimodal_turn.js", reference_root)
    assert out == {
        "tool": "echo_value",
        "result": "phase5",
        "sessionId": "multimodal-demo",
        "multimodalInput": True,
    }


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("hardcut/01_load_registry_resolve_profile.js", {"model": "gpt-4o-mini", "profile": "assistant"}),
        ("hardcut/03_agent_from_registry_profile.js", {"session": "hardcut-agent-demo"}),
        ("hardcut/04_tools_and_schema.js", {"tool": "echo_value", "result": "hardcut"}),
        ("hardcut/05_multimodal_turn.js", {"session": "hardcut-multimodal-demo", "multimodalInput": True}),
    ],
)
def test_hardcut_examples(reference_root: Path, script: str, expected: dict[str, Any]) -> None:
    out = run_example(script, reference_root)
    assert {k: out.get(k) for k in expected} == expected


def test_hardcut_02_engine_from_registry_profile(reference_root: Path) -> None:
    out = run_example("hardcut/02_engine_from_registry_profile.js", reference_root)
    assert out["profile"] == "assistant"
    assert isinstance(out["engine"], str) and out["engine"]


# -- scripts that infer, on the local model and on echo -------------------------------------------

ENGINES = ["echo", "local"]


@pytest.mark.parametrize("engine", ENGINES)
def test_30_multiturn(reference_root: Path, engine: str) -> None:
    out = run_example("30_real_provider_multiturn.js", reference_root, engine=engine)
    assert out["registry"] == f"examples-{engine}"
    assert out["turnCount"] == 2
    assert out["turn1"]["text"] and out["turn2"]["text"]
    # turn 1: system + user in, + the reply out; turn 2 carries turn 1 and adds a user block.
    assert out["turn1"]["inputBlocks"] == 2
    assert out["turn1"]["outputBlocks"] == 3
    assert out["turn2"]["inputBlocks"] == 4
    assert out["turn2"]["outputBlocks"] == 5
    if engine == "echo":
        assert out["turn1"]["text"] == "READY"


@pytest.mark.parametrize("engine", ENGINES)
def test_31_event_emitter_run_async(reference_root: Path, engine: str) -> None:
    out = run_example("31_event_emitter_run_async.js", reference_root, engine=engine)
    assert out["text"]
    types = out["eventTypes"]
    for expected in ("run-started", "provider-call-started", "text-delta", "provider-call-finished"):
        assert expected in types
    assert types.index("provider-call-started") < types.index("text-delta")
    if engine == "echo":
        assert "text-delta:READY" in types


@pytest.mark.parametrize("engine", ENGINES)
def test_32_event_emitter_progress_summary(reference_root: Path, engine: str) -> None:
    out = run_example("32_event_emitter_progress_summary.js", reference_root, engine=engine)
    assert out["errors"] == []
    assert out["finalText"]
    assert out["textDeltaCount"] >= 1
    assert out["textFromDeltas"].strip() == out["finalText"].strip()
    assert [step["type"] for step in out["lifecycle"]] == ["provider-call-started", "provider-call-finished"]
    assert out["eventCounts"]["text-delta"] == out["textDeltaCount"]


@pytest.mark.parametrize("engine", ENGINES)
def test_33_event_emitter_multiturn(reference_root: Path, engine: str) -> None:
    out = run_example("33_event_emitter_multiturn_run_async.js", reference_root, engine=engine)
    assert out["turnCount"] == 2
    assert out["turn1"] and out["turn2"]
    assert len(out["deltaRuns"]) == 2
    assert all(run["deltaCount"] >= 1 for run in out["deltaRuns"])


@pytest.mark.parametrize("engine", ENGINES)
def test_34_turn_store_persistence(reference_root: Path, tmp_path: Path, engine: str) -> None:
    store = tmp_path / "turns.db"
    out = run_example("34_turn_store_persistence.js", reference_root, "--store", str(store), engine=engine)
    assert out["finalText"]
    assert out["turnCount"] == 1
    latest = out["latest"]
    assert latest is not None
    assert latest["sessionId"] == "geppetto-js-turnstore-demo"
    assert latest["phase"] == "final"
    assert latest["text"].strip() == out["finalText"].strip()
    assert store.exists()


# -- hardcut/06 and /07: embeddings and reranker from the hard-cut registry ------------------------


@pytest.mark.parametrize(
    ("script", "follow_up", "expected_model"),
    [
        (
            "hardcut/06_embeddings_with_registry_profile.js",
            'JSON.stringify(embedder.embedBatch(["a", "b"]))',
            {"name": "text-embedding-3-small", "dimensions": 4},
        ),
        (
            "hardcut/07_reranker_with_registry_profile.js",
            'JSON.stringify(reranker.rerank("blue", [{id: "x", text: "red"}, {id: "y", text: "blue"}], '
            "{topN: 1}))",
            {"provider": "llama.cpp", "name": "qllama/bge-reranker-v2-m3:q4_k_m"},
        ),
    ],
)
def test_hardcut_embeddings_and_reranker(
    tmp_path: Path, script: str, follow_up: str, expected_model: dict[str, Any]
) -> None:
    """Run unchanged the way the reference's own test does (``globalThis.GEPPETTO_PHASE123_PROFILE``
    set first), on a copy of its registry whose endpoints point at a loopback server; then one real
    call through the object the script built."""
    import yaml
    from tests.embeddings.loopback import ThreadedLoopback, fixture, vector_for

    from geppetto.js import JSRuntime
    from geppetto.js.module import install_geppetto_module

    with ThreadedLoopback() as server:
        server.rerank_shape = fixture("llamacpp_rerank.json")
        registry = yaml.safe_load(reference_head("examples/profiles/50-hardcut-phase123.yaml").read_text())
        profiles = registry["profiles"]
        assistant_api = profiles["assistant"]["inference_settings"]["api"]
        assistant_api["base_urls"] = {"openai-base-url": server.url + "/v1"}
        profiles["bge-reranker"]["inference_settings"]["api"]["base_urls"]["rerank-base-url"] = server.url
        copy = tmp_path / "50-hardcut-phase123.yaml"
        copy.write_text(yaml.safe_dump(registry))
        runtime = JSRuntime()
        try:
            install_geppetto_module(runtime)
            source = (REFERENCE_EXAMPLES / script).read_text()
            prefix = (
                f"globalThis.GEPPETTO_PHASE123_PROFILE = {json.dumps(str(copy))};\n"
                f"globalThis.followUp = () => {follow_up};\n"  # runs later, once the script's consts exist
            )
            out = runtime.eval(prefix + source)
            assert json.loads(out) == {"ok": True, "model": expected_model}
            answer = json.loads(runtime.eval("globalThis.followUp()"))
        finally:
            runtime.close()
    if "06" in script:
        assert answer == [vector_for("a"), vector_for("b")]
        assert server.headers[0]["Authorization"] == "Bearer example-secret"
    else:
        assert [(r["documentId"], r["rank"]) for r in answer["results"]] == [("y", 1)]
        assert server.requests[0]["model"] == expected_model["name"]
