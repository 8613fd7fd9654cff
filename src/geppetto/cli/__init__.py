"""The ``geppetto`` command line. Parsing only here; each command imports what it needs when it runs,
so ``geppetto --help`` stays fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from geppetto.cli.errors import run_guarded
from geppetto.cli.store_commands import add_store_commands, add_store_options

VERSION = "0.1.0"

REFERENCE_SYSTEM_PROMPT = "You are a helpful assistant. Answer the question in a short and concise manner. "


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geppetto",
        description="Run LLM inferences from the terminal: typed turns, streaming engines, middlewares.",
    )
    parser.add_argument("--version", action="version", version=f"geppetto {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    infer = commands.add_parser("infer", help="run one inference and print the final turn")
    infer.add_argument("prompt", nargs="?", help="the user prompt (read from stdin when omitted)")
    infer.add_argument("--ai-api-type", default=None, help="engine type (default: echo in this build)")
    infer.add_argument("--ai-engine", default="", help="model name for the engine")
    infer.add_argument("--system", default=REFERENCE_SYSTEM_PROMPT, help="system prompt ('' for none)")
    infer.add_argument("--stream", action="store_true", help="print the reply as it arrives")
    infer.add_argument("--output", choices=("text", "yaml", "json"), default="text", help="final turn format")
    add_store_options(infer)
    infer.set_defaults(handler="geppetto.cli.infer:run")

    turns = commands.add_parser("turns", help="inspect turn files")
    turn_commands = turns.add_subparsers(dest="turns_command", metavar="SUBCOMMAND")
    show = turn_commands.add_parser("show", help="pretty-print a YAML or JSON turn file")
    show.add_argument("file", help="path to the turn file ('-' for stdin)")
    show.add_argument("--format", choices=("pretty", "lines", "yaml", "json"), default="pretty")
    show.add_argument("--ids", action="store_true", help="include turn and block ids")
    show.add_argument("--metadata", action="store_true", help="include metadata and data")
    show.set_defaults(handler="geppetto.cli.turns:show")
    turns.set_defaults(subparser=turns)
    add_store_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        target = getattr(args, "subparser", parser)
        target.print_help(sys.stderr)
        return 2
    debug = args.debug or bool(os.environ.get("GEPPETTO_DEBUG"))
    return run_guarded(handler, args, debug=debug)
