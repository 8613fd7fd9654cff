"""A real ``geppetto.serve`` server on 127.0.0.1 (ephemeral port) in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from geppetto.serve.server import serve_async


class Running:
    def __init__(self, url: str, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
        self.url = url
        self.base_url = url + "/v1"
        self.loop = loop
        self._stop = stop

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            self.loop.call_soon_threadsafe(self._stop.set)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result (for inspecting state)."""
        future: asyncio.Future[Any] = asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop)
        return future.result(10)


async def _call(fn: Any, *args: Any) -> Any:
    return fn(*args)


@contextmanager
def running(
    app: web.Application, *, api_key: str | None = None, handler_cancellation: bool = True
) -> Iterator[Running]:
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def main() -> None:
        async def go() -> None:
            stop = asyncio.Event()
            holder["stop"] = stop
            holder["loop"] = asyncio.get_running_loop()

            def on_ready(url: str) -> None:
                holder["url"] = url
                ready.set()

            await serve_async(
                app,
                "127.0.0.1",
                0,
                api_key=api_key,
                ready=on_ready,
                stop=stop,
                handler_cancellation=handler_cancellation,
            )

        try:
            asyncio.run(go())
        except BaseException as exc:  # surfaced to the test below
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, name="serve-test", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the test server did not start within 30 s")
    if "error" in holder:
        raise holder["error"]
    server = Running(holder["url"], holder["loop"], holder["stop"])
    try:
        yield server
    finally:
        server.stop()
        thread.join(60)
        if "error" in holder:
            raise holder["error"]
