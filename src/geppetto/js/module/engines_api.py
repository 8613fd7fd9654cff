"""``engines.*``: engine objects as scripts hold them (``{name}`` plus the hidden reference, spec §1.5)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from geppetto.engines.base import Engine
from geppetto.js.module.errors import ModuleUsageError
from geppetto.js.module.profile import ProfileDefaults
from geppetto.js.values import JSCallback


class EngineRef:
    """The JS ``Engine`` object: only ``name`` is visible; the engine itself stays in Python."""

    __js_class__ = "Engine"
    __js_props__: tuple[str, ...] = ("name",)
    __slots__ = ("__weakref__", "engine", "name")

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name


def engine_of(value: Any) -> Engine:
    """The engine behind a JS engine object; a raw host engine handed to JS is accepted too."""
    if isinstance(value, EngineRef):
        return value.engine
    if value is not None and not isinstance(value, dict | list | str | int | float) and hasattr(value, "run"):
        engine: Engine = value
        return engine
    raise ModuleUsageError("expected engine reference")


def echo(opts: Mapping[str, Any] | None) -> EngineRef:
    from geppetto.engines.echo import DEFAULT_REPLY, EchoEngine

    opts = opts or {}
    reply = opts.get("reply")
    delay = opts.get("delayMs", 0)
    if delay is None:
        delay = 0
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not math.isfinite(delay) or delay < 0:
        raise TypeError("engines.echo: delayMs must be a number >= 0")
    text = reply if isinstance(reply, str) else DEFAULT_REPLY
    return EngineRef(EchoEngine(text, delay_ms=delay), "echo")


def from_function(fn: Any) -> EngineRef:
    from geppetto.engines.function import FunctionEngine
    from geppetto.js.module.callbacks import JSEngineFunction

    if not isinstance(fn, JSCallback):
        raise TypeError("fromFunction expects callable argument")
    return EngineRef(FunctionEngine(JSEngineFunction(fn), name="jsFunction"), "jsFunction")


def from_profile(profile: Any, opts: Mapping[str, Any] | None, defaults: ProfileDefaults) -> EngineRef:
    from geppetto.js.module.profile import resolve_profile_engine

    if profile is not None and not isinstance(profile, str):
        raise TypeError("fromProfile: profile must be a string")
    name, engine = resolve_profile_engine(profile, opts or {}, defaults=defaults)
    return EngineRef(engine, f"profile:{name}")


def from_config(opts: Any, defaults: ProfileDefaults) -> EngineRef:
    from geppetto.js.module.profile import resolve_profile_engine

    if not isinstance(opts, Mapping):
        raise TypeError("fromConfig requires options object")
    _, engine = resolve_profile_engine(None, opts, defaults=defaults, where="fromConfig")
    return EngineRef(engine, "config")
