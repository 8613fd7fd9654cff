"""Tool errors the executor needs to tell apart (all are :class:`~geppetto.errors.ToolError`)."""

from __future__ import annotations

from geppetto.errors import ToolError


class ToolArgumentsError(ToolError):
    """The call's arguments are unusable (bad JSON, not an object, failing the schema).

    Retrying the same arguments cannot help, so the default retry decision skips these; an
    ``on_tool_error`` hook may still ask for a retry.
    """

    code = "tool_arguments_error"


class ToolTimeoutError(ToolError):
    """The tool ran longer than the configured execution timeout and was abandoned."""

    code = "tool_timeout"


class HookError(ToolError):
    """A hook raised or returned something that is not a decision."""

    code = "tool_hook_error"
