from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .loopback import Loopback


@pytest.fixture
async def server() -> AsyncIterator[Loopback]:
    loop = await Loopback().start()
    try:
        yield loop
    finally:
        await loop.close()
