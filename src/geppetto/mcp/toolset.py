"""``MCPToolset``: MCP servers' tools as geppetto :class:`~geppetto.tools.ToolDefinition` objects.

A toolset owns one :class:`MCPConnection` per server. Nothing starts until the tools are first
listed (:meth:`MCPToolset.tools`) or called. Each server tool becomes a definition named
``<server>_<tool>`` (characters providers refuse in tool names become ``_``) whose handler
sends ``tools/call``, so the tool loop's hooks, timeouts, retries, parallelism and events apply
to it unchanged. A server's
``notifications/tools/list_changed`` marks its listing stale; the next :meth:`tools` lists
again. Tool descriptions and schemas are data from the server: they are passed to the model
and shown, never evaluated.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import IO, Any

from geppetto.engines.base import RunContext
from geppetto.errors import ConfigError
from geppetto.mcp.config import MCPServer
from geppetto.mcp.connection import MCPConnection, close_all_threadsafe
from geppetto.mcp.results import result_value
from geppetto.tools.definition import ToolDefinition
from geppetto.tools.errors import ToolArgumentsError

# What provider APIs accept in tool names; the server-side name is kept for the call itself.
_TOOL_CHARS = re.compile(r"[^A-Za-z0-9_-]")


# Providers refuse longer tool names (OpenAI, Anthropic: 64 characters).
MAX_TOOL_NAME = 64


def qualified_name(prefix: str, tool_name: str) -> str:
    """``<prefix><tool>`` with characters providers refuse made ``_``; a name over
    :data:`MAX_TOOL_NAME` keeps its start and ends in a short hash of the whole, so it stays unique."""
    name = prefix + _TOOL_CHARS.sub("_", tool_name)
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_TOOL_NAME - 9]}_{digest}"


class MCPToolDefinition(ToolDefinition):
    """An MCP tool: calling it sends ``tools/call``. The executor awaits the request itself,
    not the handler wrapping it (a frame less at each of the request's suspensions)."""

    __slots__ = ("_handler", "_request")

    def __init__(
        self, name: str, handler: Callable[[dict[str, Any]], Awaitable[Any]], **options: Any
    ) -> None:
        super().__init__(name, handler, **options)
        self._handler = handler
        self._request: Callable[[dict[str, Any]], Awaitable[Any]] = handler

    def _start(self, args: dict[str, Any], ctx: RunContext) -> Awaitable[Any]:
        if self.function is not self._handler:  # the function was replaced: run that instead
            return super()._start(args, ctx)
        if not isinstance(args, dict):
            raise ToolArgumentsError(f"invalid arguments for tool {self.name}: expected a JSON object")
        self._check_required(args)
        return self._request(args)


class MCPToolset:
    """The tools of several MCP servers. ``async with`` (or :meth:`aclose`) stops every server."""

    def __init__(
        self,
        servers: MCPServer | Iterable[MCPServer],
        *,
        outbound_policy: str = "permissive",
        errlog: IO[str] | None = None,
    ) -> None:
        items = [servers] if isinstance(servers, MCPServer) else list(servers)
        seen: dict[str, str] = {}
        for server in items:
            if not isinstance(server, MCPServer):
                raise ConfigError(f"MCPToolset takes MCPServer objects, got {type(server).__name__}")
            if server.prefix in seen:
                raise ConfigError(
                    f"two MCP servers share the tool prefix {server.prefix!r} "
                    f"({seen[server.prefix]!r} and {server.name!r}): rename one"
                )
            seen[server.prefix] = server.name
        self.servers: tuple[MCPServer, ...] = tuple(items)
        self._connections = {
            server.name: MCPConnection(
                server,
                outbound_policy=outbound_policy,
                on_tools_changed=self._marker(server.name),
                errlog=errlog,
            )
            for server in items
        }
        self._listed: dict[str, list[ToolDefinition]] = {}
        self._stale: set[str] = set()
        self.errors: dict[str, BaseException] = {}
        # Counts listings: a registry sharing this toolset compares it with the one it synced.
        self.generation = 0
        _register_exit_handler()

    def _marker(self, name: str) -> Callable[[], None]:
        return lambda: self._stale.add(name)

    @property
    def is_stale(self) -> bool:
        """True before the first listing and after a server said its tools changed."""
        return len(self._listed) < len(self.servers) or bool(self._stale)

    def connection(self, server: str) -> MCPConnection:
        try:
            return self._connections[server]
        except KeyError:
            known = ", ".join(self._connections) or "none"
            raise ConfigError(f"unknown MCP server {server!r} (configured: {known})") from None

    async def tools(self, *, strict: bool = True) -> list[ToolDefinition]:
        """Every kept tool of every server, prefixed; starts servers not yet running.

        Servers are listed concurrently. With ``strict`` the first failure is raised (after the
        others finish); otherwise a failed server contributes no tools, its error is kept in
        :attr:`errors`, and it is not tried again until it reports a change or :meth:`aclose`.
        """
        pending = [s for s in self.servers if s.name not in self._listed or s.name in self._stale]
        if pending:
            self.generation += 1
            results = await asyncio.gather(*(self._list(s) for s in pending), return_exceptions=True)
            for server, outcome in zip(pending, results, strict=True):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                if isinstance(outcome, BaseException):
                    self.errors[server.name] = outcome
                    if not strict:
                        self._listed[server.name] = []
            first = next((r for r in results if isinstance(r, BaseException)), None)
            if strict and first is not None:
                raise first
        return [d for s in self.servers for d in self._listed.get(s.name, [])]

    async def server_tools(self, server: str) -> list[Any]:
        """The raw ``mcp.types.Tool`` list of one server (for listings: name, description, schema)."""
        return await self.connection(server).list_tools()

    async def call(self, server: str, tool: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """Call one tool by its server-side name; returns the mapped result value."""
        result = await self.connection(server).call_tool(tool, dict(arguments or {}))
        return result_value(server, result)

    async def _list(self, server: MCPServer) -> None:
        self._stale.discard(server.name)
        self.errors.pop(server.name, None)
        raw = await self._connections[server.name].list_tools()
        self._listed[server.name] = [self._definition(server, t) for t in raw if server.wants(t.name)]

    def _definition(self, server: MCPServer, remote: Any) -> ToolDefinition:
        name = server.name
        tool_name = str(remote.name)
        connection = self._connections[name]

        def finish(result: Any) -> Any:
            return result_value(name, result)

        async def handler(args: dict[str, Any]) -> Any:  # args: a fresh object from the executor
            return await connection.tool_call(tool_name, args, finish)

        schema = remote.input_schema if isinstance(remote.input_schema, dict) else {}
        parameters = dict(schema) or {"type": "object", "properties": {}}
        parameters.setdefault("type", "object")
        definition = MCPToolDefinition(
            qualified_name(server.prefix, tool_name),
            handler,
            description=remote.description or "",
            parameters=parameters,
            tags=("mcp", f"mcp:{name}"),
        )
        definition._request = lambda args: connection.tool_call(tool_name, args, finish)
        return definition

    async def aclose(self) -> None:
        """Stop every server (their child processes are reaped); the toolset can start them again."""
        await asyncio.gather(*(c.aclose() for c in self._connections.values()), return_exceptions=True)
        self._listed.clear()
        self._stale.clear()
        self.errors.clear()

    def close(self) -> None:
        """Blocking :meth:`aclose` for code outside any event loop (servers on other loops)."""
        for connection in self._connections.values():
            connection.close_threadsafe()
        self._listed.clear()

    async def __aenter__(self) -> MCPToolset:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"MCPToolset({[s.name for s in self.servers]!r})"


_exit_handler_registered = False


def _register_exit_handler() -> None:
    """At interpreter exit, stop servers still running on other threads' loops (no orphans)."""
    global _exit_handler_registered
    if not _exit_handler_registered:
        atexit.register(close_all_threadsafe)
        _exit_handler_registered = True
