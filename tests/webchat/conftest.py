"""Fixtures of the web chat tests: an app with scripted profiles on a temporary store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from geppetto.serve.web import add_web_chat
from geppetto.store import TurnStore
from tests.webchat.support import make_profiles


@pytest.fixture
def store(tmp_path: Path) -> TurnStore:
    return TurnStore(tmp_path / "web.db")


@pytest.fixture
async def client(store: TurnStore) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    add_web_chat(app, store=store, profiles=make_profiles(slow_delay_ms=50))
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client

