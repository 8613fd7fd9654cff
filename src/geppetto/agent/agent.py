"""``Agent``: an engine with its middlewares, tools, event sinks and persistence, ready to open
sessions (``agent.session().build()``). An agent itself never runs anything.

>>> agent = Agent.builder().name("helper").engine(EchoEngine()).build()
>>> result = agent.session().build().next().user("hi").run()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from geppetto.agent.options import AgentHost, Persist, PersistChoice, RunOptions
from geppetto.errors import ConfigError, ToolError
from geppetto.events.sinks import CallbackSink, EventSink
from geppetto.session.builder import EngineBuilder

if TYPE_CHECKING:
    from geppetto.agent.session import SessionBuilder
    from geppetto.engines.base import Engine
    from geppetto.middleware.chain import Middleware
    from geppetto.session.persist import TurnPersister
    from geppetto.tools.config import ToolConfig
    from geppetto.tools.hooks import ToolHooks
    from geppetto.tools.registry import ToolRegistry

NO_ENGINE = "agent build requires engine(...) or inference(settings)"


class AgentBuilder:
    """Fluent configuration of an :class:`Agent` (each method returns the builder)."""

    def __init__(self, host: AgentHost | None = None) -> None:
        self._host = host or AgentHost()
        self._name = ""
        self._engine: Engine | None = None
        self._settings: Any = None
        self._middlewares: list[Middleware] = []
        self._registry: ToolRegistry | None = None
        self._host_tools: list[str] = []
        self._tool_config: ToolConfig | None = None
        self._tool_hooks: ToolHooks | None = None
        self._sinks: list[EventSink] = []
        self._persist = PersistChoice()
        self._run_defaults = RunOptions()

    def name(self, name: str) -> AgentBuilder:
        self._name = name.strip()
        return self

    def engine(self, engine: Engine) -> AgentBuilder:
        self._engine = engine
        return self

    def inference(self, settings: Any) -> AgentBuilder:
        """Build the engine from resolved inference settings (used when no ``engine`` is given)."""
        if settings is None:
            raise TypeError("AgentBuilder.inference() requires settings, e.g. a profile registry's resolve()")
        self._settings = settings
        return self

    def middleware(self, *middlewares: Middleware) -> AgentBuilder:
        self._middlewares.extend(middlewares)
        return self

    def tools(self, registry: ToolRegistry) -> AgentBuilder:
        """Offer ``registry``'s tools to the model (runs the tool loop)."""
        self._registry = registry
        return self

    def host_tool(self, *names: str) -> AgentBuilder:
        """Offer only these tools: picked from :meth:`tools`' registry, else the host's."""
        for name in names:
            if not name.strip():
                raise ValueError("AgentBuilder.host_tool() names must not be empty")
            self._host_tools.append(name.strip())
        return self

    def tool_loop(self, config: ToolConfig | None = None, hooks: ToolHooks | None = None) -> AgentBuilder:
        self._tool_config, self._tool_hooks = config, hooks
        return self

    def events(self, *sinks: EventSink | Callable[[Any], object]) -> AgentBuilder:
        """Publish every run's events to these sinks (a plain function is called with each event)."""
        for sink in sinks:
            self._sinks.append(sink if isinstance(sink, EventSink) else CallbackSink(sink))
        return self

    def store(self, store: TurnPersister | None) -> AgentBuilder:
        """Persist runs to ``store``; ``None`` switches persistence off (also the host default)."""
        self._persist = PersistChoice.to(store)
        return self

    persist_to = store

    def default_store(self, enabled: bool = True) -> AgentBuilder:
        """Persist to the host's default store (error if it has none); ``False``: don't persist."""
        self._persist = self._host.default_choice() if enabled else PersistChoice(Persist.OFF)
        return self

    persist = default_store

    def run_defaults(self, options: RunOptions | None = None, **kwargs: Any) -> AgentBuilder:
        """Defaults for every run: ``RunOptions`` or ``timeout_ms=``/``tags=`` keywords."""
        self._run_defaults = options if options is not None else RunOptions(**kwargs)
        return self

    def build(self) -> Agent:
        engine = self._engine
        if engine is None and self._settings is not None:
            engine = _engine_from_settings(self._settings)
        if engine is None:
            raise ConfigError(NO_ENGINE)
        return Agent(
            name=self._name,
            engine=engine,
            middlewares=tuple(self._middlewares),
            registry=self._registry,
            host_tools=tuple(self._host_tools),
            tool_config=self._tool_config,
            tool_hooks=self._tool_hooks,
            sinks=tuple(self._sinks),
            persistence=self._persist,
            run_defaults=self._run_defaults,
            host=self._host,
        )


def _engine_from_settings(settings: Any) -> Engine:
    from geppetto.engines.from_settings import engine_from_settings

    return engine_from_settings(settings)


class Agent:
    """A configured agent; open conversations with :meth:`session`."""

    def __init__(
        self,
        *,
        engine: Engine,
        name: str = "",
        middlewares: Iterable[Middleware] = (),
        registry: ToolRegistry | None = None,
        host_tools: Iterable[str] = (),
        tool_config: ToolConfig | None = None,
        tool_hooks: ToolHooks | None = None,
        sinks: Iterable[EventSink] = (),
        persistence: PersistChoice | None = None,
        run_defaults: RunOptions | None = None,
        host: AgentHost | None = None,
    ) -> None:
        self.name = name
        self.engine = engine
        self.middlewares = tuple(middlewares)
        self.registry = registry
        self.host_tools = tuple(host_tools)
        self.tool_config = tool_config
        self.tool_hooks = tool_hooks
        self.sinks = tuple(sinks)
        self.persistence = persistence or PersistChoice()
        self.run_defaults = run_defaults or RunOptions()
        self.host = host or AgentHost()

    @staticmethod
    def builder(host: AgentHost | None = None) -> AgentBuilder:
        return AgentBuilder(host)

    def __repr__(self) -> str:
        return f"<Agent {self.name!r}>"

    def session(self) -> SessionBuilder:
        """A builder for a new conversation with this agent."""
        from geppetto.agent.session import SessionBuilder

        return SessionBuilder(self)

    def selected_persister(self) -> TurnPersister | None:
        """Where this agent's runs persist when the session chose nothing."""
        choice = self.persistence
        if choice.mode is Persist.INHERIT:
            return self.host.default_persister
        return choice.persister if choice.mode is not Persist.OFF else None

    def tool_registry(self) -> ToolRegistry | None:
        """The registry runs use: the agent's, narrowed to ``host_tools`` names when given (MCP
        tools by their prefixed names, ``<server>_<tool>``)."""
        if not self.host_tools:
            return self.registry
        base = self.registry if self.registry is not None else self.host.tools
        if base is None:
            raise ConfigError("resolved runtime requested tools but no tool registry is configured")
        # MCP tools are picked by their prefixed names; they join when the servers are listed
        # (the first run), so narrowing starts no server.
        for name in self.host_tools:
            try:
                base.narrowed([name])
            except ToolError as exc:
                raise ToolError(f'resolved runtime tool "{name}" not present in registry: {exc}') from exc
        return base.narrowed(self.host_tools)

    def engine_builder(self, *outer: Middleware) -> EngineBuilder:
        """The pipeline one session runs: ``outer`` middlewares first, then the agent's."""
        builder = EngineBuilder(self.engine).with_middleware(*outer, *self.middlewares)
        builder.with_sink(*self.sinks)
        registry = self.tool_registry()
        config = self.tool_config
        if registry is not None and (config is None or config.enabled):
            builder.with_tools(registry, config, self.tool_hooks)
        return builder
