"""The Python half of ``require("geppetto")``: the host functions ``module.js`` calls.

Nothing heavy is imported until a script uses it: a script that never creates a session does not
pay for sessions, tools or engines (``geppetto js run`` cold start).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from geppetto.js.module.profile import ProfileDefaults

if TYPE_CHECKING:
    from geppetto.js.module.agent_api import JSAgentSession
    from geppetto.js.module.builder_api import JSBuilder
    from geppetto.js.module.engines_api import EngineRef
    from geppetto.js.module.session_api import JSSession, RunControl
    from geppetto.js.module.stores_api import JSTurnStore
    from geppetto.js.module.tools_api import JSToolRegistry
    from geppetto.js.runtime import JSRuntime
    from geppetto.middleware.registry import MiddlewareFactory
    from geppetto.store.store import TurnStore
    from geppetto.tools.registry import ToolRegistry

T = TypeVar("T")


def _this(value: Any, cls: type[T], where: str) -> T:
    if not isinstance(value, cls):
        raise TypeError(f"{where} called on something that is not a {where.split('.')[0]}")
    return value


class GeppettoHost:
    """Host-side state of one installed module: the runtime and what the host application offers."""

    def __init__(
        self,
        runtime: JSRuntime,
        *,
        host_tools: ToolRegistry | None = None,
        host_middlewares: Mapping[str, MiddlewareFactory] | None = None,
        store: TurnStore | Callable[[], TurnStore] | None = None,
        turn_stores: Mapping[str, TurnStore | Callable[[], TurnStore]] | None = None,
        profile_defaults: ProfileDefaults | None = None,
    ) -> None:
        from geppetto.js.module.stores_api import StoreRegistry

        self.runtime = runtime
        self.host_tools = host_tools
        self.host_middlewares = dict(host_middlewares or {})
        self.stores = StoreRegistry(store, turn_stores)
        self.profile_defaults = profile_defaults or ProfileDefaults()
        self._sessions: weakref.WeakSet[JSSession | JSAgentSession] = weakref.WeakSet()

    def functions(self) -> dict[str, Callable[..., Any]]:
        from geppetto.js.module import turns_api

        table: dict[str, Callable[..., Any]] = {
            f"geppetto.{name}": fn for name, fn in turns_api.FUNCTIONS.items()
        }
        table.update(
            {
                "geppetto.moduleInfo": self.module_info,
                "geppetto.engines.echo": self.engine_echo,
                "geppetto.engines.fromFunction": self.engine_from_function,
                "geppetto.engines.fromProfile": self.engine_from_profile,
                "geppetto.engines.fromConfig": self.engine_from_config,
                "geppetto.tools.createRegistry": self.create_registry,
                "geppetto.builder.create": self.create_builder,
                "geppetto.builder.buildSession": self.build_session_of,
                "geppetto.session.create": self.create_session,
                "geppetto.runInference": self.run_inference,
                "geppetto.run.cancel": self.cancel_run,
                "geppetto.run.subscribe": self.subscribe_run,
                "geppetto.turnStores.default": self.default_turn_store,
                "geppetto.turnStores.get": self.named_turn_store,
            }
        )
        from geppetto.js.module import profiles_api

        table.update(profiles_api.host_functions(self.profile_defaults))
        for kind, methods in _METHODS.items():
            for js_name, attr in methods.items():
                table[f"geppetto.{kind.lower()}.{js_name}"] = self._method(kind, js_name, attr)
        from geppetto.js.module import agent_table

        table.update(agent_table.functions(self))
        from geppetto.js.module import embeddings_api

        table.update(embeddings_api.host_functions(self))
        return table

    def track(self, session: JSSession | JSAgentSession) -> None:
        """Remember a session so that :meth:`cancel_all` and :meth:`wait_idle` reach its runs."""
        self._sessions.add(session)

    # -- module-level ------------------------------------------------------------------------

    def module_info(self) -> dict[str, Any]:
        from geppetto import __version__
        from geppetto.js.module.consts import module_consts

        return {"version": __version__, "consts": module_consts()}

    def engine_echo(self, opts: Any) -> EngineRef:
        from geppetto.js.module import engines_api

        if opts is not None and not isinstance(opts, dict):
            raise TypeError("engines.echo: opts must be an object")
        return engines_api.echo(opts)

    def engine_from_function(self, fn: Any) -> EngineRef:
        from geppetto.js.module import engines_api

        return engines_api.from_function(fn)

    def engine_from_profile(self, profile: Any, opts: Any) -> EngineRef:
        from geppetto.js.module import engines_api

        if opts is not None and not isinstance(opts, dict):
            raise TypeError("fromProfile: opts must be an object")
        return engines_api.from_profile(profile, opts, self.profile_defaults)

    def engine_from_config(self, opts: Any) -> EngineRef:
        from geppetto.js.module import engines_api

        return engines_api.from_config(opts, self.profile_defaults)

    def create_registry(self) -> JSToolRegistry:
        from geppetto.js.module.tools_api import JSToolRegistry

        return JSToolRegistry(self.runtime, self.host_tools)

    def create_builder(self, opts: Any) -> JSBuilder:
        from geppetto.js.module.builder_api import JSBuilder

        builder = JSBuilder(self.runtime, self.host_middlewares)
        if opts is not None:
            builder.apply(opts, "createBuilder")
        return builder

    def create_session(self, opts: Any) -> JSSession:
        if not isinstance(opts, dict):
            raise TypeError("createSession requires options object with engine")
        builder = self.create_builder(None)
        builder.apply(opts, "createSession")
        return self.build_session(builder)

    def run_inference(self, engine: Any, turn: Any, opts: Any) -> dict[str, Any]:
        from geppetto.js.module.engines_api import engine_of

        builder = self.create_builder(None)
        if engine is not None:
            builder.engine = engine_of(engine)
        if opts is not None:
            builder.apply(opts, "runInference")
        session = self.build_session(builder)
        session.append(turn)
        return session.run(None, None)

    def build_session(self, builder: JSBuilder) -> JSSession:
        from geppetto.js.module.session_api import JSSession
        from geppetto.js.module.session_store import open_session_store
        from geppetto.middleware.run_tags import RunTags
        from geppetto.session.session import Session

        tags = RunTags()
        engine_builder = builder.snapshot(tags)
        stored = open_session_store(builder.session_options, self.stores)
        session = Session(
            engine_builder, session_id=stored.session_id, turns=stored.turns, store=stored.store
        )
        js_session = JSSession(self.runtime, session, tags)
        self._sessions.add(js_session)
        return js_session

    def cancel_all(self) -> int:
        """Cancel every running inference of this module's sessions (Ctrl-C); returns how many."""
        cancelled = 0
        for js_session in list(self._sessions):
            if js_session.session.is_running:
                js_session.session.cancel_active()
                cancelled += 1
        return cancelled

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no session runs (a cancelled run is persisted by
        then); ``False`` if some still run."""
        import time

        deadline = time.monotonic() + timeout
        while any(s.session.is_running for s in list(self._sessions)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close_stores(self) -> None:
        """Close the turn stores this host opened lazily (stores handed in open stay open)."""
        self.stores.close()

    def default_turn_store(self) -> JSTurnStore:
        return self.stores.wrapper(None)

    def named_turn_store(self, name: Any) -> JSTurnStore:
        if not isinstance(name, str) or not name:
            raise TypeError("turnStores.get requires a store name")
        return self.stores.wrapper(name)

    def cancel_run(self, control: Any) -> None:
        from geppetto.js.module.session_api import RunControl

        run: RunControl = _this(control, RunControl, "RunHandle.cancel")
        run.cancel()

    def subscribe_run(self, control: Any, name: Any) -> None:
        from geppetto.js.module.session_api import RunControl

        run: RunControl = _this(control, RunControl, "RunHandle.on")
        run.subscribe(str(name))

    # -- receivers -------------------------------------------------------------------------------

    def build_session_of(self, builder: Any) -> JSSession:
        from geppetto.js.module.builder_api import JSBuilder

        return self.build_session(_this(builder, JSBuilder, "Builder.buildSession"))

    def _method(self, kind: str, js_name: str, attr: str) -> Callable[..., Any]:
        """A host function calling ``attr`` on the receiver, after checking its class."""

        def call(receiver: Any, *args: Any) -> Any:
            target: Any = _this(receiver, _receiver_class(kind), f"{kind}.{js_name}")
            return getattr(target, attr)(*args)

        return call


def _receiver_class(kind: str) -> type:
    if kind == "Session":
        from geppetto.js.module.session_api import JSSession

        return JSSession
    if kind == "Builder":
        from geppetto.js.module.builder_api import JSBuilder

        return JSBuilder
    if kind == "TurnStore":
        from geppetto.js.module.stores_api import JSTurnStore

        return JSTurnStore
    from geppetto.js.module.tools_api import JSToolRegistry

    return JSToolRegistry


_METHODS: dict[str, dict[str, str]] = {
    "Registry": {
        "register": "register",
        "useHostTools": "use_host_tools",
        "addMCP": "add_mcp",
        "list": "list",
        "call": "call",
    },
    "Builder": {
        "withEngine": "with_engine",
        "useMiddleware": "use_middleware",
        "withTools": "with_tools",
        "withToolLoop": "with_tool_loop",
        "withToolHooks": "with_tool_hooks",
        "withStore": "with_store",
    },
    "TurnStore": {
        "name": "name",
        "list": "list_turns",
        "loadLatest": "load_latest",
        "sessions": "sessions",
        "close": "close",
    },
    "Session": {
        "append": "append",
        "latest": "latest",
        "turnCount": "turn_count",
        "turns": "turns",
        "getTurn": "get_turn",
        "turnsRange": "turns_range",
        "isRunning": "is_running",
        "cancelActive": "cancel_active",
        "run": "run",
        "runAsync": "run_async",
        "start": "start",
    },
}


__all__ = ["GeppettoHost"]
