"""Helpers for the MCP command-line tests: a CLI wrapper with scripted engines, the test server's
command line with a unique tag, and a check that no process carrying the tag is left."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = str(ROOT / "src")
SERVER = str(ROOT / "tests" / "mcp" / "servers" / "cli_tools.py")

# ``geppetto`` with two more engines: "mcp-scripted" asks for the first tool named *_add with
# a=20, b=22 and then answers with the tool's result; "mcp-hang" never answers (for Ctrl-C).
CLI = textwrap.dedent(
    """
    import asyncio, json, sys
    from geppetto.cli import main
    from geppetto.engines import register_engine_factory
    from geppetto.engines.accumulator import StreamAccumulator
    from geppetto.turns import BlockKind

    class Scripted:
        name = "mcp-scripted"

        async def run(self, turn, ctx):
            with StreamAccumulator(turn, ctx, provider="scripted", model="scripted") as acc:
                acc.start()
                uses = [b for b in turn.blocks if b.kind is BlockKind.TOOL_USE]
                if uses:
                    payload = uses[-1].payload
                    result = json.dumps(payload.get("result"))
                    acc.add_text(f"tool said {result} (error: {payload.get('error') or 'none'})")
                    acc.set_stop_reason("stop")
                else:
                    names = [d.name for d in ctx.tools.list_tools()] if ctx.tools is not None else []
                    add = next(n for n in names if n.endswith("_add"))
                    acc.add_complete_tool_call(id="call-1", name=add, args={"a": 20, "b": 22})
                    acc.set_stop_reason("tool_calls")
                return acc.finish()

    class Hang:
        name = "mcp-hang"

        async def run(self, turn, ctx):
            print("ENGINE-STARTED", file=sys.stderr, flush=True)
            await asyncio.Event().wait()

    register_engine_factory("mcp-scripted", lambda model="", **o: Scripted())
    register_engine_factory("mcp-hang", lambda model="", **o: Hang())
    sys.exit(main(sys.argv[1:]))
    """
)


def new_tag() -> str:
    """A unique word passed to the server (it ignores its arguments) to find its process."""
    return f"mcp-test-{uuid.uuid4().hex[:12]}"


def server_command(tag: str) -> str:
    """The ``--mcp`` value starting the test server."""
    return shlex.join([sys.executable, SERVER, tag])


def write_config(path: Path, tag: str, name: str = "calc") -> Path:
    import json

    config = {"mcpServers": {name: {"command": sys.executable, "args": [SERVER, tag]}}}
    path.write_text(json.dumps(config))
    return path


def cli_command(tmp_path: Path) -> list[str]:
    script = tmp_path / "mcp_cli.py"
    script.write_text(CLI)
    return [sys.executable, str(script)]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC}


def run(command: list[str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=90, check=False, env=env()
    )


def processes_with(tag: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``tag``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if tag.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def assert_no_server_left(tag: str) -> None:
    """The server must be gone once the command has returned (a short grace for the kernel)."""
    deadline = time.monotonic() + 5
    while processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(tag) == [], f"MCP server processes left behind: {processes_with(tag)}"


def wait_for_server(tag: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not processes_with(tag):
        assert proc.poll() is None, f"the command ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "the MCP server never started"
        time.sleep(0.05)
