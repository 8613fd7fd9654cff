"""``EngineBuilder``: what a session runs (engine, middlewares, event sinks, tools)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from geppetto.engines.base import Engine, Handler
from geppetto.errors import SessionError
from geppetto.events.sinks import EventRouter, EventSink, wanted_types
from geppetto.middleware.chain import Middleware, chain
from geppetto.telemetry import state as telemetry_state

if TYPE_CHECKING:
    from geppetto.profiles.model_info import ModelInfo


class InferenceRunner:
    """One session's compiled pipeline: middlewares around the engine (or the tool loop), and
    what the session records about its runs (the profile and the model's price)."""

    __slots__ = ("model_info", "profile", "run", "sinks", "tools")

    def __init__(
        self,
        handler: Handler,
        sinks: tuple[EventSink, ...],
        tools: Any = None,
        *,
        model_info: ModelInfo | None = None,
        profile: str = "",
    ) -> None:
        # ``run(turn, ctx)`` is the compiled handler itself, not a method awaiting it: one
        # coroutine less per run (with no middleware it is the engine's own ``run``).
        self.run: Handler = handler
        self.sinks = sinks
        self.tools = tools
        self.model_info = model_info
        self.profile = profile

    def route(self, extra: Iterable[EventSink] = ()) -> tuple[EventSink | None, frozenset[type] | None]:
        """The run's sink (one, a router over several, or ``None``) and the event classes its
        sinks act on (``None``: all; see :func:`~geppetto.events.sinks.wanted_types`)."""
        sinks = (*self.sinks, *extra)
        telemetry = telemetry_state.sink  # set only by geppetto.telemetry.instrument()
        if telemetry is not None:
            sinks = (*sinks, telemetry)
        if not sinks:
            return None, None
        wanted = wanted_types(sinks)
        if len(sinks) == 1:
            return sinks[0], wanted
        return EventRouter(sinks), wanted


def engine_profile(engine: Engine) -> tuple[ModelInfo | None, str]:
    """An engine built from :class:`~geppetto.profiles.InferenceSettings` carries its profile's
    ``model_info`` and provenance: runs are priced and labelled with them."""
    info = getattr(engine, "model_info", None)
    metadata = getattr(engine, "metadata", None)
    profile = metadata.get("profileSlug") if isinstance(metadata, dict) else None
    return (info if info is not None and hasattr(info, "cost") else None), (
        profile if isinstance(profile, str) else ""
    )


def engine_runner(engine: Engine) -> InferenceRunner:
    """What ``EngineBuilder(engine).build()`` makes, without the builder (a session per request
    or batch item on a bare engine pays for no builder it never configures)."""
    model_info, profile = engine_profile(engine)
    return InferenceRunner(engine.run, (), None, model_info=model_info, profile=profile)


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
        # priced and labelled runs: taken from an engine built from settings, or given explicitly
        self.model_info: ModelInfo | None = None
        self.profile = ""
        if engine is not None:
            self._adopt_profile(engine)

    def _adopt_profile(self, engine: Engine) -> None:
        info, profile = engine_profile(engine)
        if info is not None:
            self.model_info = info
        if profile:
            self.profile = profile

    def with_engine(self, engine: Engine) -> EngineBuilder:
        self.engine = engine
        self._adopt_profile(engine)
        return self

    def with_model_info(self, model_info: ModelInfo | None, *, profile: str | None = None) -> EngineBuilder:
        """Price runs with ``model_info.cost`` and label them with ``profile`` (see geppetto.cost)."""
        self.model_info = model_info
        if profile is not None:
            self.profile = profile
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
        return InferenceRunner(
            handler, tuple(self.sinks), self.tool_registry, model_info=self.model_info, profile=self.profile
        )


def _tool_loop_handler(handler: Handler, registry: Any, config: Any, hooks: Any) -> Handler:
    from geppetto.toolloop import ToolLoop

    loop = ToolLoop(handler, registry, config=config, hooks=hooks)
    run: Handler = loop.run
    return run
