"""Fixtures for the profile tests: a temporary home and a CLI runner pointed at it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# This directory has no __init__.py; make its helper module importable by the tests here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile_helpers import RunCli, make_runner


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def run_cli(home: Path) -> RunCli:
    return make_runner(home)
