"""MCP tools from Python, offline: a function engine plays the model.

The example server (server.py, started over stdio) joins a ToolRegistry; its tools are named
``calc_add`` and ``calc_word_count``. The "model" asks for ``calc_word_count`` and then answers
with the result. The server starts when the run first needs its tools and stops at the end.

Run from the repository root: .venv/bin/python examples/mcp/mcp_tools.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from geppetto.engines import FunctionEngine
from geppetto.mcp import MCPServer
from geppetto.session import EngineBuilder, Session
from geppetto.tools import ToolRegistry
from geppetto.turns import Block, BlockKind, Turn

SERVER = str(Path(__file__).with_name("server.py"))


def model(turn: Turn) -> Turn:
    """Ask for one tool call, then answer with what the tool returned."""
    used = [block for block in turn.blocks if block.kind is BlockKind.TOOL_USE]
    if used:
        result: Any = used[-1].payload.get("result")
        turn.blocks.append(Block.assistant(f"The tool said: {result}"))
    else:
        turn.blocks.append(Block.tool_call("call-1", "calc_word_count", {"text": "the quick brown fox"}))
    return turn


def main() -> None:
    registry = ToolRegistry()
    toolset = registry.add_mcp(MCPServer.stdio("calc", sys.executable, [SERVER]))
    session = Session(EngineBuilder(FunctionEngine(model)).with_tools(registry))
    try:
        out = session.run(Turn([Block.user("How many words are in 'the quick brown fox'?")]))
        print("tools:", ", ".join(registry.names()))
        print(out.blocks[-1].text)
    finally:
        toolset.close()  # stops the server process


if __name__ == "__main__":
    main()
