"""``ToolRegistry``: the named tools a session may run and advertise to the model.

Engines read ``ctx.tools.list_tools()`` to advertise tools; the executor looks calls up with
:meth:`ToolRegistry.get`. Registration order is kept (it is the order tools are advertised in).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from geppetto.background import background_loop
from geppetto.engines.base import RunContext
from geppetto.errors import ToolError
from geppetto.tools.config import ToolConfig
from geppetto.tools.definition import ToolDefinition, ToolFunction

if TYPE_CHECKING:
    from geppetto.mcp.config import MCPServer
    from geppetto.mcp.toolset import MCPToolset


class ToolRegistry:
    """Named :class:`ToolDefinition` objects. Safe to read and change from several threads."""

    __slots__ = ("_lock", "_only", "_owned", "_sources", "_synced", "_tools")

    def __init__(self, tools: Iterable[ToolDefinition | ToolFunction] = ()) -> None:
        self._tools: dict[str, ToolDefinition] = {}
        self._lock = threading.Lock()
        # MCP toolsets whose tools join this registry (see add_mcp), and which names they own.
        self._sources: list[MCPToolset] = []
        self._owned: dict[str, tuple[MCPToolset, ToolDefinition]] = {}
        # Toolsets of which only some tools join (see narrowed): their qualified names.
        self._only: dict[MCPToolset, frozenset[str]] = {}
        # The listing of each toolset this registry holds the tools of (a toolset may be shared).
        self._synced: dict[MCPToolset, int] = {}
        for item in tools:
            self.register(item)

    def register(self, tool: ToolDefinition | ToolFunction, *, name: str | None = None) -> ToolDefinition:
        """Add (or replace) a tool and return its definition; works as a decorator on functions.

        A plain function is turned into a tool like ``@tool`` does. ``name`` registers the tool
        under another name. An empty name raises ``tool name cannot be empty``.
        """
        if isinstance(tool, ToolDefinition):
            definition = tool
        else:
            definition = ToolDefinition.from_function(tool, name=name, localns=sys._getframe(1).f_locals)
        if name is not None and name != definition.name:
            definition = definition.renamed(name)
        if not isinstance(definition.name, str) or not definition.name.strip():
            raise ToolError("tool name cannot be empty")
        with self._lock:
            self._tools[definition.name] = definition
        return definition

    def get(self, name: str) -> ToolDefinition:
        definition = self._tools.get(name)
        if definition is None:
            raise ToolError(f"tool not found: {name}")
        return definition

    def unregister(self, name: str) -> None:
        with self._lock:
            if self._tools.pop(name, None) is None:
                raise ToolError(f"tool not found: {name}")

    def list_tools(self) -> list[ToolDefinition]:
        """Every definition, in registration order."""
        with self._lock:
            return list(self._tools.values())

    def names(self) -> list[str]:
        with self._lock:
            return list(self._tools)

    def clone(self) -> ToolRegistry:
        """A registry with the same definitions; changes to either do not affect the other.

        MCP toolsets are shared (one set of server connections), not copied.
        """
        copy = ToolRegistry()
        copy._tools = dict(self._tools)
        copy._sources = list(self._sources)
        copy._owned = dict(self._owned)
        copy._only = dict(self._only)
        copy._synced = dict(self._synced)
        return copy

    def narrowed(self, names: Iterable[str]) -> ToolRegistry:
        """A registry with only the named tools: local ones picked now, MCP ones (by their
        prefixed names) when the servers are listed, which the tool loop does when a run first
        needs them (so narrowing starts no server). A name that is neither a tool here nor
        under an MCP server's prefix raises ``tool not found: X``."""
        wanted = list(dict.fromkeys(names))
        picked = ToolRegistry()
        with self._lock:
            remote: list[str] = []  # names for the MCP servers
            for name in wanted:
                definition = self._tools.get(name)
                owner = self._owned.get(name)
                if definition is not None and (owner is None or owner[1] is not definition):
                    picked._tools[name] = definition  # a local tool
                elif any(_prefixed(toolset, name) for toolset in self._sources):
                    remote.append(name)
                else:
                    raise ToolError(f"tool not found: {name}")
            for toolset in self._sources:
                mine = frozenset(name for name in remote if _prefixed(toolset, name))
                allowed = self._only.get(toolset)
                mine = mine if allowed is None else mine & allowed
                if mine:  # its tools join at the next aprepare (from the toolset's listing, if any)
                    picked._sources.append(toolset)
                    picked._only[toolset] = mine
        order = {name: index for index, name in enumerate(wanted)}
        picked._tools = dict(sorted(picked._tools.items(), key=lambda item: order[item[0]]))
        return picked

    # -- MCP servers -----------------------------------------------------------------------

    def add_mcp(self, source: MCPServer | MCPToolset | Iterable[MCPServer]) -> MCPToolset:
        """Let an MCP server's (or toolset's) tools join this registry; returns the toolset.

        Nothing starts here: :meth:`aprepare` (which the tool loop awaits before each model
        call) starts the servers and registers their tools as ``<server>_<tool>``. A name that
        collides with a local tool raises :class:`ConfigError` then. Stop the servers with
        :meth:`aclose` (or the returned toolset's).
        """
        from geppetto.mcp.toolset import MCPToolset

        toolset = source if isinstance(source, MCPToolset) else MCPToolset(source)
        if toolset not in self._sources:
            self._sources.append(toolset)
        else:
            self._only.pop(toolset, None)  # added whole: every tool joins
        return toolset

    @property
    def mcp_toolsets(self) -> list[MCPToolset]:
        return list(self._sources)

    async def aprepare(self, *, strict: bool = True) -> None:
        """Bring MCP tools up to date (first listing, or after ``tools/list_changed``).

        Cheap when nothing changed. A server that cannot start raises its typed error, or with
        ``strict=False`` is left out (its error stays in the toolset's ``errors``). A name
        collision with a local tool always raises :class:`ConfigError`.
        """
        for toolset in self._sources:
            # Another registry sharing the toolset may have listed it: its listing then is new here.
            if toolset.is_stale or self._synced.get(toolset) != toolset.generation:
                definitions = await toolset.tools(strict=strict)
                only = self._only.get(toolset)
                if only is not None:
                    if toolset not in self._synced:  # picked names are checked on the first listing
                        _check_offered(toolset, only - {d.name for d in definitions})
                    definitions = [d for d in definitions if d.name in only]
                self._sync_owned(toolset, definitions)
                self._synced[toolset] = toolset.generation

    def _sync_owned(self, toolset: MCPToolset, definitions: list[ToolDefinition]) -> None:
        from geppetto.errors import ConfigError

        with self._lock:
            for definition in definitions:
                current = self._tools.get(definition.name)
                owner, owned = self._owned.get(definition.name, (None, None))
                if current is not None and (owned is not current or owner is not toolset):
                    raise ConfigError(
                        f"MCP tool {definition.name} collides with a tool already registered under that "
                        "name: rename the server (its name is the prefix) or exclude the tool"
                    )
            for name, (owner, old) in list(self._owned.items()):
                if owner is toolset and self._tools.get(name) is old:
                    del self._tools[name]
                    del self._owned[name]
            for definition in definitions:
                self._tools[definition.name] = definition
                self._owned[definition.name] = (toolset, definition)

    async def aclose(self) -> None:
        """Stop the MCP servers of every toolset added with :meth:`add_mcp`."""
        for toolset in self._sources:
            await toolset.aclose()

    def merge(self, other: ToolRegistry) -> ToolRegistry:
        """Add every tool of ``other`` (replacing same-named ones) and its MCP toolsets (with the
        tools ``other`` narrowed them to); returns ``self``."""
        with other._lock:
            tools, owned = list(other._tools.values()), dict(other._owned)
            sources, only, synced = list(other._sources), dict(other._only), dict(other._synced)
        for definition in tools:
            self.register(definition)
            mcp = owned.get(definition.name)
            if mcp is not None and mcp[1] is definition:  # still the MCP tool: it stays the toolset's
                with self._lock:
                    self._owned[definition.name] = mcp
        for toolset in sources:
            if toolset not in self._sources:
                self._sources.append(toolset)
                if toolset in only:
                    self._only[toolset] = only[toolset]
                if toolset in synced:
                    self._synced[toolset] = synced[toolset]
            elif toolset in self._only:  # both narrowed it: the union, listed again
                wider = only.get(toolset)
                if wider is None:
                    del self._only[toolset]
                else:
                    self._only[toolset] = self._only[toolset] | wider
                self._synced.pop(toolset, None)
        return self

    def subset(self, names: Iterable[str]) -> ToolRegistry:
        """A registry with only the named tools that exist here (for allow-lists)."""
        wanted = set(names)
        copy = ToolRegistry()
        copy._tools = {name: d for name, d in self._tools.items() if name in wanted}
        return copy

    async def acall(
        self,
        name: str,
        args: dict[str, Any] | str | None = None,
        ctx: RunContext | None = None,
        *,
        config: ToolConfig | None = None,
    ) -> Any:
        """Run one tool directly, without hooks (default config: 30 s timeout, no retries).

        Returns the JSON-ready result; a failure raises :class:`ToolError` with the message the
        tool loop would record (``tool not found: X``, ``invalid arguments for tool X: ...``).
        """
        from geppetto.tools.call import ToolCall
        from geppetto.tools.executor import ToolExecutor

        if not isinstance(name, str) or not name:
            raise ToolError("call requires tool name")
        if self._sources:
            await self.aprepare(strict=False)
        executor = ToolExecutor(self, config)
        result = await executor.execute(ToolCall("direct-call", name, args if args is not None else {}), ctx)
        if result.error:
            raise ToolError(result.error)
        return result.value

    def call(
        self, name: str, args: dict[str, Any] | str | None = None, *, config: ToolConfig | None = None
    ) -> Any:
        """Synchronous :meth:`acall` for code without a running event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._sources:
                # MCP connections must outlive this call: run on the runtime's long-lived loop.
                call = self.acall(name, args, config=config)
                return asyncio.run_coroutine_threadsafe(call, background_loop()).result()
            # Not asyncio.run(): it waits for worker threads at exit, so a sync tool abandoned
            # after its timeout would block the caller anyway. close() does not wait for them.
            loop = asyncio.new_event_loop()
            try:
                return loop.run_until_complete(self.acall(name, args, config=config))
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
        raise ToolError(
            "ToolRegistry.call() would block the running event loop; use 'await registry.acall(...)'"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[ToolDefinition]:
        return iter(self.list_tools())

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"


def _prefixed(toolset: MCPToolset, name: str) -> bool:
    """Whether ``name`` is under the prefix of one of ``toolset``'s servers."""
    return any(name.startswith(server.prefix) for server in toolset.servers)


def _check_offered(toolset: MCPToolset, missing: Iterable[str]) -> None:
    """A picked MCP tool its server lists no tool for is a typo, not an empty pick: say so
    (unless that server failed to start, which ``strict=False`` reports in ``toolset.errors``)."""
    for name in sorted(missing):
        for server in toolset.servers:
            if name.startswith(server.prefix) and server.name not in toolset.errors:
                raise ToolError(f"tool not found: {name} (MCP server {server.name!r} does not offer it)")
