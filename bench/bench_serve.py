"""``geppetto serve`` throughput and latency against a minimal aiohttp.web handler, and memory per
open stream.

Target (issue 18): requests/s of ``POST /v1/chat/completions`` on the echo engine >= 0.7x a minimal
``aiohttp.web`` handler that returns the same bytes (read from a geppetto reply), same run. Rows,
for a plain JSON reply and for a stream (``"stream": true``): requests/s, p50 and p99 latency, the
server process's CPU time per request (steadier than rates on a shared machine), and geppetto's
ratio to the floor. Both servers run in their own processes on loopback; one aiohttp
client drives both with the same concurrency, rounds interleaved so that drift hits both alike.
Memory: the geppetto process's RSS before and after opening ``--streams`` streams that stay open
(an engine that waits after its first delta), divided by their number.

The floor streams the way a minimal handler does (``prepare``, one ``write``, ``write_eof``:
chunked). geppetto sends the same SSE bytes, but answers a run that ended before anything was
written (echo never suspends) as one response with a length, so the bodies match and the framing
differs (docs/performance.md says so next to the figures).

    .venv/bin/python bench/bench_serve.py [--requests N] [--concurrency N] [--rounds N]
                                          [--streams N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report

REPLY = "The quick brown fox jumps over the lazy dog."
BODY = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
TARGET = 0.7


# -- the servers (each in its own process) --------------------------------------------------------


def _target(kind: str, plain_path: str, stream_path: str) -> None:
    from aiohttp import web

    if kind == "geppetto":
        from geppetto.engines import EchoEngine
        from geppetto.engines.accumulator import StreamAccumulator
        from geppetto.serve import create_app

        class Hold:
            """Streams one delta, then waits until cancelled (an open stream)."""

            name = "hold"

            async def run(self, turn: Any, ctx: Any) -> Any:
                with StreamAccumulator(turn, ctx, provider="hold", model="hold") as acc:
                    acc.start()
                    acc.add_text("open")
                    await asyncio.Event().wait()
                    return acc.finish()

        app = create_app(
            engines={"echo": EchoEngine(REPLY), "hold": Hold()}, max_concurrency=100_000, queue_size=0
        )
    else:
        plain, stream = Path(plain_path).read_bytes(), Path(stream_path).read_bytes()

        async def handler(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            if b'"stream":true' not in raw:
                return web.Response(body=plain, content_type="application/json")
            response = web.StreamResponse()
            response.content_type = "text/event-stream"
            await response.prepare(request)
            await response.write(stream)
            await response.write_eof()
            return response

        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"http://{host}:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class Server:
    def __init__(self, kind: str, plain: Path, stream: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--target", kind, str(plain), str(stream)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"{kind} server did not start")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


# -- the client -----------------------------------------------------------------------------------


async def _load(url: str, body: bytes, requests: int, concurrency: int) -> tuple[float, list[float]]:
    import aiohttp

    latencies: list[float] = []
    remaining = requests
    headers = {"Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            async with session.post(url + "/v1/chat/completions", data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return requests / elapsed, latencies


async def _open_streams(url: str, count: int) -> Any:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    body = {"model": "hold", "messages": BODY["messages"], "stream": True}
    responses = []
    for _ in range(count):
        response = await session.post(url + "/v1/chat/completions", json=body)
        await response.content.readuntil(b"open")
        responses.append(response)
    return session, responses


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round and server")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=500, help="open streams for the memory row")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    if args.target:
        _target(*args.target)
        return 0
    import urllib.request

    with tempfile.TemporaryDirectory() as tmp:
        plain_path, stream_path = Path(tmp) / "plain", Path(tmp) / "stream"
        plain_path.write_bytes(b"{}")
        stream_path.write_bytes(b"")
        geppetto = Server("geppetto", plain_path, stream_path)
        try:
            for path, extra in ((plain_path, {}), (stream_path, {"stream": True})):
                request = urllib.request.Request(
                    geppetto.url + "/v1/chat/completions",
                    data=json.dumps({**BODY, **extra}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request) as response:
                    path.write_bytes(response.read())
            floor = Server("floor", plain_path, stream_path)
            try:
                rows = _measure(args, geppetto, floor)
            finally:
                floor.close()
            rows.append(asyncio.run(_memory(geppetto, args.streams)))
        finally:
            geppetto.close()
    report("geppetto serve vs a minimal aiohttp.web handler (same bytes)", rows, args.json)
    return 0


def _measure(args: argparse.Namespace, geppetto: Server, floor: Server) -> list[dict[str, Any]]:
    rows = []
    for mode, extra in (("plain", b""), ("stream", b',"stream":true')):
        body = json.dumps(BODY, separators=(",", ":")).encode()[:-1] + extra + b"}"
        rates: dict[str, list[float]] = {"geppetto": [], "floor": []}
        latencies: dict[str, list[float]] = {"geppetto": [], "floor": []}
        cpu: dict[str, list[float]] = {"geppetto": [], "floor": []}
        asyncio.run(_load(geppetto.url, body, 200, args.concurrency))  # warm-up
        asyncio.run(_load(floor.url, body, 200, args.concurrency))
        for _ in range(args.rounds):
            for name, server in (("floor", floor), ("geppetto", geppetto)):
                used = server.cpu_seconds()
                rate, samples = asyncio.run(_load(server.url, body, args.requests, args.concurrency))
                cpu[name].append((server.cpu_seconds() - used) / args.requests * 1e6)
                rates[name].append(rate)
                latencies[name].extend(samples)
        floor_rate = statistics.median(rates["floor"])
        for name in ("floor", "geppetto"):
            rate = statistics.median(rates[name])
            rows.append(
                {
                    "mode": mode,
                    "server": name,
                    "req/s": round(rate),
                    "p50 ms": _percentile(latencies[name], 0.5),
                    "p99 ms": _percentile(latencies[name], 0.99),
                    "server CPU us/req": round(statistics.median(cpu[name])),
                    "x floor": rate / floor_rate,
                    "target": f">= {TARGET}" if name == "geppetto" else "",
                }
            )
    return rows


async def _memory(geppetto: Server, count: int) -> dict[str, Any]:
    before = geppetto.rss_kib()
    session, responses = await _open_streams(geppetto.url, count)
    after = geppetto.rss_kib()
    for response in responses:
        response.close()
    await session.close()
    return {
        "mode": f"{count} open streams",
        "server": "geppetto",
        "req/s": "",
        "p50 ms": "",
        "p99 ms": "",
        "server CPU us/req": "",
        "x floor": "",
        "target": f"{(after - before) / count:.1f} KiB per open stream",
    }


if __name__ == "__main__":
    sys.exit(main())
