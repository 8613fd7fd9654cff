"""Engines a reliability test made are closed on that test's own loop (their HTTP sessions live
there). Modules import :func:`close_opened_engines` (an autouse fixture) and register engines
with :func:`opened`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from geppetto.engines.providers.base import ProviderEngine

E = TypeVar("E", bound=ProviderEngine)

_OPEN: list[ProviderEngine] = []


def opened(engine: E) -> E:
    _OPEN.append(engine)
    return engine


@pytest.fixture(autouse=True)
async def close_opened_engines() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().aclose()
