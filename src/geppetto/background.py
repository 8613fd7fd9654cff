"""The runtime's background event loop, shared by every synchronous caller.

Synchronous entry points (``Session.run``, the CLI, the JS host, a sync MCP tool call, token
counting) submit coroutines to this one long-lived loop instead of paying for ``asyncio.run`` per
call. Stdlib only, so any layer may use it.
"""

from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None

THREAD_NAME = "geppetto-runtime-loop"


def background_loop() -> asyncio.AbstractEventLoop:
    """The running background loop, started on first use (a daemon thread)."""
    global _loop, _thread
    loop = _loop
    if loop is not None and loop.is_running():
        return loop
    with _lock:
        if _loop is not None and _loop.is_running():
            return _loop
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        thread = threading.Thread(target=serve, name=THREAD_NAME, daemon=True)
        thread.start()
        started.wait()
        _loop, _thread = loop, thread
        return loop


def in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
