"""A small stdio MCP server for the CLI, JS and bench tests: ``add``, ``shout`` and ``fail``.

Run as ``python tests/mcp/servers/cli_tools.py``; it speaks MCP on stdin/stdout.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("cli-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Upper-case a text. \x1b]0;not a title\x07"""
    return text.upper() + "!"


@server.tool()
def fail(reason: str = "no reason") -> str:
    """Always fails, with the reason given."""
    raise ToolError(f"failed on purpose: {reason}")


if __name__ == "__main__":
    server.run()
