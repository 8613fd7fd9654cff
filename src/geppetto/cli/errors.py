"""Turning exceptions into one clear line on stderr and an exit code.

Exit codes (README "Exit codes and limits"): 0 success, 1 error, 2 usage error (argparse),
130 interrupted (Ctrl-C), 141 the reader of stdout went away (a closed pipe, as ``| head``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable

from geppetto.terminal_text import safe_text

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer killed by a closed pipe


def run_guarded(handler: str, args: argparse.Namespace, *, debug: bool) -> int:
    """Run ``module:function`` with ``args``; errors never escape as tracebacks unless ``debug``."""
    from geppetto.errors import GeppettoError

    module_name, _, function_name = handler.partition(":")
    function: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(module_name), function_name
    )
    telemetry = None
    try:
        if getattr(args, "otel", None) is not None or getattr(args, "otel_content", False):
            from geppetto.cli.otel import start_otel

            telemetry = start_otel(args)
        return function(args)
    except KeyboardInterrupt:
        _report("interrupted")
        return EXIT_INTERRUPTED
    except GeppettoError as exc:
        _report(f"error: {exc}")
        return EXIT_ERROR
    except BrokenPipeError:
        return closed_pipe_exit()
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _report(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)")
        return EXIT_ERROR
    finally:
        if telemetry is not None:
            telemetry.shutdown()  # flush spans and metrics before exiting


def closed_pipe_exit() -> int:
    """Stdout's reader is gone: point stdout at /dev/null so the interpreter's final flush cannot
    fail noisily, and exit quietly with 141."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _report(message: str) -> None:
    """One line on stderr, with any control characters from a model or server shown, not obeyed."""
    with contextlib.suppress(BrokenPipeError):
        print(safe_text(message), file=sys.stderr)
