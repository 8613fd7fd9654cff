"""``require("events")``: a Node-compatible ``EventEmitter`` for scripts (``events.js``).

A generic host module rather than part of ``require("geppetto")``: the geppetto module's
``agent().events(emitter)`` accepts these emitters, and any script may use them on its own.
``require("node:events")`` is the same module object.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime

EVENTS_MODULE = "events"


@functools.cache
def events_source() -> str:
    return importlib.resources.files("geppetto.js").joinpath("events.js").read_text(encoding="utf-8")


def install_events_module(runtime: JSRuntime) -> None:
    """Make ``require("events")`` (and ``require("node:events")``) available in ``runtime``."""
    runtime.define_js_module(EVENTS_MODULE, events_source())
    runtime.define_js_module("node:" + EVENTS_MODULE, "module.exports = require('events');")


__all__ = ["EVENTS_MODULE", "events_source", "install_events_module"]
