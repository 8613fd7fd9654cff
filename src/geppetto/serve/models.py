"""The models a server answers for: each profile (or engine given in Python) under its name.

Engines are built on a model's first request and kept, so listing models never resolves keys or
loads a local model, and a misconfigured profile only fails the requests that name it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geppetto.engines.base import Engine, RunContext
from geppetto.errors import GeppettoError
from geppetto.middleware.chain import Middleware
from geppetto.profiles.model_info import ModelInfo
from geppetto.serve.errors import APIError, bad_request, model_not_found
from geppetto.serve.limits import Limiter
from geppetto.serve.wire import ClientTools
from geppetto.session.builder import EngineBuilder, InferenceRunner
from geppetto.turns.model import Turn

log = logging.getLogger("geppetto.serve")


def _same(text: str) -> str:
    return text


@dataclass(slots=True)
class ProfileSources:
    """Where profiles come from, as the CLI's profile options name them."""

    profile_file: str | None = None
    profile_registries: str | Sequence[str] | None = None
    config_file: str | None = None
    flags: Mapping[str, object] = field(default_factory=dict)


class _WithClientTools:
    """Advertises the request's tools to the engine without running them (no tool loop)."""

    __slots__ = ("engine", "tools")

    def __init__(self, engine: Engine, tools: ClientTools) -> None:
        self.engine = engine
        self.tools = tools

    @property
    def name(self) -> str:
        return self.engine.name

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        ctx.tools = self.tools
        return await self.engine.run(turn, ctx)


class Model:
    """One model id: its engine (built on first use), its limiter and its server-side tools."""

    def __init__(
        self,
        name: str,
        limiter: Limiter,
        *,
        engine: Engine | None = None,
        profile: str | None = None,
        sources: ProfileSources | None = None,
        tools: Any = None,
        middlewares: Sequence[Middleware] = (),
    ) -> None:
        self.name = name
        self.limiter = limiter
        self.profile = profile
        self.tools = tools
        self.middlewares = tuple(middlewares)
        self.redact: Callable[[str], str] = _same
        self._engine = engine
        self._sources = sources or ProfileSources()
        self._pricing: ModelInfo | None = None  # the profile's model_info: runs are priced with it
        self._build_lock = asyncio.Lock()
        self._plain: EngineBuilder | None = None  # the pipeline of requests without client tools

    @property
    def ready(self) -> bool:
        """Whether the engine is built (requests then skip :meth:`aengine`)."""
        return self._engine is not None

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._build()
        return self._engine

    async def aengine(self) -> Engine:
        """:meth:`engine` off the event loop: resolving a profile reads files and building its
        engine may import a provider SDK or llama.cpp, which must not stall the other requests.
        One build per model, however many first requests arrive together."""
        if self._engine is None:
            async with self._build_lock:
                if self._engine is None:
                    self._engine = await asyncio.to_thread(self._build)
        return self._engine

    def _build(self) -> Engine:
        from geppetto.engines.from_settings import engine_for
        from geppetto.profiles.resolve import resolve_run_settings

        src = self._sources
        try:
            resolved = resolve_run_settings(
                profile=self.profile,
                profile_file=src.profile_file,
                profile_registries=src.profile_registries,
                config_file=src.config_file,
                flags=src.flags,
            )
            self.redact = resolved.redact
            for warning in resolved.warnings:
                log.warning("model %s: %s", self.name, resolved.redact(warning))
            engine = engine_for(resolved)
            self._pricing = resolved.pricing()
            return engine
        except GeppettoError as exc:
            message = self.redact(str(exc))
            log.error("model %s cannot start: %s", self.name, message)
            raise APIError(500, f"model {self.name} is not usable: {message}", type="server_error") from None

    def builder(self, client_tools: ClientTools | None) -> EngineBuilder:
        """The pipeline of one request: middlewares, then the server's tool loop or the client's tools.
        Requests without client tools share one, compiled once (a builder per request was a
        measurable part of a request's cost)."""
        if client_tools is None:
            if self._plain is None:
                self._plain = _Compiled(self._make_builder(None))
            return self._plain
        return self._make_builder(client_tools)

    def _make_builder(self, client_tools: ClientTools | None) -> EngineBuilder:
        engine = self.engine()
        if client_tools is not None:
            if self.tools is not None:
                raise bad_request(
                    f"model {self.name} runs its own server-side tools; requests to it cannot declare tools",
                    param="tools",
                )
            engine = _WithClientTools(engine, client_tools)
        builder = EngineBuilder(engine).with_middleware(*self.middlewares)
        if self.profile is not None:
            builder.with_model_info(self._pricing, profile=self.profile)
        if self.tools is not None:
            builder.with_tools(self.tools)
        return builder


class _Compiled(EngineBuilder):
    """A builder whose pipeline is compiled once and shared by every session that runs it (the
    pipeline holds no per-run state: middlewares and engines are shared already). A model with a
    server-side tool loop is compiled per session, as the loop is an object of its own."""

    def __init__(self, base: EngineBuilder) -> None:
        super().__init__(base.engine)
        self.middlewares = list(base.middlewares)
        self.sinks = list(base.sinks)
        self.with_tools(base.tool_registry, base.tool_config, base.tool_hooks)
        self.with_model_info(base.model_info, profile=base.profile)
        self._runner = base.build() if base.tool_registry is None else None

    def build(self) -> InferenceRunner:
        return self._runner if self._runner is not None else super().build()


class ModelCatalog:
    """Model id -> :class:`Model`, in the order ``/v1/models`` lists them."""

    def __init__(self, models: Sequence[Model], default: str | None = None) -> None:
        self._models = {model.name: model for model in models}
        if default is not None and default not in self._models:
            raise ValueError(f"default model {default!r} is not served (served: {', '.join(self._models)})")
        self.default = default

    def ids(self) -> list[str]:
        return list(self._models)

    def get(self, name: str) -> Model:
        model = self._models.get(name)
        if model is None:
            raise model_not_found(name)
        return model

    def __iter__(self) -> Any:
        return iter(self._models.values())


def profile_names(sources: ProfileSources) -> list[str]:
    """Every profile the sources define (built-ins included), as ``geppetto profiles list`` shows them."""
    from geppetto.profiles.resolve import load_catalog

    catalog = load_catalog(
        profile_file=sources.profile_file,
        profile_registries=sources.profile_registries,
        config_file=sources.config_file,
    )
    names: list[str] = []
    for name, _entry in catalog.listing():
        if name not in names:
            names.append(name)
    return names


def check_profiles(names: Sequence[str], sources: ProfileSources) -> None:
    """Fail now (``ConfigError``, the CLI's "profile ... not found") for a name no source defines."""
    from geppetto.profiles.resolve import lookup_profile

    for name in names:
        lookup_profile(
            name,
            profile_file=sources.profile_file,
            profile_registries=sources.profile_registries,
            config_file=sources.config_file,
            required=True,
        )
