"""``createBuilder()`` and the options ``createSession``/``runInference`` share (spec §1.8).

A :class:`JSBuilder` collects what scripts configure; :meth:`JSBuilder.snapshot` freezes it into
an :class:`EngineBuilder` for one session, so changing the builder later never changes a session
that was already built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geppetto.engines.base import Engine
from geppetto.js.module.callbacks import js_middleware
from geppetto.js.module.engines_api import engine_of
from geppetto.js.module.errors import ModuleUsageError
from geppetto.js.module.session_store import SessionOptions, apply_session_options
from geppetto.js.values import JSCallback
from geppetto.middleware.chain import Middleware
from geppetto.middleware.registry import MiddlewareFactory, build_middleware
from geppetto.middleware.run_tags import RunTags
from geppetto.session.builder import EngineBuilder

if TYPE_CHECKING:
    from geppetto.js.module.tools_api import LoopOptions
    from geppetto.js.runtime import JSRuntime
    from geppetto.tools.hooks import ToolHooks
    from geppetto.tools.registry import ToolRegistry


def middleware_from_spec(
    spec: Any, runtime: JSRuntime, host_middlewares: Mapping[str, MiddlewareFactory]
) -> Middleware:
    """A middleware from the spec ``module.js`` makes of what a script passed:
    ``{kind: "js", name, fn}`` or ``{kind: "go", name, options}`` (host factories win over built-ins)."""
    if not isinstance(spec, Mapping):
        raise TypeError("middleware must be a function, middlewares.fromJS(...) or middlewares.go(...)")
    name = str(spec.get("name", ""))
    if spec.get("kind") == "js":
        fn = spec.get("fn")
        if not isinstance(fn, JSCallback):
            raise TypeError("fromJS expects callable callback")
        return js_middleware(fn, name, runtime)
    options = spec.get("options")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"middleware {name} options must be an object")
    return build_middleware(name, options, extra=host_middlewares)


class JSBuilder:
    """The JS ``Builder`` object."""

    __js_class__ = "Builder"
    __slots__ = (
        "__weakref__",
        "engine",
        "hooks",
        "host_middlewares",
        "loop",
        "middlewares",
        "registry",
        "runtime",
        "session_options",
    )

    def __init__(self, runtime: JSRuntime, host_middlewares: Mapping[str, MiddlewareFactory] | None) -> None:
        self.runtime = runtime
        self.host_middlewares = dict(host_middlewares or {})
        self.engine: Engine | None = None
        self.middlewares: list[Middleware] = []
        self.registry: ToolRegistry | None = None
        self.loop: LoopOptions | None = None  # None: no options object was ever applied
        self.hooks: ToolHooks | None = None
        self.session_options = SessionOptions()

    # -- builder methods (JS names in comments) ---------------------------------------------

    def with_engine(self, engine: Any) -> None:  # withEngine
        if engine is None:
            raise TypeError("withEngine requires engine argument")
        self.engine = engine_of(engine)

    def use_middleware(self, spec: Any) -> None:  # useMiddleware / useGoMiddleware
        self.middlewares.append(self._middleware(spec))

    def with_tools(self, registry: Any, loop_options: Any = None) -> None:  # withTools
        from geppetto.js.module.tools_api import registry_of

        self.registry = registry_of(registry)
        if loop_options is not None:
            self.with_tool_loop(loop_options, "withTools")

    def with_tool_loop(self, opts: Any, where: str = "withToolLoop") -> None:  # withToolLoop
        from geppetto.js.module.tools_api import parse_loop_options

        if not isinstance(opts, Mapping):
            raise TypeError(f"{where}: options must be an object")
        self.loop = parse_loop_options(opts, where)
        if self.loop.hooks is not None:
            self.hooks = self.loop.hooks
        if not self.loop.config.enabled:
            self.registry = None

    def with_tool_hooks(self, hooks: Any) -> None:  # withToolHooks
        from geppetto.js.module.tools_api import parse_hooks

        if not isinstance(hooks, Mapping):
            raise TypeError("withToolHooks requires hooks object")
        self.hooks = parse_hooks(hooks, "withToolHooks")

    def with_store(self, store: Any = True) -> None:  # withStore
        """Persist runs to a store (``true``/``"default"``, a name, a wrapper); ``false``/``null``: none."""
        self.session_options.set_store(store, "withStore")

    def apply(self, opts: Mapping[str, Any], where: str) -> None:
        """``createSession``/``createBuilder`` option keys, in the reference order."""
        if not isinstance(opts, Mapping):
            raise TypeError("options must be an object")
        if opts.get("engine") is not None:
            self.engine = engine_of(opts["engine"])
        middlewares = opts.get("middlewares")
        if middlewares is not None:
            if not isinstance(middlewares, list):
                raise TypeError(f"{where}: middlewares must be an array")
            self.middlewares.extend(self._middleware(spec) for spec in middlewares)
        if opts.get("tools") is not None:
            self.with_tools(opts["tools"])
        if opts.get("toolLoop") is not None:
            self.with_tool_loop(opts["toolLoop"], f"{where}: toolLoop")
        if opts.get("toolHooks") is not None:
            from geppetto.js.module.tools_api import parse_hooks

            if not isinstance(opts["toolHooks"], Mapping):
                raise TypeError(f"{where}: toolHooks must be an object")
            self.hooks = parse_hooks(opts["toolHooks"], f"{where}: toolHooks")
        apply_session_options(self.session_options, opts, where)

    def _middleware(self, spec: Any) -> Middleware:
        return middleware_from_spec(spec, self.runtime, self.host_middlewares)

    # -- building ------------------------------------------------------------------------------

    def snapshot(self, tags: RunTags) -> EngineBuilder:
        """An :class:`EngineBuilder` with the current configuration (``builder has no engine
        configured`` without an engine)."""
        if self.engine is None:
            raise ModuleUsageError("builder has no engine configured")
        builder = EngineBuilder(self.engine).with_middleware(tags.middleware, *self.middlewares)
        if self.registry is not None:
            config = self.loop.config if self.loop is not None else None
            builder.with_tools(self.registry, config, self.hooks)
        return builder
