"""Middleware chain: ``chain(handler, m1, m2)`` is ``m1(m2(handler))``; the first added is outermost."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from geppetto.engines.base import Engine, Handler

Middleware = Callable[[Handler], Handler]


def chain(handler: Handler, middlewares: Iterable[Middleware]) -> Handler:
    for middleware in reversed(list(middlewares)):
        handler = middleware(handler)
    return handler


def engine_handler(engine: Engine) -> Handler:
    """The innermost handler: the engine itself."""
    return engine.run
