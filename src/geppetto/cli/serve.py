"""``geppetto serve``: the OpenAI-compatible API (``geppetto.serve``) on the command line.

Models are the profiles (all of them, or those named with ``--profile``), resolved as ``geppetto
infer --profile NAME`` resolves them, settings flags included. The API key is read from the
environment variable ``--api-key-env`` names, never from the command line (process listings).
"""

from __future__ import annotations

import argparse
import os
import sys


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
            tools=mcp.registry() if mcp is not None else None,
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
        if mcp is not None:
            mcp.close()
    print("geppetto serve: stopped", file=sys.stderr, flush=True)
    return 0
