"""Argument parsers for ``geppetto profiles`` and the profile options of the run commands.

Only argparse is imported here (``geppetto --help`` builds these parsers); the handlers live in
``geppetto.cli.profiles`` and import the profile machinery when they run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

PROFILE_HELP = (
    "profile to use (default: $PINOCCHIO_PROFILE, then profile-settings.profile in config, else 'default')"
)
PROFILE_FILE_HELP = (
    "pinocchio-style profiles file (default: $PINOCCHIO_PROFILE_FILE, "
    "else ~/.config/pinocchio/profiles.yaml); ~/.config/geppetto/profiles.yaml is always read too"
)
REGISTRIES_HELP = (
    "comma-separated profile registries, later ones first: a.yaml,b.db, yaml:PATH, sqlite:PATH, "
    "sqlite-dsn:DSN (default: $PINOCCHIO_PROFILE_REGISTRIES)"
)


def add_profile_options(parser: argparse.ArgumentParser, *, select: bool = True) -> None:
    """``--profile`` (unless ``select=False``), ``--profile-file``, ``--profile-registries`` and
    ``--config-file``."""
    if select:
        parser.add_argument("--profile", metavar="NAME", default=None, help=PROFILE_HELP)
    parser.add_argument("--profile-file", metavar="PATH", default=None, help=PROFILE_FILE_HELP)
    parser.add_argument("--profile-registries", metavar="SOURCES", default=None, help=REGISTRIES_HELP)
    parser.add_argument(
        "--config-file",
        metavar="PATH",
        default=None,
        help="a config file (section: field: value, pinocchio's format) read after the usual ones",
    )


def add_profile_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``profiles list|show|resolve`` on the top-level subparsers."""
    from geppetto.cli import add_settings_flags  # at call time: geppetto.cli imports this module

    profiles = commands.add_parser("profiles", help="list, show and resolve inference profiles")
    sub = profiles.add_subparsers(dest="profiles_command", metavar="SUBCOMMAND")

    listing = sub.add_parser("list", help="every profile: name, provider, model, source")
    add_profile_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler="geppetto.cli.profiles:list_profiles")

    show = sub.add_parser(
        "show", help="one profile's settings (stack merged) and where each value comes from"
    )
    show.add_argument("name", help="profile name (or registry/profile)")
    add_profile_options(show, select=False)
    show.add_argument("--all", action="store_true", help="include fields left at their defaults")
    show.add_argument("--json", action="store_true", help="print JSON (keys redacted)")
    show.set_defaults(handler="geppetto.cli.profiles:show")

    resolve = sub.add_parser(
        "resolve",
        help="what a run would use given these flags, the environment and config files",
    )
    add_profile_options(resolve)
    resolve.add_argument("--ai-api-type", default=None, help="engine type")
    resolve.add_argument("--ai-engine", default=None, help="model name")
    add_settings_flags(resolve)
    resolve.add_argument("--all", action="store_true", help="include fields left at their defaults")
    resolve.add_argument("--json", action="store_true", help="print JSON (keys redacted)")
    resolve.set_defaults(handler="geppetto.cli.profiles:resolve")
    profiles.set_defaults(subparser=profiles)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m geppetto.cli.profile_commands profiles ...``: the same commands on their own."""
    import os

    from geppetto.cli.errors import run_guarded

    parser = argparse.ArgumentParser(prog="geppetto")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    add_profile_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        getattr(args, "subparser", parser).print_help(sys.stderr)
        return 2
    return run_guarded(handler, args, debug=args.debug or bool(os.environ.get("GEPPETTO_DEBUG")))


if __name__ == "__main__":
    sys.exit(main())
