"""A tiny MCP server (stdio) for the examples: ``add`` and ``word_count``.

Any MCP client can start it: ``python examples/mcp/server.py`` speaks MCP on stdin/stdout.
Needs the ``mcp`` extra (``pip install -e '.[mcp]'``).
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("calc")


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool()
def word_count(text: str) -> dict[str, int]:
    """Count the words and characters of a text."""
    return {"words": len(text.split()), "characters": len(text)}


if __name__ == "__main__":
    server.run()
