"""``EngineBuilder``: what a session runs (engine, middlewares, event sinks, tools)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from geppetto.engines.base import Engine, Handler
from geppetto.errors import SessionError
from geppetto.events.sinks import EventRouter, EventSink
from geppetto.middleware.chain import Middleware, chain


class InferenceRunner:
    """One session's compiled pipeline: middlewares around the engine (or the tool loop)."""

    __slots__ = ("run", "sinks", "tools")

    def __init__(self, handler: Handler, sinks: tuple[EventSink, ...], tools: Any = None) -> None:
        # ``run(turn, ctx)`` is the compiled handler itself, not a method awaiting it: one
        # coroutine less per run (with no middleware it is the engine's own ``run``).
        self.run: Handler = handler
        self.sinks = sinks
        self.tools = tools

    def sink_for(self, extra: Iterable[EventSink] = ()) -> EventSink | None:
        sinks = (*self.sinks, *extra)
        if not sinks:
            return None
        if len(sinks) == 1:
            return sinks[0]
        return EventRouter(sinks)


class EngineBuilder:
    """Fluent configuration of the pipeline a session runs.

    >>> builder = EngineBuilder(EchoEngine()).with_middleware(system_prompt("be brief"))
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine
        self.middlewares: list[Middleware] = []
        self.sinks: list[EventSink] = []
        self.tool_registry: Any = None
        self.tool_config: Any = None
        self.tool_hooks: Any = None

    def with_engine(self, engine: Engine) -> EngineBuilder:
        self.engine = engine
        return self

    def with_middleware(self, *middlewares: Middleware) -> EngineBuilder:
        self.middlewares.extend(middlewares)
        return self

    def with_sink(self, *sinks: EventSink) -> EngineBuilder:
        self.sinks.extend(sinks)
        return self

    def with_tools(self, registry: Any, config: Any = None, hooks: Any = None) -> EngineBuilder:
        """Run the tool loop with ``registry`` (``None`` turns it off)."""
        self.tool_registry, self.tool_config, self.tool_hooks = registry, config, hooks
        return self

    def build(self) -> InferenceRunner:
        if self.engine is None:
            raise SessionError("engine builder base engine is nil: call with_engine(...) first")
        handler: Handler = chain(self.engine.run, self.middlewares)
        if self.tool_registry is not None:
            handler = _tool_loop_handler(handler, self.tool_registry, self.tool_config, self.tool_hooks)
        return InferenceRunner(handler, tuple(self.sinks), self.tool_registry)


def _tool_loop_handler(handler: Handler, registry: Any, config: Any, hooks: Any) -> Handler:
    from geppetto.toolloop import ToolLoop

    loop = ToolLoop(handler, registry, config=config, hooks=hooks)
    run: Handler = loop.run
    return run
