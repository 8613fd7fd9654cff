"""MCP (Model Context Protocol) servers' tools as ordinary geppetto tools.

>>> from geppetto.mcp import MCPServer
>>> registry = ToolRegistry()
>>> registry.add_mcp(MCPServer.stdio("fs", "npx", ["-y", "@modelcontextprotocol/server-filesystem", "."]))

Needs the optional ``mcp`` extra (``pip install 'geppetto[mcp]'``); the SDK is imported only
when a server is started, so importing this package is cheap.
"""

from geppetto.mcp.config import MCPServer, load_mcp_config, parse_mcp_command, server_from_entry
from geppetto.mcp.errors import (
    MCPError,
    MCPProtocolError,
    MCPServerExited,
    MCPStartError,
    MCPTimeoutError,
    MCPToolError,
)
from geppetto.mcp.toolset import MCPToolset

__all__ = [
    "MCPError",
    "MCPProtocolError",
    "MCPServer",
    "MCPServerExited",
    "MCPStartError",
    "MCPTimeoutError",
    "MCPToolError",
    "MCPToolset",
    "load_mcp_config",
    "parse_mcp_command",
    "server_from_entry",
]
