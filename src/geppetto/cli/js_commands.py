"""Argument parser for ``geppetto js run`` (argparse only: ``geppetto --help`` builds it)."""

from __future__ import annotations

import argparse

from geppetto.cli.profile_commands import add_profile_options
from geppetto.cli.store_commands import add_store_options

JS_RUN_EPILOG = """\
The script runs as CommonJS with require("geppetto"), console, timers, Promises and top-level await,
plus the geppetto-js-lab globals assert(cond, msg), ENV and sleep(ms). On success it prints
"PASS: <script name>" and exits 0; an uncaught exception or unhandled rejection prints the JS error
and stack on stderr and exits 1.

Turn store: turnStores.default() and the session options store / resumeLatest / fork use --store PATH
(default: $GEPPETTO_STORE, else $XDG_DATA_HOME/geppetto/turns.db), opened only when the script first
needs it; --no-store runs without one."""


def add_js_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``js`` (with ``run``) on the top-level subparsers."""
    js = commands.add_parser("js", help='run JavaScript that drives geppetto through require("geppetto")')
    js_commands = js.add_subparsers(dest="js_command", metavar="SUBCOMMAND")
    run = js_commands.add_parser(
        "run",
        help="run a script with the geppetto module",
        epilog=JS_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("script", metavar="SCRIPT.js", help="the script to run")
    run.add_argument(
        "--host-tools",
        metavar="FILE.py",
        action="append",
        default=[],
        help="load every @geppetto.tool function in FILE.py as a host tool (useHostTools / useGoTools); "
        "repeatable",
    )
    run.add_argument(
        "--profile", default=None, help="profile for engines.fromProfile() when the script names none"
    )
    add_profile_options(run, select=False)  # where fromProfile() looks profiles up
    add_store_options(run)
    run.add_argument(
        "--print-result",
        action="store_true",
        help="print the script's completion value as JSON; a script with top-level await or return "
        "prints the value it returns",
    )
    run.set_defaults(handler="geppetto.cli.js:run")
    js.set_defaults(subparser=js)
