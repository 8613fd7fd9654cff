"""The loopback server on its own event loop in a daemon thread.

Tests that count the tasks of their own loop, or run synchronous code (``Session.run``, a CLI
subprocess), need the server somewhere else than the loop under test.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from bench.server.app import LoopbackServer
from bench.server.config import ReplyConfig


class ThreadedServer:
    def __init__(self, default: ReplyConfig | None = None, *, record: bool = False) -> None:
        self.server = LoopbackServer(default, record=record)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="bench-loopback-server", daemon=True
        )

    def start(self) -> LoopbackServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
