"""A server that never answers: the timeout error gives the per-attempt limit, the number of
attempts and the total time, not just the per-attempt limit (issue 15, defect 13)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.hostile_server import HostileServer

SRC = Path(__file__).resolve().parents[2] / "src"


def infer(base_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = ["infer", "--ai-api-type", "openai", "--openai-base-url", base_url, "--openai-api-key", "k"]
    return subprocess.run(
        [sys.executable, "-m", "geppetto", *command, "--no-store", *extra, "hi"],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(SRC)), timeout=120,
    )  # fmt: skip


def test_a_server_that_never_sends_headers_reports_attempts_and_total_time() -> None:
    with HostileServer() as server:
        result = infer(server.base_url("stall-headers"), "--timeout", "0.5")
        attempts = server.requests("stall-headers")
    assert result.returncode == 1
    assert attempts == 3  # the SDK's two retries
    expected = r"request timed out after 0\.5s per attempt, 3 attempts, (\d+\.\d)s in all"
    match = re.search(expected, result.stderr)
    assert match, result.stderr
    assert float(match.group(1)) >= 1.5


def test_a_single_attempt_keeps_the_short_message() -> None:
    with HostileServer() as server:
        result = infer(server.base_url("stall-body"), "--timeout", "0.5")
        assert server.requests("stall-body") == 1  # output had started: never re-sent
    assert "request timed out after 0.5s (" in result.stderr, result.stderr
    assert "per attempt" not in result.stderr
