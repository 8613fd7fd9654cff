"""``python -m bench.server``: serve on 127.0.0.1 until stdin closes or SIGTERM/SIGINT.

The first stdout line is ``{"url": "http://127.0.0.1:PORT"}`` so a parent process can read it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from bench.server.app import LoopbackServer


async def serve(port: int) -> None:
    server = await LoopbackServer().start(port)
    print(json.dumps({"url": server.url}), flush=True)
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
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
