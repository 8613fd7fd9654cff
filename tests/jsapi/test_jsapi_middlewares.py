"""``middlewares.*`` and builder middleware wiring (spec §1.6, §1.8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from geppetto.engines.base import Handler, RunContext
from geppetto.js.module import install_geppetto_module
from geppetto.middleware.chain import Middleware
from geppetto.turns.model import Block, Turn

from .conftest import JSHarness, make_harness

SEED = "({blocks: [g.turns.newUserBlock('hi')]})"


def test_middleware_objects(js: JSHarness) -> None:
    js_mw, named, numbered, go, go_opts, host, hidden = js.run(
        """
        const f = (t, next) => next();
        const m = g.middlewares.fromJS(f);
        report(m); report(g.middlewares.fromJS(f, 'mine')); report(g.middlewares.fromJS(f, 7));
        report(g.middlewares.go('turnLogging')); report(g.middlewares.go('systemPrompt', {prompt: 'p'}));
        report(g.middlewares.host('reorderToolResults'));
        const d = Object.getOwnPropertyDescriptor(m, '__geppetto_ref');
        report([Object.keys(m), d.enumerable, d.value === f]);
        """
    )
    assert js_mw == {"type": "js", "name": "js-middleware"}
    assert named["name"] == "mine" and numbered["name"] == "7"
    assert go == {"type": "go", "name": "turnLogging"}
    assert go_opts == {"type": "go", "name": "systemPrompt", "options": {"prompt": "p"}}
    assert host == {"type": "go", "name": "reorderToolResults"}
    assert hidden == [["type", "name"], False, True]


def test_first_added_is_outermost_and_next_passes_turns(js: JSHarness) -> None:
    order, texts, meta = js.run(
        f"""
        const order = [];
        const tag = (name) => g.middlewares.fromJS((turn, next, ctx) => {{
          order.push(name + '>' + ctx.middlewareName);
          const changed = g.turns.appendBlock(turn, g.turns.newUserBlock(name));
          const out = next(changed);
          order.push('<' + name);
          return out;
        }}, name);
        const s = g.createBuilder({{engine: g.engines.echo({{reply: 'done'}}), middlewares: [tag('a')]}})
          .useMiddleware(tag('b'))
          .useMiddleware((turn, next) => {{ const out = next();
            out.metadata = {{seen: turn.blocks.length}}; return out; }})
          .buildSession();
        const out = s.run({SEED});
        report(order); report(out.blocks.map((b) => b.payload.text)); report(out.metadata);
        """
    )
    assert order == ["a>a", "b>b", "<b", "<a"]
    assert texts == ["hi", "a", "b", "done"]
    assert meta["geppetto.seen@v1"] == 3


def test_undefined_return_keeps_the_input_turn(js: JSHarness) -> None:
    in_place, replaced = js.run(
        f"""
        const mw = (turn, next) => {{ next(); turn.blocks.push(g.turns.newUserBlock('lost')); }};
        const run = (engine) =>
          g.createSession({{engine, middlewares: [mw]}}).run({SEED}).blocks.map((b) => b.kind);
        report(run(g.engines.echo()));
        report(run(g.engines.fromFunction((t) => g.turns.appendBlock(t, g.turns.newAssistantBlock('new')))));
        """
    )
    # The host turn is returned: JS-side mutations are lost; an engine that appended in place
    # (echo) keeps its reply, one that built a new turn loses it (reference semantics).
    assert in_place == ["user", "llm_text"]
    assert replaced == ["user"]


def test_context_argument(js: JSHarness) -> None:
    ctx = js.one(
        """
        let seen;
        const s = g.createSession({engine: g.engines.echo(), middlewares: [
          g.middlewares.fromJS((t, next, ctx) => {
          seen = ctx; return next();
        }, 'ctx-mw')]});
        s.run({blocks: [g.turns.newUserBlock('hi')], metadata: {trace_id: 'tr-1'}}, {tags: {k: 'v'}});
        report(seen);
        """
    )
    assert ctx["middlewareName"] == "ctx-mw"
    assert isinstance(ctx["timestampMs"], int)
    assert ctx["sessionId"] and ctx["inferenceId"] and ctx["turnId"]
    assert ctx["traceId"] == "tr-1"
    assert ctx["tags"] == {"k": "v"}


def test_context_tags_are_an_empty_object_without_run_tags(js: JSHarness) -> None:
    missing = js.one(
        """
        let seen;
        const s = g.createSession({engine: g.engines.echo(), middlewares: [
          (t, next, ctx) => { seen = ctx.tags.anything; return next(); }]});
        s.run({blocks: [g.turns.newUserBlock('hi')]});
        report(seen === undefined);
        """
    )
    assert missing is True


def test_middleware_errors(js: JSHarness) -> None:
    thrown, inner, junk = js.run(
        f"""
        const run = (mw, engine) => {{
          const s = g.createSession({{engine: engine || g.engines.echo(), middlewares: [mw]}});
          try {{ s.run({SEED}); report('no error') }} catch (e) {{ report([e.message, e.code]) }}
        }};
        run(g.middlewares.fromJS(() => {{ throw new Error('bad mw') }}, 'guard'));
        run((t, next) => next(), g.engines.fromFunction(() => {{ throw new Error('deep') }}));
        run(g.middlewares.fromJS(() => 5, 'junk'));
        """
    )
    assert thrown == ["guard: bad mw", "engine_error"]
    assert inner == ["js engine callback: deep", "engine_error"]  # the inner error keeps its identity
    assert junk == ["junk: turn must be an object", "engine_error"]


def test_inner_errors_are_catchable_inside_the_middleware(js: JSHarness) -> None:
    out = js.one(
        f"""
        const failing = g.engines.fromFunction(() => {{ throw new Error('engine down') }});
        const rescue = (turn, next) => {{
          try {{ return next() }} catch (e) {{
            return g.turns.appendBlock(turn, g.turns.newAssistantBlock('fallback: ' + e.message)) }}
        }};
        report(g.createSession({{engine: failing, middlewares: [rescue]}}).run({SEED})
          .blocks[1].payload.text);
        """
    )
    assert out == "fallback: js engine callback: engine down"


def test_go_middlewares(js: JSHarness) -> None:
    first, again, unknown, bad_opts = js.run(
        f"""
        const s = g.createBuilder().withEngine(g.engines.echo())
          .useGoMiddleware('systemPrompt', {{prompt: 'Be brief.'}})
          .useMiddleware(g.middlewares.go('reorderToolResults'))
          .useHostMiddleware('turnLogging')
          .buildSession();
        const out = s.run({SEED});
        report(out.blocks[0]);
        report(s.run().blocks.filter((b) => b.kind === 'system').length);
        try {{ g.createBuilder().useGoMiddleware('nope') }} catch (e) {{ report([e.message, e.code]) }}
        try {{ g.createBuilder().useGoMiddleware('systemPrompt', {{prompt: 3}}) }}
          catch (e) {{ report(e.message) }}
        """
    )
    assert first["kind"] == "system" and first["payload"]["text"] == "Be brief."
    assert first["metadata"] == {"middleware": "systemprompt"}
    assert again == 1
    assert unknown == ["unknown go middleware: nope", "middleware_error"]
    assert "prompt" in bad_opts


def test_host_middleware_factories_win_over_builtins() -> None:
    seen: list[Mapping[str, Any]] = []

    def marker(options: Mapping[str, Any]) -> Middleware:
        seen.append(options)

        def middleware(inner: Handler) -> Handler:
            async def handler(turn: Turn, ctx: RunContext) -> Turn:
                out = await inner(turn, ctx)
                out.blocks.append(Block.assistant(f"marked {options.get('label')}"))
                return out

            return handler

        return middleware

    runtime, harness = make_harness(host_middlewares={"marker": marker, "systemPrompt": marker})
    try:
        texts = harness.one(
            f"""
            const s = g.createSession({{engine: g.engines.echo(), middlewares: [
              g.middlewares.go('marker', {{label: 'x'}}),
                g.middlewares.go('systemPrompt', {{label: 'y'}})]}});
            report(s.run({SEED}).blocks.map((b) => b.payload.text));
            """
        )
    finally:
        runtime.close()
    assert texts == ["hi", "READY", "marked y", "marked x"]
    assert [dict(o) for o in seen] == [{"label": "x"}, {"label": "y"}]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("g.middlewares.fromJS()", "fromJS requires callback argument"),
        ("g.middlewares.fromJS('x')", "fromJS expects callable callback"),
        ("g.middlewares.go()", "middlewares.go requires name"),
        ("g.middlewares.go('systemPrompt', 5)", "middlewares.go: options must be an object"),
        ("g.createBuilder().useMiddleware()", "useMiddleware requires middleware argument"),
        (
            "g.createBuilder().useMiddleware({type: 'other'})",
            "useMiddleware: middleware must be a function, middlewares.fromJS(...) or middlewares.go(...)",
        ),
        ("g.createSession({middlewares: 'x'})", "createSession: middlewares must be an array"),
        ("g.createBuilder().useGoMiddleware()", "useGoMiddleware requires middleware name"),
    ],
)
def test_middleware_argument_errors(js: JSHarness, call: str, message: str) -> None:
    assert js.one(f"try {{ {call}; report('no error') }} catch (e) {{ report([e.name, e.message]) }}") == [
        "TypeError",
        message,
    ]


def test_cancel_reaches_the_inner_chain(js: JSHarness) -> None:
    code, running, count = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.echo({{reply: 'a b c d e f', delayMs: 500}}),
                                   middlewares: [(t, next) => next()]}});
        const p = s.runAsync({SEED});
        setTimeout(() => s.cancelActive(), 20);
        try {{ await p }} catch (e) {{ report(e.code) }}
        report(s.isRunning());
        report(s.run({SEED}, {{timeoutMs: 0}}) && s.turnCount());
        """,
        timeout=10,
    )
    assert (code, running, count) == ("cancelled", False, 2)


def test_install_can_be_repeated_on_fresh_runtimes() -> None:
    runtime, harness = make_harness()
    try:
        install_geppetto_module(runtime)  # re-registering replaces the functions, no error
        assert harness.one("report(typeof g.createSession)") == "function"
    finally:
        runtime.close()


def test_a_middleware_retrying_after_cancel_does_not_restart_the_engine(js: JSHarness) -> None:
    codes, engine_calls = js.run(
        f"""
        let calls = 0;
        let release;
        const codes = [];
        const slow = g.engines.fromFunction(async (t) => {{
          calls++;
          await new Promise((r) => {{ release = r; }});
        }});
        const retry = (turn, next) => {{
          try {{ return next() }} catch (e) {{
            codes.push(e.code);
            try {{ return next() }} catch (e2) {{ codes.push(e2.code); throw e2 }}
          }}
        }};
        const s = g.createSession({{engine: slow, middlewares: [retry]}});
        const p = s.runAsync({SEED});
        setTimeout(() => s.cancelActive(), 20);
        try {{ await p }} catch (e) {{ codes.push('run:' + e.code) }}
        release();
        report(codes); report(calls);
        """,
        timeout=20,
    )
    assert codes == ["cancelled", "cancelled", "run:cancelled"]
    assert engine_calls == 1
