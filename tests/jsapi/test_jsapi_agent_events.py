"""``agent().events(emitter | fn)``: delivery order, names, settlement, throwing listeners and
stragglers (the reference's api_event_emitters_test.go, plus the issue's acceptance points)."""

from __future__ import annotations

import asyncio
from typing import Any

from geppetto.engines.base import RunContext
from geppetto.errors import EngineError
from geppetto.events.sinks import CollectingSink
from geppetto.events.types import ErrorEvent, EventMetadata, InfoEvent
from geppetto.js.module.engines_api import EngineRef
from geppetto.js.module.event_emitters import RunEmitterSink
from geppetto.turns.model import Block, Turn

# A minimal Node-like emitter (the tests do not depend on require("events")).
EMITTER = """
function makeEmitter() {
  const listeners = new Map();
  return {
    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(fn);
      return this;
    },
    emit(name, ...args) {
      const fns = listeners.get(name) || [];
      for (const fn of fns.slice()) fn.apply(this, args);
      return fns.length > 0;
    },
  };
}
"""


def test_each_event_is_emitted_as_event_then_under_its_type(js) -> None:
    got = js.one(
        EMITTER
        + """
        const seen = [];
        const em = makeEmitter();
        em.on('event', (ev) => seen.push('event:' + ev.type));
        for (const t of ['run-started', 'text-delta', 'run-finished']) em.on(t, (ev) => seen.push(t));
        const agent = g.agent().engine(g.engines.echo({reply: 'hello'})).events(em).build();
        agent.session().build().next().user('x').run();
        report(seen.filter((s) => /run-|text-delta/.test(s)));
        """
    )
    assert got == [
        "event:run-started", "run-started", "event:text-delta", "text-delta",
        "event:run-finished", "run-finished",
    ]  # fmt: skip


def test_events_reach_the_emitter_before_the_promise_resolves(js) -> None:
    got = js.one(
        EMITTER
        + """
        const seen = [];
        let resolved = false;
        const em = makeEmitter();
        em.on('text-delta', (ev) => seen.push(['delta', ev.delta, resolved]));
        const session = g.agent().engine(g.engines.echo({reply: 'hello'})).events(em).build()
          .session().id('builder-emitter-test').build();
        const handle = session.next().user('say hello').runAsync();
        handle.promise.then((result) => {
          resolved = true;
          report({seen, text: result.text(), sessionId: seen.length && session.id()});
        });
        """
    )
    assert got == {"seen": [["delta", "hello", False]], "text": "hello", "sessionId": "builder-emitter-test"}


class _FailingEngine:
    """Publishes an error event, then fails (like a provider whose stream broke)."""

    name = "failing"

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        ctx.publish(ErrorEvent(EventMetadata(session_id=ctx.session_id), "engine boom"))
        raise EngineError("engine boom")


def test_errors_are_emitted_as_inference_error(js) -> None:
    js.runtime.set_global("failingEngine", EngineRef(_FailingEngine(), "failing"))  # type: ignore[arg-type]
    got = js.one(
        EMITTER
        + """
        const names = [];
        const em = makeEmitter();
        em.on('event', (ev) => names.push(ev.type));
        em.on('inference-error', (ev) => names.push('inference-error:' + (ev.message || ev.error)));
        em.on('error', () => names.push('node-error-listener'));
        const session = g.agent().engine(failingEngine).events(em).build().session().build();
        session.next().user('x').runAsync().promise.catch((err) => report({names, message: err.message,
          isError: err instanceof Error}));
        """
    )
    assert "node-error-listener" not in got["names"]
    assert "error" in got["names"]
    assert "inference-error:engine boom" in got["names"]
    assert got["names"].index("error") + 1 == got["names"].index("inference-error:engine boom")
    assert got["names"][-1] == "run-failed"
    assert (got["message"], got["isError"]) == ("engine boom", True)


def test_a_throwing_listener_does_not_break_the_run(js) -> None:
    got = js.one(
        EMITTER
        + """
        const seen = [];
        const em = makeEmitter();
        em.on('event', (ev) => { throw new Error('listener boom'); });
        em.on('text-delta', (ev) => seen.push(ev.delta));
        const session = g.agent().engine(g.engines.echo({reply: 'ok'})).events(em).build().session().build();
        const sync = session.next().user('x').run().text();
        session.next().user('y').runAsync().promise.then((r) => report({sync, async: r.text(), seen}));
        """
    )
    assert got == {"sync": "ok", "async": "ok\nok", "seen": ["ok", "ok"]}
    assert any("listener boom" in text for _level, text in js.console)


def test_plain_function_sink_gets_reference_payloads(js) -> None:
    got = js.one(
        """
        const types = [];
        const session = g.agent().engine(g.engines.echo({reply: 'a'})).events((ev) => types.push(ev.type))
          .build().session().build();
        session.next().user('x').run();
        report({first: types[0], last: types[types.length - 1], hasDelta: types.includes('text-delta')});
        """
    )
    assert got == {"first": "run-started", "last": "run-finished", "hasDelta": True}


class _LateEngine:
    """Replies at once and publishes one more event 50 ms after its run ended (a straggler)."""

    name = "late"

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        loop = asyncio.get_running_loop()
        meta = EventMetadata(session_id=ctx.session_id, inference_id=ctx.inference_id)
        loop.call_later(0.05, ctx.publish, InfoEvent(meta, "straggler"))
        out = turn.clone()
        out.blocks.append(Block.assistant("done"))
        return out


def test_events_after_a_settled_run_are_never_delivered(js) -> None:
    js.runtime.set_global("lateEngine", EngineRef(_LateEngine(), "late"))  # type: ignore[arg-type]
    got = js.one(
        """
        const seen = [];
        const agent = g.agent().engine(lateEngine).events((ev) => seen.push(ev.type)).build();
        const session = agent.session().build();
        session.next().user('x').runAsync().promise.then(() => {
          const atSettle = seen.slice();
          setTimeout(() => report({atSettle, later: seen.slice(), info: seen.includes('info')}), 200);
        });
        """
    )
    assert got["atSettle"] == got["later"]
    assert got["info"] is False
    assert got["later"][-1] == "run-finished"


def test_run_emitter_sink_drops_what_is_published_after_close() -> None:
    from geppetto.js import JSRuntime

    runtime = JSRuntime()
    delivered: list[Any] = []
    try:
        callback = runtime.eval(
            "(batch) => { globalThis.got = (globalThis.got || []).concat(batch.map(p => p.type)); }"
        )
        sink = RunEmitterSink(runtime, (callback,))
        meta = EventMetadata(session_id="s")
        sink.publish(InfoEvent(meta, "before"))
        sink.close()
        sink.publish(InfoEvent(meta, "after"))
        runtime.call_on_owner(sink.flush)
        delivered = runtime.eval("globalThis.got")
    finally:
        runtime.close()
    assert delivered == ["info"]


def test_python_sink_host_object(js) -> None:
    sink = CollectingSink()

    class Sink:
        __js_class__ = "PySink"

        def publish(self, event: Any) -> None:
            sink.publish(event)

    js.runtime.set_global("pySink", Sink())
    js.run("g.agent().engine(g.engines.echo()).events(pySink).build().session().build().next().user('x').run();")
    types = [event.type for event in sink.events]
    assert types, "the Python sink saw no events"


def test_delta_payloads_carry_the_text_so_far(js) -> None:
    """Deltas cross without their text and JS rebuilds it per segment: listeners see it whole."""
    got = js.one(
        EMITTER
        + """
        const deltas = [];
        const em = makeEmitter();
        em.on('text-delta', (ev) => deltas.push([ev.delta, ev.text, ev.correlation.segment_id]));
        const agent = g.agent().engine(g.engines.echo({reply: 'one two three'})).events(em).build();
        const session = agent.session().build();
        session.next().user('x').run();
        session.next().user('y').run();
        report(deltas);
        """
    )
    first, second = got[:3], got[3:]
    for run in (first, second):
        texts = [text for _delta, text, _segment in run]
        assert texts == ["one", "one two", "one two three"]
        assert all(text.endswith(delta) for delta, text, _segment in run)
    assert first[0][2] != second[0][2]  # a new segment, a new text
