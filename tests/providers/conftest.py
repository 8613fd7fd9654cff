"""Fixtures for provider engine tests: the loopback replay server (the network guard is suite-wide)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# This directory has no __init__.py; make its helper modules importable by the tests here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider_replay import ReplayServer


@pytest.fixture(autouse=True)
def _quiet_sdk_internals() -> None:
    """google-genai subclasses aiohttp.ClientSession internally and aiohttp warns about it."""
    warnings.filterwarnings(
        "ignore", message="Inheritance class AiohttpClientSession", category=DeprecationWarning
    )


@pytest.fixture
async def replay() -> AsyncIterator[ReplayServer]:
    server = ReplayServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
