"""``tools.createRegistry()``, tool-loop options and tool hooks as scripts give them (§1.7, §1.8, §1.10)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geppetto.background import background_loop
from geppetto.js.module.callbacks import JSHook, JSToolHandler
from geppetto.js.module.errors import ModuleUsageError
from geppetto.js.values import JSCallback
from geppetto.tools.config import ERROR_HANDLING_MODES, TOOL_CHOICES, ToolConfig
from geppetto.tools.definition import ToolDefinition
from geppetto.tools.hooks import DEFAULT_MAX_HOOK_RETRIES, ToolHooks
from geppetto.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime


class JSToolRegistry:
    """The JS ``ToolRegistry`` object: a fresh registry that can also import host tools."""

    __js_class__ = "ToolRegistry"
    __slots__ = ("__weakref__", "host_tools", "registry", "runtime")

    def __init__(self, runtime: JSRuntime, host_tools: ToolRegistry | None) -> None:
        self.runtime = runtime
        self.registry = ToolRegistry()
        self.host_tools = host_tools

    def register(self, spec: Mapping[str, Any]) -> None:
        name = str(spec.get("name", ""))
        if not name:
            raise ModuleUsageError("tool name is required")
        handler = spec.get("handler")
        if not isinstance(handler, JSCallback):
            raise TypeError(f"tool {name} handler must be a function")
        parameters = spec.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise TypeError(f"tool {name} parameters must be a JSON schema object")
        description = spec.get("description") or ""
        self.registry.register(
            ToolDefinition(
                name, JSToolHandler(name, handler), description=str(description), parameters=parameters
            )
        )

    def use_host_tools(self, names: list[str]) -> None:
        if self.host_tools is None:
            raise ModuleUsageError("no go tool registry configured")
        wanted = names or self.host_tools.names()
        # tool not found: X; MCP tools by their prefixed names, listed when the servers are
        self.registry.merge(self.host_tools.narrowed(wanted))

    def add_mcp(self, spec: Any) -> None:
        """``addMCP({name, command, args, env, cwd, url, headers, include, exclude})``: one entry of
        an ``mcpServers`` config whose tools join this registry (``ToolRegistry.add_mcp``). The
        server starts when a run, ``list()`` or ``call()`` first needs it and stops when the
        runtime closes (the end of ``geppetto js run``, also on Ctrl-C)."""
        from geppetto.mcp import MCPToolset, load_mcp_config

        if not isinstance(spec, dict):
            raise TypeError("addMCP requires an object such as {name, command, args} or {name, url}")
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ModuleUsageError("addMCP: name is required (it prefixes the server's tool names)")
        entry = {key: value for key, value in spec.items() if key != "name" and value is not None}
        servers = load_mcp_config({"mcpServers": {name.strip(): entry}})
        taken = {server.prefix for toolset in self.registry.mcp_toolsets for server in toolset.servers}
        for server in servers:
            if server.prefix in taken:
                raise ModuleUsageError(
                    f"addMCP: an MCP server named {server.name} is already registered; give this one "
                    "another name (it prefixes the tool names)"
                )
        toolset = MCPToolset(servers)
        self.runtime.add_close_hook(toolset.close)
        self.registry.add_mcp(toolset)

    def _prepare(self) -> None:
        """Start ``addMCP`` servers not yet running, so their tools are listed (on the runtime loop)."""
        if self.registry.mcp_toolsets:
            prepare = self.registry.aprepare(strict=True)
            self.runtime.wait_for(asyncio.run_coroutine_threadsafe(prepare, background_loop()))

    def list(self) -> list[dict[str, Any]]:
        self._prepare()
        return [definition.info() for definition in self.registry.list_tools()]

    def call(self, name: str, args: Any) -> Any:
        """Run a tool now (hooks do not apply); JS tools run on the owner, which keeps serving."""
        if args is not None and not isinstance(args, dict | str):
            raise TypeError(f"call: args for tool {name} must be an object")
        fut = asyncio.run_coroutine_threadsafe(self.registry.acall(name, args), background_loop())
        return self.runtime.wait_for(fut)


def registry_of(value: Any) -> ToolRegistry:
    """The Python registry behind a JS registry object (or a host ``ToolRegistry`` handed to JS)."""
    if isinstance(value, JSToolRegistry):
        return value.registry
    if isinstance(value, ToolRegistry):
        return value
    raise ModuleUsageError("expected tool registry reference")


# -- tool-loop options ------------------------------------------------------------------------


@dataclass(slots=True)
class LoopOptions:
    """What one ``withToolLoop``/``toolLoop`` object sets (it replaces earlier settings wholesale)."""

    config: ToolConfig
    hooks: ToolHooks | None


_INT_KEYS = {"maxIterations": "max_iterations", "maxParallelTools": "max_parallel_tools"}


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"{where}: {key} must be a number")
    return float(value)


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in allowed:
        raise TypeError(f'invalid {key} "{value}", expected one of: {", ".join(allowed)}')
    return str(text)


def parse_loop_options(opts: Mapping[str, Any], where: str) -> LoopOptions:
    """The reference ``applyToolLoopSettings``: defaults for every key the object leaves out
    (note ``maxParallelTools`` 1, not the Python default 3), validated with JS option names."""
    values: dict[str, Any] = {
        "enabled": True,
        "max_iterations": 5,
        "max_parallel_tools": 1,
        "execution_timeout_ms": 30_000,
        "tool_choice": "auto",
        "tool_error_handling": "continue",
        "retry_max_retries": 2,
        "retry_backoff_ms": 1_000,
        "retry_backoff_factor": 2.0,
        "allowed_tools": None,
    }
    enabled = opts.get("enabled")
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise TypeError(f"{where}: enabled must be a boolean")
        values["enabled"] = enabled
    for key, field in _INT_KEYS.items():
        if opts.get(key) is not None:
            values[field] = max(1, math.trunc(_number(where, key, opts[key])))
    if opts.get("executionTimeoutMs") is not None:
        timeout = _number(where, "executionTimeoutMs", opts["executionTimeoutMs"])
        values["execution_timeout_ms"] = timeout if timeout > 0 else None
    if opts.get("toolChoice") is not None:
        values["tool_choice"] = _choice("toolChoice", opts["toolChoice"], TOOL_CHOICES)
    if opts.get("toolErrorHandling") is not None:
        values["tool_error_handling"] = _choice(
            "toolErrorHandling", opts["toolErrorHandling"], ERROR_HANDLING_MODES
        )
    if opts.get("retryMaxRetries") is not None:
        values["retry_max_retries"] = max(
            0, math.trunc(_number(where, "retryMaxRetries", opts["retryMaxRetries"]))
        )
    for key, field in (
        ("retryBackoffMs", "retry_backoff_ms"),
        ("retryBackoffFactor", "retry_backoff_factor"),
    ):
        if opts.get(key) is not None:
            number = _number(where, key, opts[key])
            if number > 0:  # the reference only applies positive values
                values[field] = number
    allowed = opts.get("allowedTools")
    if allowed is not None:
        if not isinstance(allowed, list) or not all(isinstance(n, str) for n in allowed):
            raise TypeError(f"{where}: allowedTools must be an array of tool names")
        values["allowed_tools"] = list(allowed)
    hooks = parse_hooks(opts["hooks"], where) if opts.get("hooks") is not None else None
    return LoopOptions(ToolConfig(**values), hooks)


def parse_hooks(raw: Any, where: str) -> ToolHooks | None:
    """A hooks object; ``None`` when it has none of the three callbacks (the reference ignores it)."""
    if not isinstance(raw, Mapping):
        raise TypeError(f"{where}: hooks must be an object")
    callbacks = {
        name: JSHook(raw[name]) if isinstance(raw.get(name), JSCallback) else None
        for name in ("beforeToolCall", "afterToolCall", "onToolError")
    }
    if all(hook is None for hook in callbacks.values()):
        return None
    fail_open = raw.get("failOpen")
    if fail_open is not None and not isinstance(fail_open, bool):
        raise TypeError(f"{where}: failOpen must be a boolean")
    policy = raw.get("hookErrorPolicy")
    if not isinstance(policy, str) or not policy.strip():
        policy = raw.get("onHookError")
    retries = raw.get("maxHookRetries")
    max_retries = DEFAULT_MAX_HOOK_RETRIES
    if isinstance(retries, int | float) and not isinstance(retries, bool) and retries >= 1:
        max_retries = math.trunc(retries)
    return ToolHooks(
        before_tool_call=callbacks["beforeToolCall"],
        after_tool_call=callbacks["afterToolCall"],
        on_tool_error=callbacks["onToolError"],
        fail_open=fail_open,
        hook_error_policy=policy if isinstance(policy, str) else "",
        max_hook_retries=max_retries,
    )
