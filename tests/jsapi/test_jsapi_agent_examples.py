"""The reference's agent example scripts run unchanged under ``geppetto js run`` from
``../shared/spec/reference-head/examples`` (never copied), offline, on a registry whose
``default`` profile is the echo engine.

They name fixtures relative to the reference's root (``examples/js/geppetto/profiles/...``), so
each runs from a directory where that path leads to the shared examples.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

ECHO_REGISTRY = """\
slug: offline
profiles:
  default:
    inference_settings:
      chat: {api_type: echo, engine: echo}
"""

LOCAL_REGISTRY = """\
slug: offline
profiles:
  default:
    inference_settings:
      chat: {api_type: local, max_response_tokens: 8}
"""

def reference_examples() -> Path:
    for parent in REPO.parents:
        candidate = parent / "shared" / "spec" / "reference-head" / "examples"
        if candidate.is_dir():
            return candidate
    raise AssertionError(f"../shared/spec/reference-head/examples not found above {REPO}")


@pytest.mark.parametrize(
    "script",
    [
        "28_agent_from_registry_profile.js",
        "30_real_provider_multiturn.js",
        "hardcut/03_agent_from_registry_profile.js",
        "hardcut/05_multimodal_turn.js",
        "31_event_emitter_run_async.js",
        "32_event_emitter_progress_summary.js",
        "33_event_emitter_multiturn_run_async.js",
        "34_turn_store_persistence.js",
    ],
)
def test_agent_examples_run_unchanged(script: str, tmp_path: Path) -> None:
    run_example(script, ECHO_REGISTRY, tmp_path)


@pytest.mark.heavy
@pytest.mark.parametrize("script", ["30_real_provider_multiturn.js", "hardcut/05_multimodal_turn.js"])
def test_agent_examples_on_the_local_model(script: str, tmp_path: Path) -> None:
    """The same on the embedded local model (loads the model: deselected by default)."""
    run_example(script, LOCAL_REGISTRY, tmp_path)


def run_example(script: str, registry_text: str, tmp_path: Path) -> None:
    (tmp_path / "examples" / "js").mkdir(parents=True)
    (tmp_path / "examples" / "js" / "geppetto").symlink_to(reference_examples(), target_is_directory=True)
    registry = tmp_path / "offline.yaml"
    registry.write_text(registry_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINOCCHIO_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [
            sys.executable, "-m", "geppetto", "js", "run",
            "--profile-registries", str(registry), "--profile", "default",
            "--store", str(tmp_path / "turns.db"),
            f"examples/js/geppetto/{script}",
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"PASS: {Path(script).name}" in result.stdout
