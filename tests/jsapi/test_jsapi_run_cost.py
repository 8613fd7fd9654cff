"""A JS session on ``engines.fromProfile`` of a priced profile is priced and labelled like a Python
session (``geppetto.cost``; the pricing itself is tested in tests/test_cost.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geppetto.cost import COST_KEY
from geppetto.engines import SettingsEngine
from geppetto.js.module.profile import ProfileDefaults, resolve_profile_engine
from geppetto.turns.keys import RunMetaKeys

from .conftest import make_harness

REGISTRY = """\
slug: team
profiles:
  paid:
    inference_settings:
      chat: {api_type: echo}
      model_info: {cost: {input: 2, output: 10}}
  free:
    inference_settings:
      chat: {api_type: echo}
"""


@pytest.fixture
def registry(tmp_path: Path) -> str:
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY)
    return str(path)


def test_a_priced_profile_engine_carries_its_model_info(registry: str) -> None:
    defaults = ProfileDefaults(profile_registries=registry)
    _, paid = resolve_profile_engine("paid", {}, defaults=defaults)
    _, free = resolve_profile_engine("free", {}, defaults=defaults)
    assert isinstance(paid, SettingsEngine) and paid.model_info is not None
    assert not isinstance(free, SettingsEngine)


def test_a_js_run_on_a_priced_profile_records_its_profile_and_duration(registry: str) -> None:
    runtime, harness = make_harness(profile_registries=registry)
    try:
        metadata = harness.one(
            """
            const s = g.createSession({engine: g.engines.fromProfile('paid')});
            const out = s.run({blocks: [g.turns.newUserBlock('hi')]});
            report(out.metadata);
            """
        )
    finally:
        runtime.close()
    assert metadata[RunMetaKeys.PROFILE.id] == "paid"
    assert isinstance(metadata[RunMetaKeys.DURATION_MS.id], int)
    assert COST_KEY not in metadata  # echo reports no usage: nothing to price
