"""Typed MCP faults. Each names its server and carries a stable ``code``.

They derive from :class:`~geppetto.errors.ToolError`, so when an MCP tool fails inside the tool
loop the executor records the message as the call's error and the loop's error policy
(continue, abort, retry) decides what happens next, exactly as for a local tool.
"""

from __future__ import annotations

from geppetto.errors import ToolError


class MCPError(ToolError):
    """Base of every MCP failure; ``server`` is the configured server name."""

    code = "mcp_error"

    def __init__(self, server: str, message: str) -> None:
        super().__init__(f"MCP server {server!r}: {message}")
        self.server = server


class MCPStartError(MCPError):
    """The server could not be started or did not complete the handshake."""

    code = "mcp_start_error"


class MCPServerExited(MCPError):
    """The server went away (process exited, connection closed) while a request was pending."""

    code = "mcp_server_exited"


class MCPTimeoutError(MCPError):
    """The server did not answer within its configured timeout; the connection was dropped."""

    code = "mcp_timeout"


class MCPProtocolError(MCPError):
    """The server sent something that is not valid MCP (garbage on stdout, a malformed reply)."""

    code = "mcp_protocol_error"


class MCPToolError(MCPError):
    """The tool ran and reported failure (``isError`` in its result); the text is the server's."""

    code = "mcp_tool_error"


__all__ = [
    "MCPError",
    "MCPProtocolError",
    "MCPServerExited",
    "MCPStartError",
    "MCPTimeoutError",
    "MCPToolError",
]
