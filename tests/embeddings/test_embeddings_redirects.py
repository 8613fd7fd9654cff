"""Redirects of embedding requests: a key header never crosses to another origin, and the
outbound rules (scheme, local names, where a host resolves) are checked for every hop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from geppetto.embeddings.factory import _client
from geppetto.embeddings.transport import HttpFailure, JsonClient
from geppetto.errors import ConfigError
from geppetto.settings import Settings

KEY_HEADERS = {"x-goog-api-key": "gemini-secret", "Authorization": "Bearer sk-secret", "X-Custom": "c"}
ANSWER = {"data": [{"index": 0, "embedding": [0.5, 0.25]}]}


class Hop:
    """A loopback server that answers ``/final`` and redirects ``/start`` to ``target``."""

    def __init__(self, status: int = 307) -> None:
        self.status = status
        self.target = ""
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Hop:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path, dict(request.headers), await request.read()))
        if request.path.endswith("/start"):
            return web.Response(status=self.status, headers={"Location": self.target})
        return web.json_response(ANSWER)

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def hops() -> AsyncIterator[tuple[Hop, Hop]]:
    first, second = await Hop().start(), await Hop().start()
    yield first, second
    await first.close()
    await second.close()


async def test_a_cross_origin_hop_carries_no_key_header(hops: tuple[Hop, Hop]) -> None:
    first, second = hops
    first.target = f"{second.url}/final"
    checked: list[str] = []

    async def check(url: str) -> None:
        checked.append(url)

    client = JsonClient(headers=KEY_HEADERS, max_retries=0, redirect_check=check)
    try:
        body, _ = await client.post_json(f"{first.url}/start", {"input": ["x"]})
    finally:
        await client.aclose()
    assert body == ANSWER
    assert checked == [f"{second.url}/final"]
    method, path, headers, sent = second.seen[0]
    assert (method, path, sent) == ("POST", "/final", b'{"input":["x"]}')  # 307 repeats the POST
    lowered = {name.lower() for name in headers}
    assert not lowered & {"x-goog-api-key", "authorization", "x-custom"}
    assert headers["Content-Type"] == "application/json"
    assert first.seen[0][2]["x-goog-api-key"] == "gemini-secret"  # the origin itself got it


async def test_a_same_origin_hop_keeps_the_headers(hops: tuple[Hop, Hop]) -> None:
    first, _ = hops
    first.target = "/final"  # relative: the same origin
    client = JsonClient(headers=KEY_HEADERS, max_retries=0)
    try:
        await client.post_json(f"{first.url}/start", {"input": ["x"]})
    finally:
        await client.aclose()
    assert first.seen[1][1] == "/final"
    assert first.seen[1][2]["x-goog-api-key"] == "gemini-secret"


async def test_a_refused_hop_is_never_contacted(hops: tuple[Hop, Hop]) -> None:
    first, second = hops
    first.target = f"{second.url}/final"

    async def refuse(url: str) -> None:
        raise ConfigError(f"embeddings redirect target host resolves to a non-public address ({url})")

    client = JsonClient(headers=KEY_HEADERS, max_retries=2, redirect_check=refuse)
    try:
        with pytest.raises(HttpFailure, match="refused a redirect") as caught:
            await client.post_json(f"{first.url}/start", {"input": ["x"]})
    finally:
        await client.aclose()
    assert not caught.value.retryable
    assert second.seen == []
    assert len(first.seen) == 1  # not retried


async def test_a_redirect_loop_ends(hops: tuple[Hop, Hop]) -> None:
    first, _ = hops
    first.target = "/start"
    client = JsonClient(max_retries=0)
    try:
        with pytest.raises(HttpFailure, match="more than 10 redirects"):
            await client.post_json(f"{first.url}/start", {})
    finally:
        await client.aclose()


async def test_strict_mode_follows_nothing(hops: tuple[Hop, Hop]) -> None:
    first, second = hops
    first.target = f"{second.url}/final"
    client = JsonClient(max_retries=0, follow_redirects=False)
    try:
        with pytest.raises(HttpFailure, match="HTTP 307"):
            await client.post_json(f"{first.url}/start", {})
    finally:
        await client.aclose()
    assert second.seen == []


async def test_the_profile_client_checks_every_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The factory's client applies the profile's rules (here: no http, no local networks) to
    each redirect target: plain http, local names and addresses, and a public-looking name that
    resolves to a private address."""

    async def resolve(host: str) -> list[str]:
        return {"public.test": ["93.184.216.34"], "sneaky.test": ["10.1.2.3"]}[host]

    monkeypatch.setattr("geppetto.settings.service_access.default_async_resolver", resolve)
    access = {"allow_http": {"embeddings": False}, "allow_local_networks": {"embeddings": False}}
    client: Any = _client("gemini", "https://public.test", "gemini-secret", Settings(), access)
    check = client._redirect_check
    await check("https://public.test/v1beta/x")  # allowed
    for target in (
        "http://public.test/x",
        "https://localhost/x",
        "https://127.0.0.1:8080/x",
        "https://sneaky.test/x",
    ):
        with pytest.raises(ConfigError):
            await check(target)
    await client.aclose()
