"""Turning exceptions into one clear line on stderr and an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def run_guarded(handler: str, args: argparse.Namespace, *, debug: bool) -> int:
    """Run ``module:function`` with ``args``; errors never escape as tracebacks unless ``debug``."""
    from geppetto.errors import GeppettoError

    module_name, _, function_name = handler.partition(":")
    function: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(module_name), function_name
    )
    try:
        return function(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except GeppettoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr
        )
        return EXIT_ERROR
