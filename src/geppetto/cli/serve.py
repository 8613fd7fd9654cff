"""``geppetto serve``: the OpenAI-compatible API (``geppetto.serve``) on the command line.

Models are the profiles (all of them, or those named with ``--profile``), resolved as ``geppetto
infer --profile NAME`` resolves them, settings flags included. The API key is read from the
environment variable ``--api-key-env`` names, never from the command line (process listings).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from geppetto.cli import add_settings_flags
    from geppetto.cli.mcp_commands import add_mcp_options
    from geppetto.cli.otel import add_otel_flags
    from geppetto.cli.profile_commands import add_profile_options

    serve = commands.add_parser("serve", help="serve the profiles over an OpenAI-compatible HTTP API")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need an API key)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.add_argument(
        "--profile",
        dest="profiles",
        action="append",
        metavar="NAME",
        help="serve this profile (repeatable; default: all)",
    )
    serve.add_argument("--default-profile", metavar="NAME", help="the model of requests that name none")
    add_profile_options(serve, select=False)
    add_settings_flags(serve)
    serve.add_argument(
        "--store", metavar="PATH", help="save every run's final turn in this SQLite turn store"
    )
    serve.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the key clients must send as Bearer",
    )
    serve.add_argument(
        "--cors",
        action="append",
        metavar="ORIGIN",
        default=[],
        help="allow this browser origin ('*' for any)",
    )
    serve.add_argument(
        "--max-concurrency", type=int, default=8, metavar="N", help="runs at once per model (default 8)"
    )
    serve.add_argument(
        "--queue-size",
        type=int,
        default=64,
        metavar="N",
        help="requests waiting per model before 429 (default 64)",
    )
    serve.add_argument(
        "--max-request-bytes",
        type=int,
        default=8 * 1024 * 1024,
        metavar="N",
        help="largest request body (default 8 MiB)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time runs get to finish on shutdown",
    )
    serve.add_argument("--no-web", action="store_true", help="serve the API only, without the chat page at /")
    add_mcp_options(serve)
    add_otel_flags(serve)
    serve.set_defaults(handler="geppetto.cli.serve:run")


def _api_key(args: argparse.Namespace) -> str | None:
    from geppetto.errors import ConfigError

    if not args.api_key_env:
        return None
    value = os.environ.get(args.api_key_env, "").strip()
    if not value:
        raise ConfigError(f"--api-key-env {args.api_key_env}: that environment variable is not set or empty")
    return value


class ProfileMCP:
    """The server-side MCP tools of each served model: the ``--mcp``/``--mcp-config`` servers plus
    its profile's ``mcpServers`` (a command-line server replaces the profile's of that name). A
    server that several profiles name alike is one toolset (one process); nothing starts here."""

    def __init__(self, args: argparse.Namespace, flags: Any) -> None:
        self.args = args
        self.flags = flags  # CommandTools | None
        self.toolsets: dict[str, Any] = {}  # one per distinct server entry
        self._names: list[str] | None = None

    def tools(self) -> Any:
        """A registry per model id (``create_app``'s mapping form), or one for all, or ``None``."""
        entries = self._profile_entries()
        shared = self.flags.registry() if self.flags is not None else None
        if not entries:
            return shared
        import json

        from geppetto.mcp import MCPToolset, load_mcp_config
        from geppetto.tools import ToolRegistry

        taken = {server.name for server in self.flags.servers} if self.flags is not None else set()
        mapping: dict[str, Any] = {}
        for profile in self._served():
            servers = entries.get(profile)
            if not servers:
                if shared is not None:
                    mapping[profile] = shared
                continue
            registry = shared.clone() if shared is not None else ToolRegistry()
            for server in load_mcp_config({"mcpServers": servers}):
                if server.name in taken:
                    continue
                key = server.name + "\0" + json.dumps(servers[server.name], sort_keys=True, default=str)
                toolset = self.toolsets.get(key)
                if toolset is None:
                    toolset = self.toolsets[key] = MCPToolset([server])
                registry.add_mcp(toolset)
            mapping[profile] = registry
        return mapping

    def _served(self) -> list[str]:
        if self._names is None:
            from geppetto.serve.models import ProfileSources, profile_names

            args = self.args
            sources = ProfileSources(args.profile_file, args.profile_registries, args.config_file)
            self._names = list(args.profiles) if args.profiles else profile_names(sources)
        return self._names

    def _profile_entries(self) -> dict[str, dict[str, Any]]:
        """Each served profile's ``mcpServers`` (profiles without any left out)."""
        from geppetto.profiles.resolve import lookup_profile

        args = self.args
        found: dict[str, dict[str, Any]] = {}
        for name in self._served():
            resolved = lookup_profile(
                name,
                profile_file=args.profile_file,
                profile_registries=args.profile_registries,
                config_file=args.config_file,
            )
            if resolved is not None and resolved.mcp_servers:
                found[name] = dict(resolved.mcp_servers)
        return found

    def close(self) -> None:
        for toolset in self.toolsets.values():
            toolset.close()


def run(args: argparse.Namespace) -> int:
    import logging

    from geppetto.cli import settings_options
    from geppetto.cli.mcp import command_tools
    from geppetto.errors import ConfigError
    from geppetto.serve import create_app
    from geppetto.serve.security import check_bind
    from geppetto.serve.server import serve

    if args.shutdown_grace < 0:
        raise ConfigError("--shutdown-grace must be zero or more seconds")
    for name in ("max_concurrency", "queue_size", "max_request_bytes"):
        if getattr(args, name) < (0 if name == "queue_size" else 1):
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive number")
    api_key = _api_key(args)
    check_bind(args.host, api_key)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    mcp = command_tools(args, configured=False)
    profile_mcp = ProfileMCP(args, mcp)
    try:
        app = create_app(
            profiles=args.profiles,
            profile_file=args.profile_file,
            profile_registries=args.profile_registries,
            config_file=args.config_file,
            settings=settings_options(args),
            default_profile=args.default_profile,
            store=args.store,
            api_key=api_key,
            cors_origins=args.cors,
            max_concurrency=args.max_concurrency,
            queue_size=args.queue_size,
            max_request_bytes=args.max_request_bytes,
            tools=profile_mcp.tools(),
            shutdown_grace=args.shutdown_grace,
            web_chat=not args.no_web,
        )
        from geppetto.serve.app import STATE
        from geppetto.terminal_text import safe_text

        models = safe_text(", ".join(app[STATE].catalog.ids()))

        def ready(url: str) -> None:
            print(f"geppetto serve: listening on {url} (models: {models})", flush=True)

        try:
            serve(app, args.host, args.port, api_key=api_key, ready=ready)
        except BrokenPipeError:
            raise  # stdout's reader went away: the CLI's quiet exit, not a bind failure
        except OSError as exc:  # the bind: port taken, address not ours, privileged port
            reason = exc.strerror or str(exc)
            raise ConfigError(
                f"cannot listen on {args.host} port {args.port}: {reason}; choose another --port or --host"
            ) from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        profile_mcp.close()
        if mcp is not None:
            mcp.close()
    print("geppetto serve: stopped", file=sys.stderr, flush=True)
    return 0
