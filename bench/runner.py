"""Run the client comparisons: one fresh process per (test, client, round), rounds interleaved.

Every client of a test talks to the same loopback server process in the same run, so machine
noise hits them alike; the tables give medians over all samples and ratios against the
``openai`` row (the SDK on its aiohttp transport). The server runs pinned to ``SERVER_CPU`` and
the clients to ``CLIENT_CPU`` when ``taskset`` exists. ``BENCH_PEERS_PATH`` names a folder of
peer libraries installed apart (``pip install --target``): only the peer rows' processes get it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.peers import CLIENTS
from bench.server.config import ReplyConfig, base_path

ROOT = Path(__file__).resolve().parent.parent
CLIENT_CPU, SERVER_CPU = 0, 1
PROCESS_TIMEOUT_S = 420


@dataclass
class Plan:
    """What one test runs: the server settings, the per-process spec and the clients."""

    test: str
    reply: ReplyConfig
    spec: dict[str, Any]
    clients: list[str]
    rounds: int


@dataclass
class Outcome:
    client: str
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)  # first sample of each process (cold pool)
    maxrss_kib: list[int] = field(default_factory=list)
    rss_before_kib: list[int] = field(default_factory=list)
    errors: int = 0
    checked: int = 0  # timed replies whose content and count were verified
    skip: str = ""
    failure: str = ""
    notes: list[str] = field(default_factory=list)


def client_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # litellm must not fetch its price list
    env["LLM_LOAD_PLUGINS"] = ""  # only llm's built-in OpenAI models; installed plugins may not import
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def split_name(name: str) -> tuple[str, str]:
    """``geppetto@before`` -> (``geppetto``, ``before``): a driver run on another source tree."""
    driver, _, label = name.partition("@")
    return driver, label


def run_client(spec: dict[str, Any], src: str = "") -> dict[str, Any]:
    """One client process; ``src`` puts another geppetto source tree first on its path."""
    argv = [sys.executable, "-m", "bench.client", json.dumps(spec)]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", str(CLIENT_CPU), *argv]
    env = client_env()
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env["PYTHONPATH"]])
    peers = os.environ.get("BENCH_PEERS_PATH", "")
    if peers and CLIENTS[split_name(spec["client"])[0]].group == "peer":
        # Peers installed apart (pip install --target DIR ...), with their own pins (litellm
        # wants openai < 3): only the peers' processes see them.
        env["PYTHONPATH"] = os.pathsep.join([peers, env["PYTHONPATH"]])
    try:
        proc = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"client": spec["client"], "error": f"timed out after {PROCESS_TIMEOUT_S}s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return {"client": spec["client"], "error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_plan(
    plan: Plan, server_url: str, progress: bool = True, sources: dict[str, str] | None = None
) -> dict[str, Outcome]:
    """``sources`` maps the label of a ``driver@label`` client to its geppetto source tree."""
    outcomes = {name: Outcome(name) for name in plan.clients}
    base_url = server_url + base_path(plan.reply)
    for round_index in range(plan.rounds):
        for name in plan.clients:
            outcome = outcomes[name]
            if outcome.skip or outcome.failure:
                continue
            driver, label = split_name(name)
            spec = {**plan.spec, "test": plan.test, "client": name, "driver": driver, "base_url": base_url}
            spec["calls"] = max(10, int(plan.spec.get("calls", 1)) // CLIENTS[driver].cost)
            result = run_client(spec, (sources or {}).get(label, ""))
            if progress:
                print(
                    f"  [{plan.test} round {round_index + 1}/{plan.rounds}] {name}: {_brief(result)}",
                    flush=True,
                )
            _merge(outcome, result)
    return outcomes


def _brief(result: dict[str, Any]) -> str:
    if "skip" in result:
        return f"skipped ({result['skip']})"
    if "error" in result:
        return f"FAILED ({result['error']})"
    samples = result.get("samples") or []
    return "median " + (f"{statistics.median(samples) * 1000:.3f} ms" if samples else "-")


def _merge(outcome: Outcome, result: dict[str, Any]) -> None:
    if "skip" in result:
        outcome.skip = str(result["skip"])
        return
    if "error" in result:
        outcome.failure = str(result["error"])
        return
    samples = list(result.get("samples") or [])
    outcome.samples += samples
    outcome.cpu += list(result.get("cpu") or [])
    if samples:
        outcome.firsts.append(samples[0])
    if "maxrss_kib" in result:
        outcome.maxrss_kib.append(int(result["maxrss_kib"]))
    if "rss_before_kib" in result:
        outcome.rss_before_kib.append(int(result["rss_before_kib"]))
    outcome.errors += int(result.get("errors") or 0)
    outcome.checked += int(result.get("checked") or 0)
    for key in ("note", "first_error"):
        if key in result:
            outcome.notes.append(str(result[key]))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], scale: float, digits: int = 0) -> str:
    if not values:
        return "-"
    return f"{min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f} (k={len(values)})"


@contextlib.contextmanager
def pinned(cpu: int = CLIENT_CPU) -> Iterator[None]:
    """Run in-process measurements (the ``js`` suite) on the clients' CPU, away from the server's;
    the previous affinity comes back afterwards. A no-op where affinity cannot be set."""
    setter = getattr(os, "sched_setaffinity", None)
    if setter is None or cpu >= (os.cpu_count() or 1):
        yield
        return
    before = os.sched_getaffinity(0)
    setter(0, {cpu})
    try:
        yield
    finally:
        setter(0, before)
