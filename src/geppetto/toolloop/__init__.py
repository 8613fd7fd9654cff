"""The tool loop: run the engine, execute the tool calls it asked for, feed results back, repeat."""

from geppetto.toolloop.loop import ToolLoop
from geppetto.toolloop.pending import pending_tool_calls

__all__ = ["ToolLoop", "pending_tool_calls"]
