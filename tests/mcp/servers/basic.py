"""A small MCP server for the tests, over stdio (default) or Streamable HTTP (``--http PORT``).

Tools cover the result shapes and faults the client must handle: text, structured, image,
``isError``, a hang, an exit mid-call (garbage replies: raw.py), a tool list that changes, and one
that reports an environment variable (to check what the child was given).
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

server = MCPServer("basic-test-server")

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@server.tool(structured_output=False)
def echo(text: str) -> str:
    """Echo the text back."""
    return text


class Sum(BaseModel):
    total: int
    terms: list[int]


@server.tool()
def add(a: int, b: int) -> Sum:
    """Add two integers (structured result)."""
    return Sum(total=a + b, terms=[a, b])


@server.tool(structured_output=False)
def picture(caption: str = "a pixel") -> list[object]:
    """A one-pixel PNG with a caption."""
    return [caption, Image(data=PNG, format="png")]


@server.tool()
def fail(message: str) -> str:
    """Always fails with the message (an isError result)."""
    raise ToolError(message)


@server.tool(structured_output=False)
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool(structured_output=False)
def crash() -> str:
    """Exit the process in the middle of the call."""
    os._exit(3)


@server.tool(structured_output=False)
def getenv(name: str) -> str:
    """The value of an environment variable in the server process, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool(structured_output=False)
def environ() -> str:
    """The names of the environment the process was started with (not what Python added since),
    one per line."""
    with open("/proc/self/environ", "rb") as fh:
        entries = [item.split(b"=", 1)[0].decode() for item in fh.read().split(b"\0") if item]
    return "\n".join(sorted(entries))


@server.tool(structured_output=False)
def header(name: str, ctx: Context) -> str:
    """The value of an HTTP request header (Streamable HTTP only), or <unset>."""
    headers = ctx.headers or {}
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "<unset>")


@server.tool(structured_output=False)
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


def _late() -> str:
    """A tool added at run time."""
    return "late"


@server.tool(structured_output=False)
async def grow(ctx: Context) -> str:
    """Add the tool 'late' and tell the client its tool list changed."""
    server.add_tool(_late, name="late", structured_output=False)
    await ctx.session.send_tool_list_changed()
    return "grown"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
