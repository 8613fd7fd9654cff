"""Argument parsers for ``geppetto usage``, ``geppetto logs`` and ``geppetto tokens``.

Only argparse is imported here (``geppetto --help`` builds these parsers); the handlers live in
``geppetto.cli.usage`` and ``geppetto.cli.tokens``.
"""

from __future__ import annotations

import argparse

from geppetto.cli.store_commands import STORE_HELP


def add_usage_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser(
        "usage", help="tokens and cost of the stored runs, in total or by model, profile or day"
    )
    usage.add_argument("--since", metavar="TIME", help="runs since TIME (2025-01-31T14:00, 2h, 7d)")
    usage.add_argument("--until", metavar="TIME", help="runs before TIME")
    usage.add_argument("--by", choices=("model", "profile", "day"), default=None, help="one row per group")
    usage.add_argument("--store", metavar="PATH", default=None, help=STORE_HELP)
    usage.add_argument("--json", action="store_true", help="print JSON for scripts")
    usage.set_defaults(handler="geppetto.cli.usage:usage")

    logs = commands.add_parser(
        "logs", help="recent runs: time, profile, model, tokens, cost, duration, finish class"
    )
    logs.add_argument("-n", type=int, default=20, metavar="N", help="the last N runs (default 20)")
    logs.add_argument("--session", metavar="ID", default=None, help="only this session's runs (id or prefix)")
    logs.add_argument("--store", metavar="PATH", default=None, help=STORE_HELP)
    logs.add_argument("--json", action="store_true", help="print JSON for scripts")
    logs.set_defaults(handler="geppetto.cli.usage:logs")

    tokens = commands.add_parser("tokens", help="count the tokens of a prompt for an engine")
    sub = tokens.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND")
    tokens.set_defaults(subparser=tokens)
    count = sub.add_parser(
        "count",
        help="input tokens of TEXT for the selected engine (provider endpoint, tokenizer or estimate)",
    )
    count.add_argument("text", nargs="?", metavar="TEXT", help="the text ('-' or a pipe: stdin)")
    count.add_argument("--system", default="", help="a system prompt to count with it")
    _add_count_engine_options(count)
    count.add_argument("--json", action="store_true", help="print JSON for scripts")
    count.set_defaults(handler="geppetto.cli.tokens:count")


def _add_count_engine_options(parser: argparse.ArgumentParser) -> None:
    """The engine choice of the run commands, with only their documented settings flags (keys,
    base URLs): every hidden flag too would make ``geppetto --help`` measurably slower."""
    from geppetto.cli import _DOCUMENTED_FLAGS
    from geppetto.cli.profile_commands import add_profile_options

    parser.add_argument(
        "--ai-api-type", default=None, help="engine type (default: from the profile, else local)"
    )
    parser.add_argument("--ai-engine", default="", help="model name for the engine")
    for name, shown in _DOCUMENTED_FLAGS.items():
        parser.add_argument(f"--{name}", default=None, help=shown)
    add_profile_options(parser)
