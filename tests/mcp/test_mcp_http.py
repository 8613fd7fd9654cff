"""MCP over Streamable HTTP against the test server in a child process on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from geppetto.errors import ConfigError
from geppetto.mcp import MCPServer, MCPStartError, MCPToolError, MCPToolset, load_mcp_config

from .conftest import BASIC


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, BASIC, "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(400):  # wait (bounded) until it accepts connections
            if proc.poll() is not None:
                pytest.fail(f"the HTTP test server exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the HTTP test server did not start listening")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_http_list_call_and_results(http_url: str) -> None:
    async with MCPToolset(MCPServer.http("web", http_url)) as toolset:
        names = [d.name for d in await toolset.tools()]
        assert "web_echo" in names and "web_add" in names
        assert await toolset.call("web", "echo", {"text": "over http"}) == "over http"
        assert await toolset.call("web", "add", {"a": 4, "b": 5}) == {"total": 9, "terms": [4, 5]}
        picture = await toolset.call("web", "picture", {})
        assert picture["images"][0]["media_type"] == "image/png"
        with pytest.raises(MCPToolError, match=r"MCP server 'web': .*nope"):
            await toolset.call("web", "fail", {"message": "nope"})


async def test_http_headers_come_from_the_environment(http_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEPPETTO_TEST_BEARER", "tok-xyz")
    headers = {"Authorization": "Bearer ${GEPPETTO_TEST_BEARER}"}
    document = {"mcpServers": {"web": {"url": http_url, "headers": headers}}}
    [server] = load_mcp_config(document)
    assert "tok-xyz" not in repr(server)
    async with MCPToolset(server) as toolset:
        assert await toolset.call("web", "header", {"name": "authorization"}) == "Bearer tok-xyz"


async def test_strict_outbound_policy_refuses_a_loopback_server(http_url: str) -> None:
    async with MCPToolset(MCPServer.http("web", http_url), outbound_policy="strict") as toolset:
        with pytest.raises(ConfigError, match="strict outbound policy"):
            await toolset.tools()


async def test_http_server_that_is_not_there_is_a_start_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}/mcp"
    async with MCPToolset(MCPServer.http("gone", url, timeout=5)) as toolset:
        with pytest.raises(MCPStartError, match="MCP server 'gone': failed to start"):
            await toolset.tools()
