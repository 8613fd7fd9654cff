"""Tools: definitions (``@tool``), the registry, the executor, its config and hooks.

The tool loop that drives them from model output lives in :mod:`geppetto.toolloop`.
"""

from geppetto.tools.call import ToolCall, ToolResult
from geppetto.tools.config import ERROR_HANDLING_MODES, TOOL_CHOICES, ToolConfig
from geppetto.tools.definition import ToolDefinition, tool
from geppetto.tools.encoding import compact_json, decode_arguments, to_json_value
from geppetto.tools.errors import HookError, ToolArgumentsError, ToolTimeoutError
from geppetto.tools.executor import ToolExecutor
from geppetto.tools.hooks import (
    UNSET,
    AfterToolCallDecision,
    AfterToolCallPayload,
    BeforeToolCallDecision,
    BeforeToolCallPayload,
    ToolErrorDecision,
    ToolErrorPayload,
    ToolHooks,
)
from geppetto.tools.registry import ToolRegistry
from geppetto.tools.scope import ToolCallScope, current_tool_call

__all__ = [
    "ERROR_HANDLING_MODES",
    "TOOL_CHOICES",
    "UNSET",
    "AfterToolCallDecision",
    "AfterToolCallPayload",
    "BeforeToolCallDecision",
    "BeforeToolCallPayload",
    "HookError",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallScope",
    "ToolConfig",
    "ToolDefinition",
    "ToolErrorDecision",
    "ToolErrorPayload",
    "ToolExecutor",
    "ToolHooks",
    "ToolRegistry",
    "ToolResult",
    "ToolTimeoutError",
    "compact_json",
    "current_tool_call",
    "decode_arguments",
    "to_json_value",
    "tool",
]
