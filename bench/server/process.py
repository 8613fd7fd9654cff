"""Run the loopback server in its own process (optionally pinned to a CPU) for benchmarks,
so the server's work never competes with the client under measurement for the same core."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    def __init__(self, cpu: int | None = None, kind: str = "raw") -> None:
        self.cpu = cpu
        self.kind = kind  # raw (asyncio.Protocol, uvloop when installed) | aiohttp (aiohttp.web)
        self.url = ""
        self.name = ""  # what served, as the server reported it
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        argv = [sys.executable, "-m", "bench.server", "--kind", self.kind]
        if self.cpu is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(self.cpu), *argv]
        self._proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the loopback server did not start")
        info = json.loads(line)
        self.url, self.name = info["url"], info.get("server", self.kind)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the server exits on EOF
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
