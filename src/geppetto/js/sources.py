"""The JS sources the host evaluates into every context, assembled from the package's .js files."""

from __future__ import annotations

import functools
import importlib.resources


def _read(name: str) -> str:
    return importlib.resources.files("geppetto.js").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def trusted_boot() -> str:
    """Installs prelude + bridge and leaves the entry object in ``globalThis.__geppetto_entries``.

    The host callable is read from ``globalThis.__geppetto_host`` and deleted before any user code
    runs, so scripts can only reach the host through the bridge.
    """
    return trusted_boot_function() + "();\n"


@functools.cache
def trusted_boot_function() -> str:
    """:func:`trusted_boot` as a function expression, to compile under its own name and call."""
    return (
        "(function () {\n"
        "const hostCall = globalThis.__geppetto_host;\n"
        "delete globalThis.__geppetto_host;\n"
        "globalThis.__geppetto_entries = (function (__gp_hostCall) {\n'use strict';\n"
        + _read("prelude.js")
        + "\n"
        + _read("bridge.js")
        + "\n})(hostCall);\n})"
    )


@functools.cache
def sandbox_boot() -> str:
    """Installs prelude + sandbox part; entries land in ``globalThis.__geppetto_entries``."""
    return (
        "globalThis.__geppetto_entries = (function () {\n'use strict';\n"
        + _read("prelude.js")
        + "\n"
        + _read("sandbox.js")
        + "\n})();\n"
    )


TRUSTED_ENTRIES = (
    "invoke",
    "release",
    "settle",
    "dropPromise",
    "evaluate",
    "setGlobal",
    "runMain",
    "mainSettled",
    "mainResult",
    "collectRejection",
    "nextTimer",
    "fireTimer",
    "clearAllTimers",
)
SANDBOX_ENTRIES = ("start", "settle", "drainOutbox", "takeLogs", "result", "nextTimer", "fireTimer")


_MAIN_PARAMS = "(async function (exports, require, module, __filename, __dirname)"
_MODULE_PARAMS = "(function (exports, require, module, host)"

# File names host code is evaluated under, so its stack frames never pass for the user's file.
BOOT_FILENAME = "host:geppetto-runtime.js"
# The first line number to evaluate a *_wrapper_lines source with: the wrapper takes lines -1 and 0
# (quickjs reads a first line of 0 as "unset"), so the wrapped source starts at line 1, column 1.
WRAPPED_FIRST_LINE = -1


def module_filename(name: str) -> str:
    """The file name frames of ``require(name)``'s JS body show (``host:geppetto.js``)."""
    return f"host:{name}.js"


def main_wrapper(source: str) -> str:
    """Wrap a script as a CommonJS-style async function (top-level ``await`` and ``return`` work).

    The wrapper opens on the script's first line so JS line numbers match the file (columns on
    line 1 are offset); a ``#!`` line is blanked out. Used when the source cannot be evaluated
    under its own file name and line numbers (see :func:`main_wrapper_lines`).
    """
    return _MAIN_PARAMS + " {" + _blank_shebang(source) + "\n})"


def main_wrapper_lines(source: str) -> str:
    """The same wrapper on two lines of its own, to evaluate with ``WRAPPED_FIRST_LINE``: every
    line and column of the script then keeps its position in the file."""
    return _MAIN_PARAMS + "\n{\n" + _blank_shebang(source) + "\n})"


def module_wrapper_lines(source: str) -> str:
    """A ``define_js_module`` body as a function, wrapped like :func:`main_wrapper_lines`."""
    return _MODULE_PARAMS + "\n{\n" + source + "\n})"


def _blank_shebang(source: str) -> str:
    return "//" + source[2:] if source.startswith("#!") else source
