"""Ctrl-C on the embedded local model: exit 130, the partial turn stored, never an abort.

llama.cpp keeps generating on its own native thread after the Python side stops listening; a
process that exits under it used to die with ``FATAL: exception not rethrown`` (SIGABRT) or a
segfault. Each try sends SIGINT to a real ``geppetto infer`` at a different moment: while the
model loads, just after the first streamed token, and in the middle of a reply.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from tests.local_model import require_local_model
from tests.signals import default_sigint

require_local_model()

SRC = str(Path(__file__).resolve().parents[2] / "src")
PROMPT = "Write a very long story about a dragon."


def interrupt(
    tmp_path: Path, *, stream: bool, wait_for_text: bool, delay: float, twice: bool = False
) -> None:
    """Run ``infer`` on the local model, Ctrl-C it, and check the exit and the stored turn."""
    store = tmp_path / "turns.db"
    args = [sys.executable, "-m", "geppetto", "infer", PROMPT, "--store", str(store)]
    if stream:
        args.append("--stream")
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=default_sigint,
    )
    assert proc.stdout is not None
    if wait_for_text:
        assert proc.stdout.read(1), "the run ended before it streamed anything"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    if twice:  # an impatient user
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    out, err_bytes = proc.communicate(timeout=120)
    err = err_bytes.decode(errors="replace")
    assert "FATAL" not in err and "Fatal Python error" not in err, err
    # A second Ctrl-C that lands after the command returned ends the process by SIGINT itself,
    # which a shell reports as 130 too; an abort or a segfault is never acceptable.
    assert proc.returncode == 130 or (twice and proc.returncode == -signal.SIGINT), (proc.returncode, err)
    assert "interrupted" in err and "Traceback" not in err
    assert b"=== Final Turn ===" in out
    if wait_for_text:
        listed = subprocess.run(
            [sys.executable, "-m", "geppetto", "sessions", "list", "--json", "--store", str(store)],
            capture_output=True,
            env=env,
            timeout=60,
            check=True,
        )
        sessions = orjson.loads(listed.stdout)
        assert len(sessions) == 1 and sessions[0]["turn_count"] == 1
        assert sessions[0]["last_outcome"] == "cancelled"


def test_ctrl_c_mid_stream_exits_130_and_stores_the_partial_turn(tmp_path: Path) -> None:
    interrupt(tmp_path, stream=True, wait_for_text=True, delay=1.0)


def test_ctrl_c_right_after_the_first_token_exits_130(tmp_path: Path) -> None:
    interrupt(tmp_path, stream=True, wait_for_text=True, delay=0.0)


def test_ctrl_c_without_stream_exits_130(tmp_path: Path) -> None:
    interrupt(tmp_path, stream=False, wait_for_text=False, delay=3.0)


JS_SCRIPT = """
const { createSession, engines, turns } = require('geppetto');
const session = createSession({ engine: engines.fromConfig({ apiType: 'local' }) });
session.run({ blocks: [turns.newUserBlock('Write a very long story about a dragon.')] });
"""
RPC_RUN = b'{"id": 1, "method": "run", "params": {"prompt": "Write a very long story about a dragon."}}\n'


def interrupt_other(tmp_path: Path, command: str, delay: float) -> None:
    """``js run`` (interrupted ``delay`` seconds after start) or ``rpc`` (``delay`` seconds after
    its first partial event) on the local model."""
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONFAULTHANDLER": "1"}
    if command == "js":
        script = tmp_path / "story.js"
        script.write_text(JS_SCRIPT)
        args = ["js", "run", str(script), "--store", str(tmp_path / "t.db")]
    else:
        args = ["rpc", "--store", str(tmp_path / "t.db")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "geppetto", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=default_sigint,
    )
    assert proc.stdin is not None and proc.stdout is not None
    if command == "rpc":
        proc.stdin.write(RPC_RUN)
        proc.stdin.flush()
        while b'"partial"' not in (line := proc.stdout.readline()):
            assert line, "rpc ended before the first partial event"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err_bytes = proc.communicate(timeout=120)
    err = err_bytes.decode(errors="replace")
    assert "FATAL" not in err and "Fatal Python error" not in err, err
    assert proc.returncode == 130, (proc.returncode, err)
    if command == "rpc":
        assert b'"code":"cancelled"' in out


@pytest.mark.heavy
@pytest.mark.parametrize(("command", "delay"), [("js", 3.0), ("js", 6.0), ("rpc", 0.0), ("rpc", 1.0)])
def test_ctrl_c_in_js_run_and_rpc_on_the_local_model(tmp_path: Path, command: str, delay: float) -> None:
    interrupt_other(tmp_path, command, delay)


@pytest.mark.heavy
@pytest.mark.parametrize("delay", [0.0, 0.5, 1.5])
def test_a_double_ctrl_c_still_exits_130(tmp_path: Path, delay: float) -> None:
    interrupt(tmp_path, stream=True, wait_for_text=True, delay=delay, twice=True)


@pytest.mark.heavy
@pytest.mark.parametrize("attempt", range(24))
def test_ctrl_c_repeated_at_varied_moments_never_aborts(tmp_path: Path, attempt: int) -> None:
    delays = (0.0, 0.3, 0.8, 1.5, 2.5, 4.0)
    interrupt(
        tmp_path,
        stream=attempt % 3 != 2,
        wait_for_text=attempt % 3 != 2,
        delay=delays[attempt % len(delays)] + (attempt % 3 == 2) * 2.0,
    )
