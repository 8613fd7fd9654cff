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
    return (
        "(function () {\n"
        "const hostCall = globalThis.__geppetto_host;\n"
        "delete globalThis.__geppetto_host;\n"
        "globalThis.__geppetto_entries = (function (__gp_hostCall) {\n'use strict';\n"
        + _read("prelude.js")
        + "\n"
        + _read("bridge.js")
        + "\n})(hostCall);\n})();\n"
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


def main_wrapper(source: str) -> str:
    """Wrap a script as a CommonJS-style async function (top-level ``await`` and ``return`` work).

    The wrapper opens on the script's first line so JS line numbers match the file; a ``#!`` line
    is blanked out.
    """
    if source.startswith("#!"):
        source = "//" + source[2:]
    return "(async function (exports, require, module, __filename, __dirname) {" + source + "\n})"
