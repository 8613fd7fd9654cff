"""``geppetto mcp list|call`` and the MCP servers of ``infer``, ``chat``, ``rpc`` and ``js run``.

The servers come from ``--mcp-config FILE`` (the ``mcpServers`` JSON object), ``mcp list CONFIG``
and ``--mcp 'COMMAND ARGS'``; :mod:`geppetto.mcp` does the protocol. Everything a server sends
(tool names, descriptions, schemas, results) is data: it goes through
:func:`~geppetto.terminal_text.safe_text` before it reaches a terminal.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geppetto.errors import ConfigError
from geppetto.terminal_text import safe_text

if TYPE_CHECKING:
    from geppetto.mcp import MCPServer, MCPToolset
    from geppetto.tools import ToolRegistry


def wants_mcp(args: argparse.Namespace) -> bool:
    """Whether the command line names any MCP server (without importing ``mcp``)."""
    return bool(getattr(args, "mcp_config", None) or getattr(args, "mcp_command", None))


def servers_from_args(
    args: argparse.Namespace, config: str | None = None, *, configured: bool = False, profile: bool = False
) -> list[MCPServer]:
    """The servers of ``CONFIG``, every ``--mcp-config`` file and every ``--mcp`` command, in that
    order; a name given twice there is a :class:`ConfigError`. With ``configured``, the
    ``mcpServers`` of the config files (geppetto's, pinocchio's, ``--config-file``) and of the
    selected profile (``args.resolved_settings``) come first; with ``profile``, the profile's
    only. A server named on the command line replaces the configured one of that name."""
    entries = _configured_entries(args, files=configured) if configured or profile else {}
    if not entries and not wants_mcp(args) and not config:
        return []  # nothing named: geppetto.mcp is not even imported
    from geppetto.mcp import load_mcp_config, parse_mcp_command

    servers: list[MCPServer] = []
    origins: dict[str, str] = {}
    files = ([config] if config else []) + list(getattr(args, "mcp_config", None) or [])
    for file in files:
        loaded = load_mcp_config(Path(file))
        if not loaded:
            expected = '{"mcpServers": {"NAME": {...}}}'
            raise ConfigError(f"{file}: no MCP servers in it (expected {expected})")
        for server in loaded:
            _add(servers, origins, server, file)
    for command in getattr(args, "mcp_command", None) or []:
        _add(servers, origins, parse_mcp_command(command), f"--mcp {command!r}")
    if entries:
        from_files = [s for s in load_mcp_config({"mcpServers": entries}) if s.name not in origins]
        servers = from_files + servers
    return servers


def _configured_entries(args: argparse.Namespace, *, files: bool = True) -> dict[str, Any]:
    """The config files' ``mcpServers`` (unless not ``files``), then the selected profile's (which
    win per name)."""
    entries: dict[str, Any] = {}
    if files:
        from geppetto.profiles.config import configured_mcp_servers

        entries, _ = configured_mcp_servers(getattr(args, "config_file", None))
    resolved = getattr(args, "resolved_settings", None)
    if resolved is not None:
        entries = {**entries, **resolved.mcp_servers}
    return entries


def _add(servers: list[MCPServer], origins: dict[str, str], server: MCPServer, origin: str) -> None:
    earlier = origins.get(server.name)
    if earlier is not None:
        raise ConfigError(
            f"MCP server name {server.name!r} is given twice ({earlier} and {origin}); rename one"
        )
    origins[server.name] = origin
    servers.append(server)


# -- the run commands ----------------------------------------------------------------------------


class CommandTools:
    """The MCP servers of one run command, joined to a :class:`ToolRegistry`.

    Nothing starts here: the tool loop starts the servers when a run first needs their tools
    (``ToolRegistry.add_mcp``), on the session runtime's loop. :meth:`close` stops every server;
    the commands call it in ``finally``, so Ctrl-C stops them too.
    """

    def __init__(self, servers: list[MCPServer]) -> None:
        from geppetto.mcp import MCPToolset

        self.servers = servers
        self.toolset: MCPToolset = MCPToolset(servers)

    def registry(self, base: ToolRegistry | None = None) -> ToolRegistry:
        """A registry with ``base``'s tools that the servers' tools join when first needed."""
        from geppetto.tools import ToolRegistry

        registry = base.clone() if base is not None else ToolRegistry()
        registry.add_mcp(self.toolset)
        return registry

    def prepare(self, registry: ToolRegistry) -> None:
        """Start the servers now and register their tools (for listings and JS host tools)."""
        import asyncio

        from geppetto.background import background_loop

        future = asyncio.run_coroutine_threadsafe(registry.aprepare(), background_loop())
        try:
            future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop every server (idempotent; waits a few seconds at most per server)."""
        self.toolset.close()


def command_tools(
    args: argparse.Namespace, *, configured: bool = True, profile: bool = False
) -> CommandTools | None:
    """The MCP servers of the command line (and, with ``configured``, of the config files' and the
    profile's ``mcpServers``; with ``profile``, of the profile's only), or ``None`` when there are
    none (``geppetto.mcp`` is then never imported)."""
    servers = servers_from_args(args, configured=configured, profile=profile)
    return CommandTools(servers) if servers else None


def describe_servers(servers: Iterable[MCPServer]) -> str:
    """One line for a banner: the servers' names, terminal-safe."""
    return ", ".join(safe_text(server.name) for server in servers)


# -- geppetto mcp list / call --------------------------------------------------------------------


def list_tools(args: argparse.Namespace) -> int:
    """``geppetto mcp list [CONFIG]``: every server's tools, descriptions and input schemas."""
    servers = servers_from_args(args, args.config, configured=not wants_mcp(args) and not args.config)
    if not servers:
        raise ConfigError(
            "no MCP server given: pass CONFIG, --mcp-config FILE or --mcp 'COMMAND ARGS' "
            "(or set mcpServers in a config file)"
        )
    import asyncio  # here, not at the top: js run imports this module and must stay light

    listing = asyncio.run(_list_all(servers))
    if args.json:
        print(json.dumps({"servers": listing}, indent=2))
        return 0
    out: list[str] = []
    for entry in listing:
        tools = entry["tools"]
        out.append(f"{safe_text(entry['name'])}: {len(tools)} tool{'' if len(tools) == 1 else 's'}")
        for item in tools:
            out.append(f"  {safe_text(item['name'])}  (as {safe_text(item['qualified_name'])})")
            for line in (item["description"] or "(no description)").splitlines() or [""]:
                out.append(f"    {safe_text(line)}")
            out.append(f"    input: {safe_text(json.dumps(item['input_schema'], ensure_ascii=False))}")
    print("\n".join(out))
    return 0


async def _list_all(servers: list[MCPServer]) -> list[dict[str, Any]]:
    from geppetto.mcp import MCPToolset
    from geppetto.mcp.toolset import qualified_name

    listing = []
    for server in servers:
        async with MCPToolset([server]) as toolset:
            remote = await toolset.server_tools(server.name)
        tools = [
            {
                "name": str(tool.name),
                "qualified_name": qualified_name(server.prefix, str(tool.name)),
                "description": tool.description or "",
                "input_schema": tool.input_schema,
            }
            for tool in remote
            if server.wants(tool.name)
        ]
        listing.append({"name": server.name, "tools": tools})
    return listing


def call_tool(args: argparse.Namespace) -> int:
    """``geppetto mcp call SERVER TOOL JSON``: one call, its result printed."""
    arguments = _arguments(args.arguments)
    servers = servers_from_args(args, configured=True)
    if not servers:
        raise ConfigError(
            "no MCP server given: pass --mcp-config FILE or --mcp 'COMMAND ARGS' "
            "(or set mcpServers in a config file)"
        )
    by_name = {server.name: server for server in servers}
    server = by_name.get(args.server)
    if server is None:
        known = ", ".join(sorted(by_name))
        raise ConfigError(f"no MCP server named {args.server!r}; the servers given are: {known}")
    import asyncio

    value = asyncio.run(_call(server, args.tool, arguments))
    if args.json:
        print(json.dumps(value, indent=2))
    elif isinstance(value, str):
        print(safe_text(value))
    else:
        print(safe_text(json.dumps(value, indent=2, ensure_ascii=False)))
    return 0


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"JSON arguments are not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise ConfigError(f"JSON arguments must be an object such as '{{\"a\": 1}}', got {kind}")
    return value


async def _call(server: MCPServer, tool: str, arguments: dict[str, Any]) -> Any:
    from geppetto.mcp import MCPToolset

    async with MCPToolset([server]) as toolset:
        offered = [str(t.name) for t in await toolset.server_tools(server.name) if server.wants(t.name)]
        if tool not in offered:
            names = ", ".join(offered) or "no tools"
            raise ConfigError(f"MCP server {server.name!r} has no tool {tool!r}; it offers: {names}")
        return await toolset.call(server.name, tool, arguments)
