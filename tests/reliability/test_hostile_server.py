"""The CLI against every mode of the hostile server, with and without ``--stream``: each run ends
in its documented exit code (README, "Exit codes and limits"), without a traceback, within its
timeout, and never shows the API key (issue 15, acceptance)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hostile_server import HUGE, MODES, REPLY, HostileServer
from tests.signals import default_sigint

from geppetto.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED

SRC = Path(__file__).resolve().parents[2] / "src"
KEY = "hostile-test-key-0123456789"
RUN_TIMEOUT = 60.0  # seconds; the stalls end after --timeout 1 per attempt and 3 attempts

SUCCEEDS = {"ok", "escapes", "huge-chunk"}
EXPECTED_MESSAGE = {
    **{mode: f"HTTP {mode.split('-')[1]}" for mode in MODES if mode.startswith("status-")},
    "echo-headers": "HTTP 401",
    "cut": "the stream ended before it was complete",
    "cut-headers": "stream failed",
    "malformed-sse": "malformed data in the stream",
    "not-sse": "the stream ended before it was complete",
    "empty": "the stream ended before it was complete",
    "stall-headers": "request timed out after 1s per attempt, 3 attempts",
    "stall-body": "request timed out after 1s",
}
FINITE_MODES = [mode for mode in MODES if mode != "endless"]


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def command(server: HostileServer, mode: str, stream: bool) -> list[str]:
    args = [sys.executable, "-m", "geppetto", "infer", "--ai-api-type", "openai", "--no-store"]
    args += ["--openai-base-url", server.base_url(mode), "--openai-api-key", KEY, "--timeout", "1"]
    return [*args, *(["--stream"] if stream else []), "say hello"]


def environment(home: Path) -> dict[str, str]:
    drop = ("OPENAI_API_KEY", "PINOCCHIO_PROFILE")
    env = {name: value for name, value in os.environ.items() if name not in drop}
    return env | {"PYTHONPATH": str(SRC), "HOME": str(home), "PYTHONUNBUFFERED": "1"}


def run(server: HostileServer, mode: str, stream: bool, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # TimeoutExpired (a failure) if the run outlives RUN_TIMEOUT
        command(server, mode, stream), capture_output=True, text=True, env=environment(home),
        timeout=RUN_TIMEOUT,
    )  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("mode", FINITE_MODES)
def test_every_mode_ends_cleanly(server: HostileServer, mode: str, stream: bool, tmp_path: Path) -> None:
    result = run(server, mode, stream, tmp_path)
    assert "Traceback" not in result.stderr + result.stdout
    assert KEY not in result.stderr + result.stdout
    if mode in SUCCEEDS:
        assert result.returncode == 0, result.stderr
        if mode == "ok":
            assert REPLY in result.stdout
        if mode == "huge-chunk":
            assert HUGE in result.stdout
    else:
        assert result.returncode == EXIT_ERROR, result.stderr
        assert result.stderr.startswith("error: "), result.stderr
        assert EXPECTED_MESSAGE[mode] in result.stderr
        assert len(result.stderr.splitlines()) == 1  # one clear line


def test_echoed_headers_show_the_key_redacted(server: HostileServer, tmp_path: Path) -> None:
    result = run(server, "echo-headers", False, tmp_path)
    assert "authorization: bearer ***" in result.stderr.lower()
    assert KEY not in result.stderr


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_escape_sequences_keep_the_run_clean(server: HostileServer, stream: bool, tmp_path: Path) -> None:
    result = run(server, "escapes", stream, tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "before" in result.stdout and "after" in result.stdout


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_no_raw_escape_reaches_stdout(server: HostileServer, stream: bool, tmp_path: Path) -> None:
    result = run(server, "escapes", stream, tmp_path)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_an_endless_stream_stops_on_ctrl_c(server: HostileServer, stream: bool, tmp_path: Path) -> None:
    before = server.requests("endless")
    proc = subprocess.Popen(
        command(server, "endless", stream), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=environment(tmp_path), preexec_fn=default_sigint,
    )  # fmt: skip
    deadline = time.monotonic() + RUN_TIMEOUT
    while server.requests("endless") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # some chunks in
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "interrupted" in err
    assert "more" in out  # the partial reply was printed
