"""Fixtures for provider engine tests: the loopback replay server (the network guard is suite-wide)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# This directory has no __init__.py; make its helper modules importable by the tests here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider_replay import ReplayServer


@pytest.fixture
async def replay() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        yield server
