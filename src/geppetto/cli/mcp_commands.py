"""Argument parsers for ``geppetto mcp list|call`` and the ``--mcp``/``--mcp-config`` options of
the run commands.

Only argparse is imported here: ``geppetto --help`` builds these parsers and must not pay for the
``mcp`` package. The handlers live in :mod:`geppetto.cli.mcp` and import it when they run.
"""

from __future__ import annotations

import argparse

MCP_CONFIG_HELP = (
    "MCP servers from a JSON file with an mcpServers object (Claude Desktop / Cursor format: "
    "command, args, env, cwd, url, headers); repeatable"
)
MCP_HELP = (
    "one stdio MCP server from a command line, e.g. --mcp 'python server.py --root .' "
    "(its tools are prefixed by a name derived from the command); repeatable"
)

MCP_EPILOG = """\
A config file holds {"mcpServers": {"NAME": {"command": "...", "args": [...], "env": {...}}}} or
{"mcpServers": {"NAME": {"url": "https://...", "headers": {"Authorization": "Bearer ${TOKEN}"}}}};
${VAR} in env and headers is taken from the environment and never printed. Tools are named
NAME_TOOL. Servers start when the command needs them and stop when it ends (also on Ctrl-C).
Without CONFIG, --mcp-config or --mcp, the mcpServers key of the config files is used
(~/.config/geppetto/config.yaml, pinocchio's config.yaml, --config-file)."""


def add_mcp_options(parser: argparse.ArgumentParser) -> None:
    """``--mcp-config FILE`` and ``--mcp 'COMMAND ARGS'``, both repeatable."""
    parser.add_argument(
        "--mcp-config", metavar="FILE", action="append", default=[], dest="mcp_config", help=MCP_CONFIG_HELP
    )
    parser.add_argument(
        "--mcp", metavar="'COMMAND ARGS'", action="append", default=[], dest="mcp_command", help=MCP_HELP
    )


def add_mcp_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``mcp list`` and ``mcp call`` on the top-level subparsers."""
    mcp = commands.add_parser(
        "mcp",
        help="list and call the tools of MCP (Model Context Protocol) servers",
        epilog=MCP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = mcp.add_subparsers(dest="mcp_subcommand", metavar="SUBCOMMAND")
    mcp.set_defaults(subparser=mcp)

    listing = sub.add_parser(
        "list",
        help="each server's tools with their descriptions and input schemas",
        epilog=MCP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("config", metavar="CONFIG", nargs="?", default=None, help="an mcpServers JSON file")
    add_mcp_options(listing)
    listing.add_argument(
        "--config-file", metavar="PATH", default=None, help="a config file whose mcpServers to use"
    )
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(handler="geppetto.cli.mcp:list_tools")

    call = sub.add_parser(
        "call",
        help="call one tool of one server and print its result",
        epilog=MCP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    call.add_argument("server", metavar="SERVER", help="the server's name (a key of mcpServers, or --mcp's)")
    call.add_argument("tool", metavar="TOOL", help="the tool's name as the server lists it (no prefix)")
    call.add_argument(
        "arguments", metavar="JSON", nargs="?", default="{}", help="the arguments, a JSON object (default {})"
    )
    add_mcp_options(call)
    call.add_argument(
        "--config-file", metavar="PATH", default=None, help="a config file whose mcpServers to use"
    )
    call.add_argument("--json", action="store_true", help="print the result as JSON")
    call.set_defaults(handler="geppetto.cli.mcp:call_tool")
