"""``agent()`` and what hangs off it, as scripts see it (spec §9 "Agent builder" to "RunResult").

A thin mapping onto :mod:`geppetto.agent`: each JS object here holds the Python object it stands
for, and ``parts/30_agent.js`` holds the prototypes (argument checks, TurnWrappers, the run handle).
Turns cross as the reference plain-object form; JS wraps them into TurnWrappers.

Runs: ``run()`` waits with :meth:`JSRuntime.wait_for`, so the owner thread keeps serving JS
middlewares, tools, hooks and event listeners meanwhile; ``runAsync()`` settles its promise on
the owner after every event of the run was delivered. As for the seed ``Session``, a run stays
active for JS until its promise settles (``isRunning()``/``next()`` never depend on thread timing).

Nothing heavy is imported at module level: ``geppetto js run`` of a script that never builds an
agent does not pay for agents, sessions or engines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geppetto.js.module.errors import ModuleUsageError
from geppetto.js.values import HostPromise, JSCallback

if TYPE_CHECKING:
    from geppetto.agent import Agent, AgentBuilder, AgentRun, AgentSession, RunOptions, RunResult, TurnBuilder
    from geppetto.agent.options import AgentHost
    from geppetto.js.module.event_emitters import RunEmitterSink
    from geppetto.js.module.host import GeppettoHost


def parse_run_options(opts: Any) -> RunOptions | None:
    """``{timeoutMs, tags}`` with the reference errors (``timeoutMs`` 0: no timeout)."""
    from geppetto.agent import RunOptions

    if opts is None:
        return None
    if not isinstance(opts, Mapping):
        raise ModuleUsageError("run options must be an object")
    timeout = opts.get("timeoutMs")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
            raise TypeError("timeoutMs must be a number")
        if timeout < 0:
            raise ModuleUsageError("timeoutMs must be >= 0")
    tags = opts.get("tags")
    if tags is not None and not isinstance(tags, Mapping):
        raise TypeError("tags must be an object")
    return RunOptions(float(timeout) if timeout else None, dict(tags) if tags else None)


def _store_of(value: Any, where: str) -> Any:
    from geppetto.js.module.stores_api import JSTurnStore

    if not isinstance(value, JSTurnStore):
        raise TypeError(f"{where} requires a TurnStore wrapper")
    return value.slot.get()


def _turn_of(value: Any, where: str) -> Any:
    from geppetto.js.module.turns_api import to_turn

    if not isinstance(value, dict):
        raise TypeError(f"{where} requires a Go-owned Turn wrapper")
    return to_turn(value, where)


def _encode(turn: Any) -> dict[str, Any] | None:
    from geppetto.turns.codec import encode_turn

    return None if turn is None else encode_turn(turn, copy=False)


# ----------------------------------------------------------------------------------- agent


class JSAgentBuilder:
    """The JS ``AgentBuilder``: a Python :class:`~geppetto.agent.AgentBuilder` plus the JS
    event dispatchers (one per ``events(emitter | fn)``)."""

    __js_class__ = "AgentBuilder"
    __slots__ = ("__weakref__", "builder", "dispatchers", "host")

    def __init__(self, host: GeppettoHost) -> None:
        from geppetto.agent import AgentBuilder

        self.host = host
        self.builder: AgentBuilder = AgentBuilder(agent_host(host))
        self.dispatchers: list[JSCallback] = []

    def name(self, name: Any) -> None:
        if name is not None:
            self.builder.name(str(name))

    def inference(self, settings: Any) -> None:
        from geppetto.js.module.profiles_api import settings_of

        self.builder.inference(settings_of(settings, "agent().inference"))

    def engine(self, engine: Any) -> None:
        from geppetto.js.module.engines_api import engine_of

        self.builder.engine(engine_of(engine))

    def middleware(self, spec: Any) -> None:  # middleware(fn | spec) and goMiddleware(name, opts)
        from geppetto.js.module.builder_api import middleware_from_spec

        self.builder.middleware(middleware_from_spec(spec, self.host.runtime, self.host.host_middlewares))

    def tool(self, registry: Any) -> None:
        from geppetto.js.module.tools_api import registry_of

        self.builder.tools(registry_of(registry))

    def go_tool(self, name: Any) -> None:
        text = "" if name is None else str(name).strip()
        if not text:
            raise TypeError("agent().goTool name must not be empty")
        self.builder.host_tool(text)

    def tool_loop(self, opts: Any) -> None:
        from geppetto.js.module.tools_api import parse_loop_options

        if opts is None:
            return
        if not isinstance(opts, Mapping):
            raise TypeError("agent().toolLoop: options must be an object")
        parsed = parse_loop_options(opts, "agent().toolLoop")
        self.builder.tool_loop(parsed.config, parsed.hooks)

    def events(self, factory: Any) -> None:
        """A JS dispatcher factory (``() => payloads => ...``, made by ``30_agent.js`` from an
        emitter or a function), called once per run."""
        if not isinstance(factory, JSCallback):
            raise TypeError("agent().events: internal dispatcher must be a function")
        self.dispatchers.append(factory)

    def event_sink(self, sink: Any) -> None:
        """A Python event sink the host handed to the script."""
        from geppetto.events.sinks import EventSink

        if not isinstance(sink, EventSink):
            raise ModuleUsageError("expected event sink reference or EventEmitter")
        self.builder.events(sink)

    def store(self, store: Any, method: Any) -> None:  # store / persistTo
        if store is None:
            self.builder.store(None)
            return
        self.builder.store(_store_of(store, f"agent().{method}"))

    def default_store(self, enabled: Any) -> None:  # defaultStore / persist / persistDefault
        self.builder.default_store(enabled is None or bool(enabled))

    def run_defaults(self, opts: Any) -> None:
        from geppetto.agent import RunOptions

        self.builder.run_defaults(parse_run_options(opts) or RunOptions())

    def build(self) -> JSAgent:
        return JSAgent(self.host, self.builder.build(), tuple(self.dispatchers))


def agent_host(host: GeppettoHost) -> AgentHost:
    """What the module's host offers agents: its default turn store and host tools."""
    from geppetto.agent import AgentHost

    slot = host.stores.default
    return AgentHost(default_store=None if slot is None else slot.get, tools=host.host_tools)


class JSAgent:
    """The JS ``Agent``: ``{name, session()}``."""

    __js_class__ = "Agent"
    __js_props__ = ("name",)
    __slots__ = ("__weakref__", "agent", "dispatchers", "host")

    def __init__(self, host: GeppettoHost, agent: Agent, dispatchers: tuple[JSCallback, ...]) -> None:
        self.host = host
        self.agent = agent
        self.dispatchers = dispatchers

    @property
    def name(self) -> str:
        return self.agent.name

    def session(self) -> JSSessionBuilder:
        return JSSessionBuilder(self)


# ----------------------------------------------------------------------------------- sessions


class JSSessionBuilder:
    __js_class__ = "SessionBuilder"
    __slots__ = ("__weakref__", "agent", "builder")

    def __init__(self, agent: JSAgent, builder: Any = None) -> None:
        self.agent = agent
        self.builder = builder if builder is not None else agent.agent.session()

    def id(self, value: Any) -> None:
        if value is not None:
            self.builder.id(str(value))

    def name(self, value: Any) -> None:
        if value is not None:
            self.builder.name(str(value))

    def base(self, turn: Any) -> None:
        self.builder.base(_turn_of(turn, "session().base"))

    def store(self, store: Any) -> None:
        if store is None:
            raise TypeError("session().store requires a TurnStore wrapper")
        self.builder.store(_store_of(store, "session().store"))

    def default_store(self) -> None:
        self.builder.default_store()

    def persist(self, enabled: Any) -> None:
        self.builder.persist(enabled is None or bool(enabled))

    def resume_latest(self, opts: Any) -> None:
        from geppetto.js.module.stores_api import parse_query

        if opts is not None and not isinstance(opts, Mapping):
            raise ModuleUsageError("resumeLatest options must be an object")
        query = parse_query(opts, "resumeLatest", extra=frozenset({"required"}))
        required = bool(opts.get("required")) if opts is not None else False
        self.builder.resume_latest(
            query.session_id, phase=query.phase, since_ms=query.since_ms, required=required
        )

    def resume_none(self) -> None:
        self.builder.resume_none()

    def metadata(self, key: Any, value: Any) -> None:
        text = str(key).strip()
        if not text:
            raise TypeError("session metadata key must not be empty")
        self.builder.metadata(text, value)

    def run_defaults(self, opts: Any) -> None:
        options = parse_run_options(opts)
        if options is not None:
            self.builder.run_defaults(options)

    def build(self) -> JSAgentSession:
        session = JSAgentSession(self.agent, self.builder.build())
        self.agent.host.track(session)
        return session


class JSAgentSession:
    """The JS ``AgentSession``."""

    __js_class__ = "AgentSession"
    __slots__ = ("__weakref__", "_unsettled", "agent", "agent_session")

    def __init__(self, agent: JSAgent, session: AgentSession) -> None:
        self.agent = agent
        self.agent_session = session
        self._unsettled: AgentRun | None = None  # the runAsync run whose promise JS has not seen settle

    @property
    def session(self) -> Any:
        """The core :class:`~geppetto.session.Session` (the host cancels these on Ctrl-C)."""
        return self.agent_session.session

    def id(self) -> str:
        return self.agent_session.id

    def name(self) -> str:
        return self.agent_session.name

    def is_running(self) -> bool:
        return self._unsettled is not None or self.agent_session.is_running

    def next(self) -> JSTurnBuilder:
        from geppetto.errors import SessionAlreadyActive

        if self._unsettled is not None and not self.agent_session.closed:
            raise SessionAlreadyActive()
        return JSTurnBuilder(self, self.agent_session.next())

    def fork(self, at: Any) -> JSSessionBuilder:
        """``at``: ``None`` (latest), an index, or a plain turn (JS unwraps TurnWrappers)."""
        if isinstance(at, dict):
            target: Any = _turn_of(at, "session.fork")
        elif isinstance(at, float) and at.is_integer():
            target = int(at)
        else:
            target = at
        return JSSessionBuilder(self.agent, self.agent_session.fork(target))

    def latest_turn(self) -> dict[str, Any] | None:
        return _encode(self.agent_session.latest_turn)

    def turns(self) -> list[dict[str, Any] | None]:
        return [_encode(turn) for turn in self.agent_session.turns()]

    def turn(self, index: Any) -> dict[str, Any] | None:
        if isinstance(index, bool) or not isinstance(index, int | float):
            raise TypeError("session.turn requires an index")
        return _encode(self.agent_session.turn(math.trunc(index)))

    def turn_count(self) -> int:
        return self.agent_session.turn_count

    def cancel(self) -> None:
        self.agent_session.cancel()

    def close(self) -> None:
        self.agent_session.close()

    # -- running (called by JSTurnBuilder) ---------------------------------------------------

    def _start(
        self, builder: TurnBuilder, options: RunOptions | None
    ) -> tuple[AgentRun, RunEmitterSink | None]:
        from geppetto.background import background_loop
        from geppetto.errors import SessionAlreadyActive

        if self._unsettled is not None and not self.agent_session.closed:
            raise SessionAlreadyActive()
        sink = None
        if self.agent.dispatchers:
            from geppetto.js.module.event_emitters import RunEmitterSink

            dispatchers = tuple(factory() for factory in self.agent.dispatchers)  # on the owner
            sink = RunEmitterSink(self.agent.host.runtime, dispatchers)
        try:
            run = self.agent_session.start(
                builder.turn, options, sinks=() if sink is None else (sink,),
                loop=background_loop(),
            )  # fmt: skip
        except BaseException:
            if sink is not None:
                sink.close()
            raise
        return run, sink

    def run(self, builder: TurnBuilder, opts: Any) -> JSRunResult:
        run, sink = self._start(builder, parse_run_options(opts))
        runtime = self.agent.host.runtime
        try:
            result = runtime.wait_for(run.future)
        finally:
            if sink is not None:
                sink.close()
                sink.flush()  # the owner thread: what is still queued is delivered before run() returns
        return JSRunResult(result)

    def run_async(self, builder: TurnBuilder, opts: Any) -> dict[str, Any]:
        from geppetto.js.module.session_api import RunControl

        runtime = self.agent.host.runtime
        options = parse_run_options(opts)  # bad options throw, like the reference
        try:
            run, sink = self._start(builder, options)
        except TypeError:
            raise
        except Exception as exc:  # a run that could not start rejects its promise
            rejected = runtime.create_promise()
            rejected.reject(exc)
            return {"promise": rejected, "run": RunControl(None)}
        promise = runtime.create_promise()
        self._unsettled = run
        _settle_when_done(self, run, sink, promise)
        return {"promise": promise, "run": RunControl(run.handle)}

    def _end(self, run: AgentRun) -> None:
        if self._unsettled is run:
            self._unsettled = None


def _settle_when_done(
    session: JSAgentSession, run: AgentRun, sink: RunEmitterSink | None, promise: HostPromise
) -> None:
    """Settle ``promise`` once the run is over: after the sink stopped accepting events, so the
    settle job queues behind every delivery of the run (FIFO on the owner)."""
    import concurrent.futures

    def end() -> None:
        session._end(run)

    def done(fut: concurrent.futures.Future[RunResult]) -> None:
        if sink is not None:
            sink.close()
        exc = fut.exception()
        if exc is not None:
            promise.reject(exc, before=end)
        else:
            promise.resolve(JSRunResult(fut.result()), before=end)

    run.future.add_done_callback(done)


# ----------------------------------------------------------------------------------- turns


class JSTurnBuilder:
    """The JS ``SessionTurnBuilder``: immutable, every method returns a new one."""

    __js_class__ = "SessionTurnBuilder"
    __slots__ = ("__weakref__", "builder", "session")

    def __init__(self, session: JSAgentSession, builder: TurnBuilder) -> None:
        self.session = session
        self.builder = builder

    def system(self, text: Any) -> JSTurnBuilder:
        return JSTurnBuilder(self.session, self.builder.system("" if text is None else str(text)))

    def user(self, value: Any) -> JSTurnBuilder:
        if isinstance(value, JSCallback):
            message = JSMessageBuilder()
            value(message)
            return JSTurnBuilder(self.session, self.builder.user(message.text, images=message.images))
        return JSTurnBuilder(self.session, self.builder.user("" if value is None else str(value)))

    def assistant(self, text: Any) -> JSTurnBuilder:
        return JSTurnBuilder(self.session, self.builder.assistant("" if text is None else str(text)))

    def metadata(self, key: Any, value: Any) -> JSTurnBuilder:
        text = str(key).strip()
        if not text:
            raise TypeError("session turn metadata key must not be empty")
        return JSTurnBuilder(self.session, self.builder.metadata(text, value))

    def run(self, opts: Any) -> JSRunResult:
        return self.session.run(self.builder, opts)

    def run_async(self, opts: Any) -> dict[str, Any]:
        return self.session.run_async(self.builder, opts)


class JSMessageBuilder:
    """The JS ``MessageBuilder`` handed to ``user(m => ...)``: text parts and images."""

    __js_class__ = "MessageBuilder"
    __slots__ = ("__weakref__", "images", "text")

    def __init__(self) -> None:
        self.text = ""
        self.images: list[dict[str, Any]] = []

    def add_text(self, text: Any) -> None:
        if text is not None:
            self.text = f"{self.text}\n{text}" if self.text else str(text)

    def image_url(self, url: Any, options: Any) -> None:
        if url is None:
            raise TypeError("imageURL requires url")
        image: dict[str, Any] = dict(options) if isinstance(options, Mapping) else {}
        image["url"] = str(url)
        self.images.append(image)

    def image_file(self, path: Any) -> None:
        from geppetto.turns.images import image_file

        if path is None:
            raise TypeError("imageFile requires path")
        self.images.append(image_file(str(path)))

    def image_bytes(self, content: Any, media_type: Any) -> None:
        if content is None:
            raise TypeError("imageBytes requires base64/string content")
        kind = "application/octet-stream" if media_type is None else str(media_type)
        self.images.append({"media_type": kind, "content": str(content)})


class JSRunResult:
    """The JS ``RunResult``; the turn getters return plain turns that JS wraps."""

    __js_class__ = "RunResultRef"  # no JS prototype: parts/30_agent.js wraps it in a RunResult
    __slots__ = ("__weakref__", "result")

    def __init__(self, result: RunResult) -> None:
        self.result = result

    def input_turn(self) -> dict[str, Any] | None:
        return _encode(self.result.input_turn)

    def effective_turn(self) -> dict[str, Any] | None:
        return _encode(self.result.effective_turn)

    def output_turn(self) -> dict[str, Any] | None:
        return _encode(self.result.output_turn)

    def text(self) -> str:
        return self.result.text

    def usage(self) -> Any:
        return self.result.usage

    def stop_reason(self) -> str | None:
        return self.result.stop_reason

    def events(self) -> list[Any]:
        return list(self.result.events)

    def to_json(self) -> dict[str, Any]:
        return self.result.to_dict()


__all__ = [
    "JSAgent",
    "JSAgentBuilder",
    "JSAgentSession",
    "JSMessageBuilder",
    "JSRunResult",
    "JSSessionBuilder",
    "JSTurnBuilder",
    "parse_run_options",
]
