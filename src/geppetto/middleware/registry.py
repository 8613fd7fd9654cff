"""Named middleware factories, as the reference exposes them to scripts (``middlewares.go(name)``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from geppetto.errors import MiddlewareError
from geppetto.middleware.chain import Middleware
from geppetto.middleware.logging import turn_logging
from geppetto.middleware.reorder import reorder_tool_results
from geppetto.middleware.system_prompt import system_prompt

MiddlewareFactory = Callable[[Mapping[str, Any]], Middleware]


def _system_prompt(options: Mapping[str, Any]) -> Middleware:
    prompt = options.get("prompt", "")
    if not isinstance(prompt, str):
        raise MiddlewareError(f"systemPrompt option 'prompt' must be a string, got {type(prompt).__name__}")
    return system_prompt(prompt)


BUILTIN_MIDDLEWARES: dict[str, MiddlewareFactory] = {
    "systemPrompt": _system_prompt,
    "reorderToolResults": lambda options: reorder_tool_results(),
    "turnLogging": lambda options: turn_logging(),
}


def build_middleware(
    name: str, options: Mapping[str, Any] | None = None, extra: Mapping[str, MiddlewareFactory] | None = None
) -> Middleware:
    """Resolve a named middleware; host-supplied ``extra`` factories win over built-ins."""
    factories = {**BUILTIN_MIDDLEWARES, **(extra or {})}
    factory = factories.get(name)
    if factory is None:
        raise MiddlewareError(f"unknown go middleware: {name}")
    return factory(options or {})
