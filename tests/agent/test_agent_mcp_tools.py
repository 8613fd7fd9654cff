"""An agent's ``host_tool`` narrowing selects MCP tools by their prefixed names."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from geppetto.agent import Agent, AgentHost
from geppetto.engines import FunctionEngine
from geppetto.engines.base import RunContext
from geppetto.errors import ToolError
from geppetto.mcp import MCPServer
from geppetto.tools import ToolConfig, ToolRegistry, tool
from geppetto.turns import Block, BlockKind, Turn
from tests.mcp.conftest import children_running

BASIC = str(Path(__file__).resolve().parent.parent / "mcp" / "servers" / "basic.py")


@tool
def double(n: int) -> int:
    """Double a number."""
    return 2 * n


def _engine(seen: list[list[str]]) -> FunctionEngine:
    """Records the advertised tools; calls basic_echo and double, then answers with the results."""

    def run(turn: Turn, ctx: RunContext) -> Turn:
        seen.append([d.name for d in ctx.tools.list_tools()])
        uses = [b.payload for b in turn.blocks if b.kind is BlockKind.TOOL_USE]
        if uses:
            turn.append(Block.assistant(" | ".join(str(u["result"] or u["error"]) for u in uses)))
        else:
            turn.append(Block.tool_call("c1", "basic_echo", {"text": "hi"}))
            turn.append(Block.tool_call("c2", "double", {"n": 4}))
        return turn

    return FunctionEngine(run)


def _stop(registry: ToolRegistry) -> None:
    for toolset in registry.mcp_toolsets:
        toolset.close()


def _host() -> tuple[AgentHost, ToolRegistry]:
    registry = ToolRegistry([double])
    registry.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC]))
    return AgentHost(tools=registry), registry


def test_host_tools_pick_mcp_tools_by_prefixed_name() -> None:
    host, registry = _host()
    seen: list[list[str]] = []
    agent = (
        Agent.builder(host)
        .engine(_engine(seen))
        .host_tool("basic_echo", "double")
        .tool_loop(ToolConfig(max_iterations=3))
        .build()
    )
    try:
        narrowed = agent.tool_registry()
        assert narrowed is not None
        assert not any(t.is_running for ts in narrowed.mcp_toolsets for t in ts._connections.values())
        result = agent.session().build().next().user("go").run()
    finally:
        _stop(registry)
    # only the picked tools are advertised, the MCP one among them, and both ran
    assert sorted(seen[0]) == ["basic_echo", "double"]  # not basic_add, basic_fail, ...
    assert children_running() == []
    assert result.text == '"hi" | 8'


def test_host_tools_unknown_names_still_fail_at_build() -> None:
    host, registry = _host()
    agent = Agent.builder(host).engine(_engine([])).host_tool("nope").build()
    with pytest.raises(ToolError, match='resolved runtime tool "nope" not present in registry'):
        agent.session().build()
    _stop(registry)


def test_narrowed_registry_lists_only_picked_mcp_tools_and_merges_keep_the_pick() -> None:
    import asyncio

    async def main() -> tuple[list[str], list[str], list[str]]:
        base = ToolRegistry([double])
        base.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC]))
        try:
            await base.aprepare()  # base listed first: the shared toolset is not stale any more
            picked = base.narrowed(["basic_add"])
            await picked.aprepare()
            merged = ToolRegistry().merge(picked)
            await merged.aprepare()
            value: Any = await merged.acall("basic_add", {"a": 2, "b": 3})
            assert value == {"total": 5, "terms": [2, 3]}
            return picked.names(), merged.names(), base.names()
        finally:
            await base.aclose()

    picked, merged, base = asyncio.run(main())
    assert picked == ["basic_add"] and merged == ["basic_add"]
    assert {"double", "basic_add", "basic_echo"} <= set(base)
    assert children_running() == []


def test_a_clone_made_before_listing_gets_the_tools_its_source_listed() -> None:
    import asyncio

    async def main() -> list[str]:
        base = ToolRegistry()
        base.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC], include=["echo"]))
        copy = base.clone()
        try:
            await base.aprepare()
            await copy.aprepare()  # the shared toolset was listed by base: copy still syncs
            return copy.names()
        finally:
            await base.aclose()

    assert asyncio.run(main()) == ["basic_echo"]
    assert children_running() == []


def test_a_picked_mcp_name_the_server_does_not_offer_fails_on_the_first_listing() -> None:
    import asyncio

    async def main() -> None:
        base = ToolRegistry()
        base.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC]))
        try:
            picked = base.narrowed(["basic_add", "basic_ad"])  # a typo under the server's prefix
            with pytest.raises(
                ToolError, match="tool not found: basic_ad \\(MCP server 'basic' does not offer it\\)"
            ):
                await picked.aprepare()
        finally:
            await base.aclose()

    asyncio.run(main())
    assert children_running() == []


def test_a_local_tool_named_under_a_server_prefix_is_picked_as_local() -> None:
    import asyncio

    @tool
    def basic_local(n: int) -> int:
        """A local tool whose name happens to start with the MCP server's prefix."""
        return n

    async def main() -> list[str]:
        base = ToolRegistry([basic_local])
        base.add_mcp(MCPServer.stdio("basic", sys.executable, [BASIC]))
        try:
            picked = base.narrowed(["basic_local", "basic_add"])
            await picked.aprepare()  # the MCP listing does not offer basic_local: not an error here
            return picked.names()
        finally:
            await base.aclose()

    assert sorted(asyncio.run(main())) == ["basic_add", "basic_local"]
    assert children_running() == []
