"""MCP over stdio against a real server (tests/mcp/servers/basic.py) in a child process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from geppetto.errors import ConfigError
from geppetto.mcp import (
    MCPProtocolError,
    MCPServer,
    MCPServerExited,
    MCPStartError,
    MCPTimeoutError,
    MCPToolError,
    MCPToolset,
)
from geppetto.tools import ToolRegistry, tool

from .conftest import BASIC, RAW, children_running, pid_alive

pytestmark = pytest.mark.usefixtures("no_orphans")


def basic(name: str = "basic", **options: object) -> MCPServer:
    return MCPServer.stdio(name, sys.executable, [BASIC], **options)  # type: ignore[arg-type]


async def test_lists_tools_with_prefix_description_schema_and_filters() -> None:
    async with MCPToolset([basic(), basic("only", include=["echo", "a*"], exclude=["add"])]) as toolset:
        assert children_running() == []  # lazy: nothing starts before the first listing
        tools = {d.name: d for d in await toolset.tools()}
        assert {"basic_echo", "basic_add", "basic_picture", "basic_fail", "basic_getenv"} <= set(tools)
        assert sorted(n for n in tools if n.startswith("only_")) == ["only_echo"]
        echo = tools["basic_echo"]
        assert echo.description == "Echo the text back."
        assert echo.parameters["type"] == "object" and echo.parameters["required"] == ["text"]
        assert "mcp:basic" in echo.tags
        assert len(children_running()) == 2
    assert children_running() == []


async def test_results_map_text_structured_image_and_is_error() -> None:
    async with MCPToolset(basic()) as toolset:
        assert await toolset.call("basic", "echo", {"text": "héllo"}) == "héllo"
        assert await toolset.call("basic", "add", {"a": 2, "b": 3}) == {"total": 5, "terms": [2, 3]}
        picture = await toolset.call("basic", "picture", {"caption": "dot"})
        assert picture["text"] == "dot"
        [image] = picture["images"]
        assert image["media_type"] == "image/png" and image["content"].startswith("iVBORw0KGgo")
        with pytest.raises(MCPToolError, match="MCP server 'basic': Error executing tool fail: boom") as info:
            await toolset.call("basic", "fail", {"message": "boom"})
        assert info.value.server == "basic" and info.value.code == "mcp_tool_error"
        # the connection survives a tool error
        assert await toolset.call("basic", "echo", {"text": "still here"}) == "still here"


async def test_client_session_is_the_running_servers_sdk_session() -> None:
    """For requests geppetto does not wrap: the same server process answers both ways."""
    async with MCPToolset(basic()) as toolset:
        session = await toolset.connection("basic").client_session()
        direct = await session.call_tool("pid", {})
        wrapped = await toolset.call("basic", "pid", {})
        assert direct.content[0].text == wrapped
        assert await toolset.connection("basic").client_session() is session


async def test_child_gets_only_its_configured_env_never_our_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-should-not-leak")
    monkeypatch.setenv("GEPPETTO_TEST_TOKEN", "tok-123")
    server = basic(env={"PASSED": "${GEPPETTO_TEST_TOKEN}", "PLAIN": "p"})
    async with MCPToolset(server) as toolset:
        assert await toolset.call("basic", "getenv", {"name": "OPENAI_API_KEY"}) == "<unset>"
        assert await toolset.call("basic", "getenv", {"name": "GEPPETTO_TEST_TOKEN"}) == "<unset>"
        assert await toolset.call("basic", "getenv", {"name": "PASSED"}) == "tok-123"
        assert await toolset.call("basic", "getenv", {"name": "PLAIN"}) == "p"
        assert await toolset.call("basic", "getenv", {"name": "PATH"}) != "<unset>"


async def test_child_environment_is_exactly_path_home_and_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not even the SDK's defaults (LOGNAME, SHELL, TERM, USER) reach the child."""
    for key in ("LOGNAME", "SHELL", "TERM", "USER"):
        monkeypatch.setenv(key, f"ours-{key.lower()}")
    monkeypatch.setenv("HOME", "/home/ours")
    server = basic(env={"PLAIN": "p", "TERM": "dumb"})  # a default named in the config is kept
    async with MCPToolset(server) as toolset:
        names = (await toolset.call("basic", "environ", {})).split("\n")
        assert names == sorted(["HOME", "PATH", "PLAIN", "TERM"])
        assert await toolset.call("basic", "getenv", {"name": "TERM"}) == "dumb"
        assert await toolset.call("basic", "getenv", {"name": "HOME"}) == "/home/ours"


async def test_a_missing_command_is_still_command_not_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("USER", "ours")  # the SDK would add it: geppetto wraps the start
    server = MCPServer.stdio("ghost", "geppetto-no-such-command-xyz", [])
    async with MCPToolset(server) as toolset:
        with pytest.raises(MCPStartError, match="command not found: geppetto-no-such-command-xyz"):
            await toolset.tools()
    (tmp_path / "srv").write_text("#!/bin/sh\n")  # not executable
    relative = MCPServer.stdio("plain", "./srv", [], cwd=str(tmp_path))
    async with MCPToolset(relative) as toolset:
        with pytest.raises(MCPStartError, match="Permission denied"):
            await toolset.tools()


async def test_list_changed_notification_refreshes_the_registry() -> None:
    registry = ToolRegistry()
    toolset = registry.add_mcp(basic())
    try:
        await registry.aprepare()
        assert "basic_grow" in registry and "basic_late" not in registry
        assert not toolset.is_stale
        assert await registry.acall("basic_grow", {}) == "grown"
        for _ in range(500):  # the notification precedes the reply; allow the reader a few turns
            if toolset.is_stale:
                break
            await asyncio.sleep(0.01)
        assert toolset.is_stale
        await registry.aprepare()
        assert "basic_late" in registry
        assert await registry.acall("basic_late", {}) == "late"
    finally:
        await registry.aclose()


async def test_start_failures_are_typed_and_name_the_server() -> None:
    missing = MCPServer.stdio("ghost", "/nonexistent/mcp-server-binary")
    async with MCPToolset(missing) as toolset:
        with pytest.raises(MCPStartError, match=r"MCP server 'ghost': failed to start .*not found") as info:
            await toolset.tools()
        assert info.value.code == "mcp_start_error"
    quits = MCPServer.stdio("quits", sys.executable, ["-c", "import sys; sys.exit(2)"])
    async with MCPToolset(quits) as toolset:
        with pytest.raises(MCPStartError, match="MCP server 'quits': failed to start"):
            await toolset.tools()
    mute = MCPServer.stdio("mute", sys.executable, ["-c", "import time; time.sleep(60)"], start_timeout=1)
    async with MCPToolset(mute) as toolset:
        with pytest.raises(MCPStartError, match="no answer to initialize within 1s"):
            await toolset.tools()
    assert children_running("time.sleep(60)") == []


async def test_exit_mid_call_is_server_exited_and_the_next_call_restarts() -> None:
    async with MCPToolset(basic()) as toolset:
        first = int(await toolset.call("basic", "pid", {}))
        with pytest.raises(MCPServerExited, match="MCP server 'basic'") as info:
            await toolset.call("basic", "crash", {})
        assert info.value.code == "mcp_server_exited"
        assert not pid_alive(first)
        second = int(await toolset.call("basic", "pid", {}))
        assert second != first


async def test_hang_past_timeout_is_a_timeout_and_the_server_is_stopped() -> None:
    async with MCPToolset(basic(timeout=1)) as toolset:
        pid = int(await toolset.call("basic", "pid", {}))
        with pytest.raises(MCPTimeoutError, match=r"no answer to tools/call sleep within 1s") as info:
            await toolset.call("basic", "sleep", {"seconds": 60})
        assert info.value.code == "mcp_timeout"
        assert not pid_alive(pid) and children_running() == []


@pytest.mark.parametrize(("mode", "message"), [("garbage", "malformed message"), ("badreply", "failed")])
async def test_garbage_and_malformed_replies_are_protocol_errors(mode: str, message: str) -> None:
    raw = MCPServer.stdio("raw", sys.executable, [RAW, mode], timeout=20)
    async with MCPToolset(raw) as toolset:
        assert [d.name for d in await toolset.tools()] == ["raw_answer", "raw_files_read"]
        with pytest.raises(MCPProtocolError, match=f"MCP server 'raw': .*{message}") as info:
            await toolset.call("raw", "answer", {})
        assert info.value.code == "mcp_protocol_error"
    assert children_running("servers/raw.py") == []


async def test_tool_names_providers_refuse_are_sanitized_but_called_by_their_own_name() -> None:
    registry = ToolRegistry()
    registry.add_mcp(MCPServer.stdio("raw", sys.executable, [RAW, "garbage"], include=["files.*"]))
    try:
        await registry.aprepare()
        assert registry.names() == ["raw_files_read"]
        assert await registry.acall("raw_files_read", {"path": "/etc/motd"}) == "read /etc/motd"
    finally:
        await registry.aclose()


async def test_collision_with_a_local_tool_is_a_config_error() -> None:
    @tool
    def basic_echo(text: str) -> str:
        """A local tool that happens to have the MCP tool's name."""
        return text

    registry = ToolRegistry([basic_echo])
    registry.add_mcp(basic(include=["echo"]))
    try:
        with pytest.raises(ConfigError, match="MCP tool basic_echo collides"):
            await registry.aprepare()
    finally:
        await registry.aclose()


async def test_two_servers_with_one_prefix_are_refused() -> None:
    with pytest.raises(ConfigError, match="share the tool prefix"):
        MCPToolset([basic("a-b"), basic("a_b")])
    registry = ToolRegistry()
    registry.add_mcp(basic(include=["echo"]))
    registry.add_mcp(basic(include=["echo"]))  # another toolset, same server name
    try:
        with pytest.raises(ConfigError, match="MCP tool basic_echo collides"):
            await registry.aprepare()
    finally:
        await registry.aclose()


async def test_cancelling_a_call_leaves_the_connection_usable() -> None:
    async with MCPToolset(basic()) as toolset:
        task = asyncio.ensure_future(toolset.call("basic", "sleep", {"seconds": 30}))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await toolset.call("basic", "echo", {"text": "after cancel"}) == "after cancel"


def test_sync_registry_call_runs_servers_on_the_runtime_loop() -> None:
    registry = ToolRegistry()
    toolset = registry.add_mcp(basic())
    try:
        assert registry.call("basic_echo", {"text": "sync"}) == "sync"
        assert registry.call("basic_add", {"a": 1, "b": 1}) == {"total": 2, "terms": [1, 1]}
        assert len(children_running()) == 1
    finally:
        toolset.close()
    assert children_running() == []


def test_a_server_started_on_one_loop_serves_callers_on_another() -> None:
    registry = ToolRegistry()
    toolset = registry.add_mcp(basic(include=["pid", "echo"]))
    try:
        pid = int(registry.call("basic_pid", {}))  # starts it on the runtime's background loop

        async def elsewhere() -> tuple[int, str]:
            same = int(await registry.acall("basic_pid", {}))
            return same, await toolset.call("basic", "echo", {"text": "hop"})

        assert asyncio.run(elsewhere()) == (pid, "hop")  # same process, reached from another loop
        asyncio.run(toolset.aclose())  # closing from another loop stops it too
        assert not pid_alive(pid)
    finally:
        toolset.close()
