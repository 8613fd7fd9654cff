"""Running the app: bind checks, SIGINT/SIGTERM -> graceful shutdown, the address it listens on.

Shutdown order (aiohttp's runner): stop listening, then the app's ``on_shutdown`` drains in-flight
runs (finish within the grace period, else cancel, and wait until each is stored), then the
handlers finish, then ``on_cleanup`` closes the store. A second SIGINT/SIGTERM cancels the runs at
once; they are still stored before the process exits.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from geppetto.serve.security import check_bind


async def serve_async(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    api_key: str | None = None,
    ready: Callable[[str], object] | None = None,
    stop: asyncio.Event | None = None,
    handler_cancellation: bool = True,
) -> None:
    """Serve ``app`` until ``stop`` is set or SIGINT/SIGTERM arrives; ``ready(url)`` once listening.

    A non-loopback ``host`` is refused before anything listens unless the app checks a key
    (``create_app(api_key=)``); ``api_key`` here only counts for apps made otherwise, which must
    enforce it themselves. ``handler_cancellation`` lets aiohttp cancel a handler whose client
    left (runs notice without it too, by polling their connection).
    """
    from geppetto.serve.app import STATE

    state = app.get(STATE)
    check_bind(host, api_key if state is None else ("set" if state.has_api_key else None))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []

    def on_signal() -> None:
        if stop.is_set():  # a second signal: cancel the runs now (they are still stored)
            _cancel_runs(app)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if ready is not None:
            ready(_url(runner, host))
        await stop.wait()
    finally:
        await runner.cleanup()
        for signum in installed:
            loop.remove_signal_handler(signum)


def _cancel_runs(app: web.Application) -> None:
    from geppetto.serve.app import STATE

    state = app.get(STATE)
    if state is not None:
        state.runs.cancel_all()


def serve(app: web.Application, host: str = "127.0.0.1", port: int = 8080, **options: object) -> None:
    """Blocking :func:`serve_async` on a new event loop."""
    asyncio.run(serve_async(app, host, port, **options))  # type: ignore[arg-type]


def _url(runner: web.AppRunner, host: str) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            shown = f"[{address[0]}]" if ":" in str(address[0]) else str(address[0])
            return f"http://{shown}:{address[1]}"
    return f"http://{host}"
