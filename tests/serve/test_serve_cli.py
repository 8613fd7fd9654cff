"""``geppetto serve`` as a process: start-up line, bind refusal, SIGTERM, and no key in any output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest

import geppetto
from tests.hostile_server import HostileServer

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-5d1e8b7a2c9f4036-serve"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    # the geppetto under test (the worktree's sources), whatever the working directory
    source = str(Path(geppetto.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([source, str(ROOT)])
    env.update(extra)
    return env


def _run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "geppetto", "serve", *args],
        env=_env(home, **env),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def _serving(home: Path, *args: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "geppetto", "serve", "--port", "0", *args],
        env=_env(home, **env),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("geppetto serve: listening on http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_non_loopback_bind_needs_an_api_key(tmp_path: Path) -> None:
    result = _run(tmp_path, "--host", "0.0.0.0", "--profile", "echo")
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0 without an API key" in result.stderr
    assert "--api-key-env" in result.stderr
    result = _run(tmp_path, "--host", "0.0.0.0", "--api-key-env", "SERVE_TEST_KEY")
    assert result.returncode == 1
    assert "SERVE_TEST_KEY: that environment variable is not set" in result.stderr


def test_bad_limits_and_unknown_profiles_are_refused(tmp_path: Path) -> None:
    result = _run(tmp_path, "--max-concurrency", "0")
    assert result.returncode == 1
    assert "--max-concurrency must be a positive number" in result.stderr
    result = _run(tmp_path, "--shutdown-grace", "-1")
    assert result.returncode == 1
    assert "--shutdown-grace must be zero or more seconds" in result.stderr
    result = _run(tmp_path, "--profile", "nope", "--port", "0")
    assert result.returncode == 1
    assert "profile nope not found" in result.stderr
    assert "listening" not in result.stdout


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _run(tmp_path, "--profile", "echo", "--port", port, "--no-web")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot listen on 127.0.0.1 port {port}: "), lines
    assert "choose another --port" in lines[0] and "unexpected" not in lines[0]


def test_serves_profiles_and_stops_on_sigterm(tmp_path: Path) -> None:
    store = tmp_path / "turns.db"
    with _serving(tmp_path, "--profile", "echo", "--store", str(store), "--api-key-env", "K", K="key-1") as (
        url,
        proc,
    ):
        client = openai.OpenAI(base_url=url + "/v1", api_key="key-1", max_retries=0)
        assert [m.id for m in client.models.list()] == ["echo"]
        reply = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "READY"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert proc.stderr is not None
        assert "geppetto serve: stopped" in proc.stderr.read()
    listing = subprocess.run(
        [sys.executable, "-m", "geppetto", "sessions", "list", "--store", str(store), "--json"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(json.loads(listing.stdout)) == 1


def test_provider_keys_never_reach_responses_or_logs(tmp_path: Path) -> None:
    with HostileServer() as hostile:
        profiles = tmp_path / "profiles.yaml"
        profiles.write_text(
            "keyed:\n"
            "  ai-chat: {ai-engine: gpt-4o-mini, ai-api-type: openai}\n"
            "  openai-chat:\n"
            f"    openai-base-url: {hostile.base_url('echo-headers')}\n"
            f"    openai-api-key: {CANARY}\n",
            encoding="utf-8",
        )
        with _serving(tmp_path, "--profile-file", str(profiles), "--profile", "keyed") as (url, proc):
            bodies = []
            for stream in (False, True):
                body = json.dumps(
                    {"model": "keyed", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
                ).encode()
                request = urllib.request.Request(url + "/v1/chat/completions", data=body)
                with pytest.raises(urllib.error.HTTPError) as caught:
                    urllib.request.urlopen(request, timeout=60)
                bodies.append(caught.value.read().decode())
            with urllib.request.urlopen(url + "/v1/models", timeout=60) as response:
                bodies.append(response.read().decode())
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 0
            assert proc.stderr is not None and proc.stdout is not None
            logs = proc.stderr.read() + proc.stdout.read()
    assert hostile.requests("echo-headers") >= 2
    assert "inference failed" in bodies[0]
    assert "run failed" in logs
    for text in (*bodies, logs):
        assert CANARY not in text
