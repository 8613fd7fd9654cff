"""Argument parser for ``geppetto js run`` (argparse only: ``geppetto --help`` builds it)."""

from __future__ import annotations

import argparse
import math
import re

from geppetto.cli.mcp_commands import add_mcp_options
from geppetto.cli.otel import add_otel_flags
from geppetto.cli.profile_commands import add_profile_options
from geppetto.cli.store_commands import add_store_options

# The JS heap a script may use unless --max-memory says otherwise: far above what scripts that
# drive inference need (a few MiB), low enough that a runaway script fails before the machine does.
DEFAULT_MAX_MEMORY = 1 << 30
MIN_MAX_MEMORY = 8 << 20
# What GEPPETTO_EXAMPLE.timeoutMs holds without --timeout-ms (the reference runner's default).
REFERENCE_TIMEOUT_MS = 120_000

JS_RUN_EPILOG = """\
The script runs as CommonJS with require("geppetto"), console, timers, Promises and top-level await,
plus the geppetto-js-lab globals assert(cond, msg), ENV and sleep(ms), and GEPPETTO_EXAMPLE
({script, profile, profileRegistries, timeoutMs}, as the reference's geppetto-js-run sets it;
GEPPETTO_PROFILE and GEPPETTO_TIMEOUT_MS repeat the two for the reference's store example). On
success it prints "PASS: <script name>" and exits 0; an uncaught exception or unhandled rejection
(also of a promise the script's last expression returns) prints the JS error and stack on stderr
and exits 1, as do --timeout-ms and --max-memory when exceeded; Ctrl-C stops the script at once,
cancels its running inferences and exits 130.

The reference runner's spelling works too: geppetto js run --script x.js --profile-registries R
--profile P --timeout-ms 120000 (also with its subcommand word: geppetto js run run --script x.js).

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
    run.add_argument("script", metavar="SCRIPT.js", nargs="?", default=None, help="the script to run")
    run.add_argument(
        "--script",
        dest="script_option",
        metavar="FILE",
        default=None,
        help="the script to run (the reference runner's spelling of SCRIPT.js)",
    )
    run.add_argument(
        "--timeout-ms",
        type=timeout_ms,
        default=None,
        metavar="N",
        help="stop the script after N milliseconds of wall-clock time, awaiting included (exit 1); "
        "0 or unset: no deadline. Scripts see it as GEPPETTO_EXAMPLE.timeoutMs (unset: 120000)",
    )
    run.add_argument(
        "--max-memory",
        type=memory_size,
        default=DEFAULT_MAX_MEMORY,
        metavar="SIZE",
        help="JS heap limit, e.g. 512M or 2G (K/M/G are powers of 1024; 0 or 'none': no limit; "
        "default 1G); a script that exceeds it fails with exit 1",
    )
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
    add_mcp_options(run)
    add_otel_flags(run)  # the script's runs report to the host's providers
    run.add_argument(
        "--print-result",
        action="store_true",
        help="print the script's completion value as JSON; a script with top-level await or return "
        "prints the value it returns",
    )
    run.set_defaults(handler="geppetto.cli.js:run")
    js.set_defaults(subparser=js)


def timeout_ms(text: str) -> int:
    """``--timeout-ms``: a whole number of milliseconds, 0 for none."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole milliseconds (0 or more), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no deadline) or more, got {value}")
    return value


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def memory_size(text: str) -> int:
    """``--max-memory``: bytes from ``512M``, ``1.5G``, ``65536``, ``2GiB``; 0 means no limit."""
    if text.strip().lower() in ("none", "unlimited"):
        return 0
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M or 2G (or 0 for none), got {text!r}")
    number = float(match.group(1))
    value = int(number * _UNITS[match.group(2).lower()])
    if not math.isfinite(number) or (value and value < MIN_MAX_MEMORY):
        minimum = f"{MIN_MAX_MEMORY >> 20}M"
        raise argparse.ArgumentTypeError(f"must be at least {minimum} (or 0 for none), got {text!r}")
    return value
