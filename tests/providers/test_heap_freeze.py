"""The start-up heap is frozen once the first provider client exists (geppetto.engines.heap),
and ``GEPPETTO_GC_FREEZE=0`` leaves the collector alone. Each case runs in a fresh interpreter
so the test process's own heap is never frozen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

PROBE = """
import asyncio, gc, json
from geppetto.engines.providers import engine_from_options

async def main():
    engine = engine_from_options(
        "openai", "x", openai_base_url="http://127.0.0.1:9/v1", openai_api_key="k", environ={}
    )
    if TUNED:
        gc.set_threshold(*TUNED)  # an application's own tuning
    before = gc.get_freeze_count()
    engine.prepare()          # creates the loop's SDK client
    first = gc.get_freeze_count()
    engine.prepare()          # the same client: nothing more happens
    again = gc.get_freeze_count()
    await engine.aclose()
    print(json.dumps([before, first, again, gc.get_threshold()]))

asyncio.run(main())
"""


def _run(env_value: str | None, tuned: tuple[int, ...] = ()) -> list[object]:
    env = {k: v for k, v in os.environ.items() if k != "GEPPETTO_GC_FREEZE"}
    env["PYTHONPATH"] = str(SRC)
    if env_value is not None:
        env["GEPPETTO_GC_FREEZE"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", f"TUNED = {tuned!r}\n" + PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    import json

    counts: list[object] = json.loads(out.stdout.strip().splitlines()[-1])
    return counts


def test_first_client_freezes_the_startup_heap_once_and_raises_the_young_threshold() -> None:
    before, first, again, thresholds = _run(None)
    assert before == 0
    assert isinstance(first, int) and first > 10_000  # the SDK's import-time objects
    assert again == first
    assert thresholds == [5000, 10, 10]


def test_thresholds_an_application_chose_are_kept() -> None:
    assert _run(None, (1234, 5, 6))[3] == [1234, 5, 6]


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_opt_out_leaves_the_collector_alone(value: str) -> None:
    assert _run(value) == [0, 0, 0, [700, 10, 10]]
