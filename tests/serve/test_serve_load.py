"""Load: hundreds of concurrent streaming clients on echo, every stream complete, no errors."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from geppetto.engines import EchoEngine
from geppetto.serve import create_app
from geppetto.serve.app import STATE
from tests.serve.harness import running

CLIENTS = 500
REPLY = "one two three four five six seven eight"


async def _stream(session: aiohttp.ClientSession, url: str) -> tuple[int, str, bool]:
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with session.post(url, json=body) as response:
        text, done = "", False
        async for raw in response.content:
            line = raw.decode().strip()
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                for choice in json.loads(line[6:])["choices"]:
                    text += choice["delta"].get("content") or ""
        return response.status, text, done


def test_500_concurrent_streams_all_complete() -> None:
    app = create_app(engines={"echo": EchoEngine(REPLY, delay_ms=1)}, max_concurrency=CLIENTS)
    with running(app) as server:

        async def main() -> list[tuple[int, str, bool]]:
            connector = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=300)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                url = server.base_url + "/chat/completions"
                return await asyncio.gather(*(_stream(session, url) for _ in range(CLIENTS)))

        results = asyncio.run(main())
        runs = app[STATE].runs
        assert server.call(lambda: len(runs.active)) == 0
    assert [r for r in results if r != (200, REPLY, True)] == []
