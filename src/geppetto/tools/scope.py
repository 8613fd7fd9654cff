"""Which tool call is running: a tool (Python or JS) can ask for its call id, name and deadline.

The executor sets the scope around each attempt; a context variable carries it into async tools
and, through ``asyncio.to_thread``, into sync ones. Outside a tool call it is ``None``.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ToolCallScope:
    """``deadline_ms``: wall-clock time (Unix ms) at which the execution timeout strikes, if any."""

    call_id: str
    name: str
    deadline_ms: int | None = None


_CURRENT: ContextVar[ToolCallScope | None] = ContextVar("geppetto_tool_call", default=None)


def current_tool_call() -> ToolCallScope | None:
    """The call being executed, when called from inside a tool."""
    return _CURRENT.get()


class tool_call_scope:
    """``with tool_call_scope(scope):`` makes ``scope`` the current call (a class: cheaper per call
    than a generator-based context manager)."""

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: ToolCallScope) -> None:
        self._scope = scope

    def __enter__(self) -> None:
        self._token = _CURRENT.set(self._scope)

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)
