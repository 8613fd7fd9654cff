"""No orphaned MCP servers when a program ends without closing them, and cheap imports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .conftest import BASIC, pid_alive

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120
    )


def _gone(pid: int) -> bool:
    # Not our child (it was the script's), so it is reaped by init once it exits.
    for _ in range(3000):  # a bound, not a timing assertion
        if not pid_alive(pid):
            return True
        time.sleep(0.01)
    return False


def test_servers_left_open_by_a_sync_program_are_stopped_at_exit() -> None:
    done = _run(
        f"""
        import sys
        from geppetto.mcp import MCPServer
        from geppetto.tools import ToolRegistry
        registry = ToolRegistry()
        registry.add_mcp(MCPServer.stdio("basic", sys.executable, [{BASIC!r}]))
        print(registry.call("basic_pid", {{}}), flush=True)
        """
    )
    assert done.returncode == 0, done.stderr
    assert _gone(int(done.stdout.strip()))


def test_servers_left_open_by_asyncio_run_are_stopped_when_the_loop_ends() -> None:
    done = _run(
        f"""
        import asyncio, sys
        from geppetto.mcp import MCPServer, MCPToolset
        async def main():
            toolset = MCPToolset(MCPServer.stdio("basic", sys.executable, [{BASIC!r}]))
            print(await toolset.call("basic", "pid", {{}}), flush=True)
        asyncio.run(main())
        """
    )
    assert done.returncode == 0, done.stderr
    assert _gone(int(done.stdout.strip()))


def test_importing_geppetto_mcp_does_not_import_the_sdk() -> None:
    done = _run(
        """
        import sys
        import geppetto, geppetto.mcp, geppetto.tools
        from geppetto.mcp import MCPServer, load_mcp_config
        load_mcp_config({"mcpServers": {"a": {"command": "x"}}})
        print(sorted(m for m in sys.modules if m == "mcp" or m.startswith(("mcp.", "anyio"))))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_crashed_client_leaves_no_server_behind() -> None:
    # SIGKILL leaves no exit handler to run: the server sees its stdin close and exits.
    done = _run(
        f"""
        import os, signal, sys
        from geppetto.mcp import MCPServer
        from geppetto.tools import ToolRegistry
        registry = ToolRegistry()
        registry.add_mcp(MCPServer.stdio("basic", sys.executable, [{BASIC!r}]))
        print(registry.call("basic_pid", {{}}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert done.returncode == -9
    assert _gone(int(done.stdout.strip()))
