"""``ToolLoop``: the handler a session runs when tools are configured.

Each iteration runs the wrapped handler (middlewares around the engine), looks for pending tool
calls, executes them and appends one ``tool_use`` block per call (``result`` = compact JSON of
the value, ``error`` = message or ``""``), until the model stops calling tools or
``max_iterations`` is used up (``max iterations (<n>) reached``). Whatever happens, the turn so
far is left in ``ctx.output`` so the session records it: tool results that finished before a
cancellation, an abort or the iteration cap are never lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson

from geppetto.engines.base import Handler, RunContext
from geppetto.errors import EngineError, ToolError
from geppetto.toolloop.pending import pending_tool_calls
from geppetto.tools.call import ToolCall, ToolResult
from geppetto.tools.config import ToolConfig
from geppetto.tools.executor import CANCELLED_MESSAGE, ToolExecutor
from geppetto.tools.hooks import ToolHooks
from geppetto.tools.registry import ToolRegistry
from geppetto.turns.jsonvalue import copy_json
from geppetto.turns.keys import DataKeys
from geppetto.turns.model import Block, Turn


class ToolLoop:
    """Runs ``handler`` and the tools it calls; ``run`` has the handler signature.

    ``config`` and ``hooks`` may be given as objects or as mappings (JSON form / JS option
    names); both are validated here, before anything runs.
    """

    __slots__ = ("config", "executor", "handler", "hooks", "registry")

    def __init__(
        self,
        handler: Handler,
        registry: ToolRegistry,
        config: ToolConfig | Mapping[str, Any] | None = None,
        hooks: ToolHooks | Mapping[str, Any] | None = None,
    ) -> None:
        if handler is None:
            raise ToolError("tool loop engine is nil")
        if registry is None:
            raise ToolError("tool loop registry is nil")
        if not isinstance(registry, ToolRegistry):
            raise ToolError(f"expected tool registry reference, got {type(registry).__name__}")
        if isinstance(config, Mapping):
            config = ToolConfig.from_dict(config)
        if isinstance(hooks, Mapping):
            hooks = ToolHooks.from_dict(hooks)
        if config is not None and not isinstance(config, ToolConfig):
            raise ToolError(f"expected ToolConfig or a mapping, got {type(config).__name__}")
        if hooks is not None and not isinstance(hooks, ToolHooks):
            raise ToolError(f"expected ToolHooks or a mapping, got {type(hooks).__name__}")
        self.handler = handler
        self.registry = registry
        self.config = (config if config is not None else ToolConfig()).validate()
        self.hooks = hooks
        self.executor = ToolExecutor(registry, self.config, hooks)

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        config = self.config
        if not config.enabled:
            ctx.tools = None
            return await self._step(turn, ctx)
        mcp = bool(self.registry.mcp_toolsets)
        if mcp:  # MCP servers start here, when a run first needs their tools
            await self.registry.aprepare(strict=config.tool_error_handling == "abort")
        advertised = self._advertised()
        ctx.tools = advertised
        data = self._tool_data(advertised)
        if config.tool_choice == "none":
            _write_data(turn, data)
            return await self._step(turn, ctx)
        for iteration in range(config.max_iterations):
            if mcp and iteration:  # a server may have changed its tools (tools/list_changed)
                await self.registry.aprepare(strict=config.tool_error_handling == "abort")
                refreshed = self._advertised()
                if refreshed.list_tools() != advertised.list_tools():
                    data = self._tool_data(refreshed)
                advertised = ctx.tools = refreshed
            _write_data(turn, data)
            out = await self._step(turn, ctx)
            if out is not turn:  # an engine that builds a new turn still carries the tool data
                _write_data(out, data)
            turn = out
            pending = pending_tool_calls(turn)
            if not pending:
                return turn
            await self._execute(turn, pending, ctx)
        ctx.output = turn
        raise ToolError(f"max iterations ({config.max_iterations}) reached")

    def _advertised(self) -> ToolRegistry:
        allowed = self.config.allowed_tools
        return self.registry if allowed is None else self.registry.subset(allowed)

    async def _step(self, turn: Turn, ctx: RunContext) -> Turn:
        out = await self.handler(turn, ctx)
        if not isinstance(out, Turn):
            ctx.output = turn
            raise EngineError(f"engine returned {type(out).__name__}, expected a Turn")
        ctx.output = out
        return out

    async def _execute(self, turn: Turn, calls: list[ToolCall], ctx: RunContext) -> None:
        slots: list[ToolResult | None] = [None] * len(calls)
        try:
            results = await self.executor.execute_all(calls, ctx, slots)
        except asyncio.CancelledError:
            finished = [
                slot
                if slot is not None
                else ToolResult(call.id, call.name, error=CANCELLED_MESSAGE, skipped=True)
                for call, slot in zip(calls, slots, strict=True)
            ]
            _append_results(turn, calls, finished)
            ctx.output = turn
            raise
        _append_results(turn, calls, results)
        ctx.output = turn
        if self.config.tool_error_handling == "abort":
            failed = next((r for r in results if r.error and not r.skipped), None)
            if failed is not None:
                raise ToolError(f"tool execution aborted due to error in {failed.name}: {failed.error}")

    def _tool_data(self, advertised: ToolRegistry) -> dict[str, _Encoded]:
        """What the turn's data says about the tools, checked as JSON once per run, each value
        also encoded once (:func:`_write_data` decodes a private copy per iteration)."""
        data: dict[str, Any] = {}
        DataKeys.TOOL_CONFIG.set(data, self.config.to_dict())
        DataKeys.TOOL_DEFINITIONS.set(data, [d.to_dict() for d in advertised.list_tools()])
        return {key: _Encoded.of(value) for key, value in data.items()}


class _Encoded:
    """A JSON value with its orjson encoding: decoding it is a deep copy made in C, several
    times faster than walking the value in Python."""

    __slots__ = ("blob", "value")

    def __init__(self, value: Any, blob: bytes | None) -> None:
        self.value = value
        self.blob = blob

    @classmethod
    def of(cls, value: Any) -> _Encoded:
        try:
            blob: bytes | None = orjson.dumps(value)
        except orjson.JSONEncodeError:  # beyond orjson (integers over 64 bits): copied in Python
            blob = None
        return cls(value, blob)

    def copy(self) -> Any:
        return copy_json(self.value) if self.blob is None else orjson.loads(self.blob)


def _write_data(turn: Turn, data: dict[str, _Encoded]) -> None:
    """Each iteration's turn gets its own copy (an engine may change what it is given)."""
    for key, value in data.items():
        turn.data[key] = value.copy()


def _append_results(turn: Turn, calls: list[ToolCall], results: list[ToolResult]) -> None:
    """One ``tool_use`` per call, answering the call id the model used (also when a hook changed it)."""
    for call, result in zip(calls, results, strict=True):
        turn.blocks.append(Block.tool_use(call.id, result.result_json(), result.error))
