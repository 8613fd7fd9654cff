"""A loopback OpenAI-compatible chat server in a background thread, for batch tests.

It answers ``POST /v1/chat/completions`` with one JSON completion whose text is ``echo: <last user
message>`` and usage of one token per word, after ``delay`` seconds. It records when each request
arrived (monotonic clock) and how many were in flight at most. A prompt containing ``FAIL`` gets
HTTP 400; ``headers`` are added to every response (rate-limit headers, for example).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    at: float
    prompt: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoopbackServer:
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def prompts(self) -> list[str]:
        return [s.prompt for s in self.seen]

    async def _handle(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        user = [m for m in body.get("messages", []) if m.get("role") == "user"]
        content = user[-1]["content"] if user else ""
        if isinstance(content, list):
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        self.seen.append(Seen(time.monotonic(), str(content), body))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if "FAIL" in str(content):
            return web.json_response(
                {"error": {"message": "the loopback server refuses FAIL", "type": "invalid_request_error"}},
                status=400,
                headers=self.headers,
            )
        text = str(content)[4:] if str(content).startswith("RAW:") else f"echo: {content}"
        completion = {
            "id": f"cmpl-{len(self.seen)}",
            "object": "chat.completion",
            "model": body.get("model", "m"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": len(str(content).split()),
                "completion_tokens": len(text.split()),
                "total_tokens": len(str(content).split()) + len(text.split()),
            },
        }
        return web.json_response(completion, headers=self.headers)

    def start(self) -> LoopbackServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server: Any = site._server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="batch-loopback", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the loopback server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def openai_flags(server: LoopbackServer) -> dict[str, Any]:
    """Settings fields that point the ``openai`` engine at ``server``."""
    return {
        "ai-api-type": "openai",
        "ai-engine": "loopback-model",
        "openai-base-url": server.base_url,
        "openai-api-key": "sk-loopback",
        "max-retries": 0,
    }


def openai_args(server: LoopbackServer) -> list[str]:
    """The same as command-line flags."""
    out: list[str] = []
    for name, value in openai_flags(server).items():
        out += [f"--{name}", str(value)]
    return out
