"""Argument parsers for the store-backed commands: ``chat``, ``sessions`` and ``rpc``.

Only argparse is imported here: ``geppetto --help`` builds these parsers and must stay fast.
The handlers (``geppetto.cli.chat``, ``.sessions``, ``.rpc``) import the runtime when they run.
"""

from __future__ import annotations

import argparse

from geppetto.cli.mcp_commands import add_mcp_options
from geppetto.cli.otel import add_otel_flags

STORE_HELP = "turn store database (default: $GEPPETTO_STORE, else $XDG_DATA_HOME/geppetto/turns.db)"

CHAT_EPILOG = """\
input: a line is one message; end a line with \\ to continue it on the next one, or put \"\"\" on a
line of its own before and after a multi-line message. Commands: /help, /exit, /fork [TURN],
/system [TEXT|--clear], /save PATH, /session, /tools. Ctrl-C stops the current reply (it is kept, marked
interrupted); Ctrl-C or Ctrl-D at the prompt quits."""


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--store PATH`` / ``--no-store`` for commands that persist their runs (store on by default)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--store", metavar="PATH", default=None, help=STORE_HELP)
    group.add_argument("--no-store", action="store_true", help="do not save turns")


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    from geppetto.cli import add_settings_flags  # the package is initialised by the time parsers are built
    from geppetto.cli.profile_commands import add_profile_options

    parser.add_argument(
        "--ai-api-type", default=None, help="engine type (default: from the profile, else local)"
    )
    parser.add_argument("--ai-engine", default="", help="model name for the engine")
    add_settings_flags(parser)
    add_profile_options(parser)


def add_store_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``chat``, ``sessions`` and ``rpc`` on the top-level subparsers."""
    chat = commands.add_parser(
        "chat",
        help="interactive chat with streamed replies, saved for resume",
        epilog=CHAT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_engine_options(chat)
    chat.add_argument(
        "--system",
        default=None,
        help="system prompt (new sessions: infer's default; '' for none; replaces the stored one on resume)",
    )
    resume = chat.add_mutually_exclusive_group()
    resume.add_argument(
        "-c", "--continue", dest="continue_latest", action="store_true", help="resume the latest session"
    )
    resume.add_argument("--session", metavar="ID", default=None, help="resume this session (id or prefix)")
    add_store_options(chat)
    add_mcp_options(chat)
    add_otel_flags(chat)
    chat.set_defaults(handler="geppetto.cli.chat:run")

    _add_sessions(commands)

    rpc = commands.add_parser(
        "rpc",
        help="JSON lines on stdin/stdout: run, cancel, history (embed geppetto in any program)",
        description="One JSON request per stdin line; events and results as JSON lines on stdout. "
        "The protocol is documented in geppetto.cli.rpc.",
    )
    _add_engine_options(rpc)
    add_store_options(rpc)
    add_mcp_options(rpc)
    rpc.set_defaults(handler="geppetto.cli.rpc:run")


def _add_sessions(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", metavar="PATH", default=None, help=STORE_HELP)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    sessions = commands.add_parser("sessions", help="list, show, export, fork and delete stored sessions")
    sub = sessions.add_subparsers(dest="sessions_command", metavar="SUBCOMMAND")
    sessions.set_defaults(subparser=sessions)

    listing = sub.add_parser("list", parents=[common], help="stored sessions, most recent first")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (0 for all; default 20)")
    listing.add_argument("--since", metavar="TIME", help="active since TIME (2025-01-31T14:00, 2h, 7d)")
    listing.add_argument("--until", metavar="TIME", help="active before TIME")
    listing.set_defaults(handler="geppetto.cli.sessions:list_sessions")

    show = sub.add_parser("show", parents=[common], help="a session's turns and one turn in full")
    show.add_argument("session", metavar="ID", help="session id or unique prefix")
    show.add_argument("--turn", metavar="TURN", default=None, help="turn index (negative from the end) or id")
    show.set_defaults(handler="geppetto.cli.sessions:show")

    export = sub.add_parser("export", parents=[common], help="write a session as YAML or JSON")
    export.add_argument("session", metavar="ID", help="session id or unique prefix")
    export.add_argument("--format", choices=("yaml", "json"), default=None, help="yaml unless --json")
    export.add_argument("--latest", action="store_true", help="only the latest turn, as a plain turn file")
    export.add_argument("-o", "--output", metavar="PATH", default=None, help="write to PATH, not stdout")
    export.set_defaults(handler="geppetto.cli.sessions:export")

    fork = sub.add_parser("fork", parents=[common], help="copy a session up to a turn into a new session")
    fork.add_argument("session", metavar="ID", help="session id or unique prefix")
    fork.add_argument("--at", metavar="TURN", default=None, help="turn index or id (default: latest)")
    fork.set_defaults(handler="geppetto.cli.sessions:fork")

    delete = sub.add_parser("delete", parents=[common], help="delete a session and its turns")
    delete.add_argument("session", metavar="ID", help="session id or unique prefix")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(handler="geppetto.cli.sessions:delete")
