"""``python -m bench.server [--kind raw|aiohttp]``: serve on 127.0.0.1 until stdin closes or
SIGTERM/SIGINT.

The first stdout line is ``{"url": "http://127.0.0.1:PORT", "server": "..."}`` so a parent
process can read it; ``server`` names what serves (``raw asyncio.Protocol on uvloop|asyncio``
or ``aiohttp.web``). The raw server runs on uvloop when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any

from bench.server.app import LoopbackServer
from bench.server.raw import RawServer, event_loop_name


async def serve(port: int, kind: str) -> None:
    server: Any
    if kind == "raw":
        server = await RawServer().start(port)
        name = f"raw asyncio.Protocol on {event_loop_name()}"
    else:
        server = await LoopbackServer().start(port)
        name = "aiohttp.web on asyncio"
    print(json.dumps({"url": server.url, "server": name}), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The parent holds our stdin: when it exits, even abruptly, reading returns EOF and we stop.
    stdin = sys.stdin.fileno()
    loop.add_reader(stdin, lambda: None if os.read(stdin, 1) else stop.set())
    await stop.wait()
    await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kind", choices=("raw", "aiohttp"), default="raw")
    args = parser.parse_args()
    if args.kind == "raw" and event_loop_name() == "uvloop":
        import importlib

        importlib.import_module("uvloop").run(serve(args.port, args.kind))
        return
    asyncio.run(serve(args.port, args.kind))


if __name__ == "__main__":
    main()
