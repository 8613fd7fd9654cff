"""Shared helpers for the MCP tests: the test server's command line and a child-process check."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVERS = Path(__file__).parent / "servers"
BASIC = str(SERVERS / "basic.py")
RAW = str(SERVERS / "raw.py")


def children_running(marker: str = "mcp/servers/") -> list[int]:
    """Our child processes whose command line mentions ``marker`` (zombies included: not reaped)."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and (marker in cmdline or stat.rsplit(")", 1)[1].split()[0] == "Z"):
            found.append(int(entry))
    return found


def pid_alive(pid: int) -> bool:
    assert isinstance(pid, int) and pid > 0
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().decode(errors="replace").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def no_orphans() -> Iterator[None]:
    """Fails the test if a test server child is still running (or unreaped) when it ends."""
    yield
    assert children_running() == [], "an MCP server child process was left behind"


@pytest.fixture
def python() -> str:
    return sys.executable
