"""Whole-process cold start: ``geppetto --help``, ``geppetto infer`` (echo, and one call to the
loopback server), ``geppetto js run`` when that command exists, against ``llm --help`` and a bare
interpreter. Commands are interleaved within each run after one warm-up each (page cache, .pyc),
and every launch is pinned to the clients' CPU (``taskset``) like the other suites' clients.

Also the JS per-call figure of the issue: ``geppetto js run`` of a script making 101 inferences
minus the same script making one (which pays the SDK import and client set-up), divided by 100
(pending until ``geppetto js`` exists).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peers import KEY, MODEL
from bench.runner import CLIENT_CPU, client_env

BIN = Path(sys.executable).parent
GEPPETTO = str(BIN / "geppetto")


@dataclass(frozen=True)
class Command:
    label: str
    argv: list[str]
    target_ms: float | None = None


def _llm_argv() -> list[str]:
    """``llm --help``: the venv's script, else llm from the peers installed apart (BENCH_PEERS_PATH,
    whose folder then goes on that one command's path, see :func:`_time`)."""
    if (BIN / "llm").exists() or not os.environ.get("BENCH_PEERS_PATH"):
        return [str(BIN / "llm"), "--help"]
    return [sys.executable, "-m", "llm", "--help"]


def js_available() -> bool:
    probe = subprocess.run([GEPPETTO, "js", "--help"], capture_output=True, env=client_env())
    return probe.returncode == 0


def _js_script(folder: Path, base_url: str, calls: int) -> Path:
    path = folder / f"calls{calls}.js"
    path.write_text(
        'const gp = require("geppetto");\n'
        f"const engine = gp.engines.fromConfig({{apiType: 'openai', model: '{MODEL}', "
        f"baseURL: '{base_url}', apiKey: '{KEY}'}});\n"
        f"for (let i = 0; i < {calls}; i++) {{\n"
        "  gp.runInference(engine, {blocks: [{kind: 'user', payload: {text: 'Hi'}}]});\n"
        "}\n"
    )
    return path


def commands(base_url: str, folder: Path) -> tuple[list[Command], str]:
    """The commands to time, and why ``geppetto js`` rows are missing (empty when present)."""
    infer = [GEPPETTO, "infer", "hi", "--no-store"]
    rows = [
        Command("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        Command("geppetto --help", [GEPPETTO, "--help"], 150),
        Command("geppetto infer (echo)", [*infer, "--ai-api-type", "echo"], 300),
        Command(
            "geppetto infer (openai, loopback)",
            [
                *infer,
                "--ai-api-type",
                "openai",
                "--ai-engine",
                MODEL,
                "--openai-base-url",
                base_url,
                "--openai-api-key",
                KEY,
            ],
        ),
        Command("llm --help", _llm_argv()),
    ]
    if not js_available():
        return rows, "pending: `geppetto js` is not a command yet"
    trivial = folder / "trivial.js"
    trivial.write_text("1 + 1;\n")
    rows.append(Command("geppetto js run (trivial script)", [GEPPETTO, "js", "run", str(trivial)], 250))
    for calls in (1, 101):
        script = _js_script(folder, base_url, calls)
        rows.append(Command(f"geppetto js run ({calls} inferences)", [GEPPETTO, "js", "run", str(script)]))
    return rows, ""


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    peers = os.environ.get("BENCH_PEERS_PATH", "")
    if peers and argv[1:3] == ["-m", "llm"]:
        env = {**env, "PYTHONPATH": os.pathsep.join([peers, env.get("PYTHONPATH", "")])}
    if shutil.which("taskset"):
        argv = ["taskset", "-c", str(CLIENT_CPU), *argv]  # pinned like every other client
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    return elapsed, "" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"


def measure(base_url: str, runs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    env = client_env()
    env["GEPPETTO_STORE"] = os.path.join(tempfile.mkdtemp(prefix="bench-store-"), "turns.db")
    with tempfile.TemporaryDirectory(prefix="bench-js-") as tmp:
        todo, js_note = commands(base_url, Path(tmp))
        samples: dict[str, list[float]] = {c.label: [] for c in todo}
        failures: dict[str, str] = {}
        for command in todo:  # warm-up
            _, failure = _time(command.argv, env)
            if failure:
                failures[command.label] = failure
        for _ in range(runs):
            for command in todo:
                if command.label not in failures:
                    samples[command.label].append(_time(command.argv, env)[0])
    rows: list[dict[str, Any]] = []
    for command in todo:
        if command.label in failures:
            rows.append({"command": command.label, "median ms": f"FAILED: {failures[command.label]}"})
            continue
        values = samples[command.label]
        value = statistics.median(values) * 1000
        rows.append(
            {
                "command": command.label,
                "median ms": value,
                "min-max ms": f"{min(values) * 1000:.0f}-{max(values) * 1000:.0f}",
                "target ms": command.target_ms if command.target_ms is not None else "-",
                "met": value < command.target_ms if command.target_ms is not None else "-",
            }
        )
    extra: dict[str, Any] = {"js": js_note or "measured"}
    one, many = (samples.get(f"geppetto js run ({n} inferences)") for n in (1, 101))
    if one and many:
        extra["js us/call"] = (statistics.median(many) - statistics.median(one)) / 100 * 1e6
    return rows, extra
