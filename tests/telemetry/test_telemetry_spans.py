"""Spans and metrics of instrumented runs: the tree, the GenAI attributes, cancel and error spans,
content only on opt-in, and no key anywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from geppetto.engines import EchoEngine, FunctionEngine
from geppetto.engines.base import RunContext
from geppetto.errors import InferenceCancelled
from geppetto.session import EngineBuilder, Session
from geppetto.telemetry import state
from geppetto.tools import ToolRegistry, tool
from geppetto.turns import Block, BlockKind, Turn

from .conftest import (
    CANARY_KEY,
    ChatServer,
    Telemetry,
    openai_engine,
    text_stream,
    tool_call_stream,
)

PROMPT = "what is 2 plus 3? SECRET-PROMPT-TEXT"


def seed() -> Turn:
    return Turn.builder().system("be exact").user(PROMPT).build()


def adder(seen_spans: list[Any] | None = None) -> ToolRegistry:
    @tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        if seen_spans is not None:
            seen_spans.append(trace.get_current_span())
        return a + b

    registry = ToolRegistry()
    registry.register(add)
    return registry


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def children(otel: Telemetry, parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in otel.spans() if s.parent is not None and s.parent.span_id == parent.context.span_id]


async def tool_loop_run(server: ChatServer, seen: list[Any] | None = None) -> Turn:
    server.replies += [
        (200, tool_call_stream("call_1", "add", '{"a": 2, "b": 3}')),
        (200, text_stream("The answer is 5", response_id="chatcmpl-final")),
    ]
    session = Session(EngineBuilder(openai_engine(server)).with_tools(adder(seen)))
    return await session.arun(seed())


async def test_a_tool_loop_run_is_one_trace_run_then_call_tool_call(
    otel: Telemetry, chat_server: ChatServer
) -> None:
    out = await tool_loop_run(chat_server)
    assert out.assistant_text() == "The answer is 5"
    run = otel.one("invoke_agent")
    assert run.parent is None
    tree = [(s.name, s.kind) for s in children(otel, run)]
    assert tree == [
        ("chat gpt-test", SpanKind.CLIENT),
        ("execute_tool add", SpanKind.INTERNAL),
        ("chat gpt-test", SpanKind.CLIENT),
    ]
    assert {s.context.trace_id for s in otel.spans()} == {run.context.trace_id}
    first, tool_span, second = children(otel, run)
    assert first.end_time is not None and tool_span.start_time is not None
    assert first.end_time <= tool_span.start_time and tool_span.end_time <= second.start_time  # type: ignore[operator]
    assert attrs(run)["gen_ai.operation.name"] == "invoke_agent"
    assert attrs(run)["gen_ai.conversation.id"] == out.metadata["geppetto.session_id@v1"]
    assert attrs(run)["geppetto.outcome"] == "completed"


async def test_provider_call_spans_carry_the_genai_attributes(
    otel: Telemetry, chat_server: ChatServer
) -> None:
    await tool_loop_run(chat_server)
    first, second = otel.named("chat")
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test-0613",
    }
    assert common.items() <= attrs(first).items()
    assert common.items() <= attrs(second).items()
    assert attrs(first)["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attrs(first)["gen_ai.response.id"] == "chatcmpl-tool"
    assert (attrs(first)["gen_ai.usage.input_tokens"], attrs(first)["gen_ai.usage.output_tokens"]) == (21, 9)
    assert attrs(second)["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs(second)["gen_ai.response.id"] == "chatcmpl-final"
    usage = (attrs(second)["gen_ai.usage.input_tokens"], attrs(second)["gen_ai.usage.output_tokens"])
    assert usage == (40, 5)
    assert attrs(second)["geppetto.finish_class"] == "completed"
    port = int(chat_server.url.split(":")[2].split("/")[0])
    assert (attrs(first)["server.address"], attrs(first)["server.port"]) == ("127.0.0.1", port)
    tool_span = otel.one("execute_tool")
    assert {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
    }.items() <= attrs(tool_span).items()
    assert all(s.status.status_code is StatusCode.UNSET for s in otel.spans())


async def test_token_usage_and_duration_histograms(otel: Telemetry, chat_server: ChatServer) -> None:
    await tool_loop_run(chat_server)
    metrics = otel.metrics()
    tokens = {
        (p.attributes["gen_ai.token.type"], p.sum, p.count) for p in metrics["gen_ai.client.token.usage"]
    }
    assert tokens == {("input", 61, 2), ("output", 14, 2)}
    point = next(p for p in metrics["gen_ai.client.token.usage"])
    assert {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test-0613",
    }.items() <= dict(point.attributes).items()
    assert list(point.explicit_bounds[:3]) == [1, 4, 16]
    (duration,) = metrics["gen_ai.client.operation.duration"]
    assert duration.count == 2 and duration.sum > 0
    assert list(duration.explicit_bounds[:2]) == [0.01, 0.02]


async def test_spans_are_current_while_their_work_runs(otel: Telemetry, chat_server: ChatServer) -> None:
    """A tool's own spans (and an HTTP client's, an MCP SDK's) nest under the right span."""
    seen: list[Any] = []
    await tool_loop_run(chat_server, seen)
    (current,) = seen
    assert current.get_span_context().span_id == otel.one("execute_tool").context.span_id

    inside: list[Any] = []

    def engine(turn: Turn) -> Turn:
        inside.append(trace.get_current_span())
        turn.append(Block.assistant("ok"))
        return turn

    await Session(EngineBuilder(FunctionEngine(engine))).arun(seed())
    (chat_span,) = [s for s in otel.named("chat") if attrs(s)["gen_ai.provider.name"] == "function"]
    assert inside[0].get_span_context().span_id == chat_span.context.span_id
    assert chat_span.kind is SpanKind.INTERNAL  # in-process engines are not remote calls


async def test_a_run_started_inside_a_span_is_its_child(otel: Telemetry) -> None:
    tracer = trace.get_tracer("test", tracer_provider=otel.tracer_provider)
    with tracer.start_as_current_span("request handler") as outer:
        await Session(EngineBuilder(EchoEngine())).arun(seed())
    run = otel.one("invoke_agent")
    assert run.parent is not None and run.parent.span_id == outer.get_span_context().span_id


async def test_cancelled_runs_are_recorded_as_cancelled_not_failed(otel: Telemetry) -> None:
    session = Session(EngineBuilder(EchoEngine(delay_ms=200)))
    handle = session.start(Turn.builder().user("one two three four five six").build())
    await asyncio.sleep(0.05)
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        await handle
    run, call = otel.one("invoke_agent"), otel.one("chat")
    for span in (run, call):
        assert attrs(span)["geppetto.outcome"] == "cancelled"
        assert [e.name for e in span.events] == ["cancelled"]
        assert span.status.status_code is StatusCode.UNSET
    assert attrs(call)["geppetto.finish_class"] == "interrupted"


async def test_a_cancelled_tool_call_ends_its_span_as_cancelled(otel: Telemetry) -> None:
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Never finishes in time."""
        started.set()
        await asyncio.sleep(30)
        return "late"

    registry = ToolRegistry()
    registry.register(slow)

    def engine(turn: Turn) -> Turn:
        turn.append(Block.tool_call("c1", "slow", {}))
        return turn

    session = Session(EngineBuilder(FunctionEngine(engine)).with_tools(registry))
    handle = session.start(seed())
    await started.wait()
    handle.cancel()
    with pytest.raises(InferenceCancelled):
        await handle
    tool_span = otel.one("execute_tool slow")
    assert attrs(tool_span)["geppetto.outcome"] == "cancelled"
    assert tool_span.status.status_code is StatusCode.UNSET
    assert attrs(otel.one("invoke_agent"))["geppetto.outcome"] == "cancelled"


async def test_provider_errors_are_error_spans_with_a_type(otel: Telemetry, chat_server: ChatServer) -> None:
    chat_server.replies.append((503, b'{"error": {"message": "overloaded, try later"}}'))
    session = Session(EngineBuilder(openai_engine(chat_server)))
    with pytest.raises(Exception, match="overloaded"):
        await session.arun(seed())
    call, run = otel.one("chat"), otel.one("invoke_agent")
    assert call.status.status_code is StatusCode.ERROR
    assert "overloaded" in (call.status.description or "")
    assert attrs(call)["error.type"] == "503"
    assert attrs(call)["geppetto.finish_class"] == "error"
    assert [e.name for e in call.events] == ["exception"]
    assert run.status.status_code is StatusCode.ERROR
    assert attrs(run)["error.type"] == "503"
    assert attrs(run)["geppetto.outcome"] == "failed"
    (duration,) = otel.metrics()["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "503"


async def test_tool_errors_are_error_spans_without_their_message(otel: Telemetry) -> None:
    @tool
    def broken(code: str) -> str:
        """Fails, quoting its argument."""
        raise ValueError(f"cannot use {code}")

    registry = ToolRegistry()
    registry.register(broken)
    calls = 0

    def engine(turn: Turn) -> Turn:
        nonlocal calls
        calls += 1
        call = Block.tool_call("c1", "broken", {"code": "PRIVATE-ARG"})
        turn.append(call if calls == 1 else Block.assistant("x"))
        return turn

    await Session(EngineBuilder(FunctionEngine(engine)).with_tools(registry)).arun(seed())
    span = otel.one("execute_tool broken")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "tool_error"
    assert "PRIVATE-ARG" not in (span.status.description or "")


def everything(otel: Telemetry) -> str:
    """Every name, attribute, event, status and resource value of every span, as one string."""
    parts: list[str] = []
    for span in otel.spans():
        parts += [span.name, span.status.description or "", repr(dict(span.attributes or {}))]
        parts += [repr(span.resource.attributes)]
        for event in span.events:
            parts += [event.name, repr(dict(event.attributes or {}))]
    return "\n".join(parts)


async def test_no_content_without_opt_in(otel: Telemetry, chat_server: ChatServer) -> None:
    await tool_loop_run(chat_server)
    recorded = everything(otel)
    for secret in ("SECRET-PROMPT-TEXT", "The answer is 5", '"a"', "be exact"):
        assert secret not in recorded
    for name in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments"):
        assert name not in recorded


async def test_content_on_opt_in(otel_content: Telemetry, chat_server: ChatServer) -> None:
    otel = otel_content
    await tool_loop_run(chat_server)
    first, second = otel.named("chat")
    system = orjson.loads(attrs(first)["gen_ai.system_instructions"])
    assert system == [{"type": "text", "content": "be exact"}]
    assert orjson.loads(attrs(first)["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    assert orjson.loads(attrs(first)["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "add", "arguments": {"a": 2, "b": 3}}],
            "finish_reason": "tool_calls",
        }
    ]
    history = orjson.loads(attrs(second)["gen_ai.input.messages"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[2]["parts"] == [{"type": "tool_call_response", "id": "call_1", "result": 5}]
    assert orjson.loads(attrs(second)["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "The answer is 5"}
    ]
    tool_span = otel.one("execute_tool")
    assert orjson.loads(attrs(tool_span)["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert attrs(tool_span)["gen_ai.tool.call.result"] == "5"
    assert PROMPT in attrs(otel.one("invoke_agent"))["gen_ai.input.messages"]


async def test_the_key_is_in_no_attribute_even_with_content_and_errors(
    otel_content: Telemetry, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    await tool_loop_run(chat_server)
    # a server that quotes the request's credentials back in its error
    quoted = {"error": {"message": f"invalid key Bearer {CANARY_KEY}"}}
    chat_server.replies.append((401, orjson.dumps(quoted)))
    with pytest.raises(Exception):  # noqa: B017 - the failure itself is not under test
        await Session(EngineBuilder(openai_engine(chat_server))).arun(seed())
    assert all(h.get("Authorization") == f"Bearer {CANARY_KEY}" for h in chat_server.headers)  # it was sent
    recorded = everything(otel_content)
    assert "gen_ai.input.messages" in recorded and "401" in recorded
    assert CANARY_KEY not in recorded
    assert "canary-TELEMETRY" not in recorded
    metrics = repr(otel_content.metrics())
    assert CANARY_KEY not in metrics


async def test_nothing_is_installed_without_instrument() -> None:
    from geppetto.telemetry import is_instrumented

    assert state.sink is None and state.mcp is None and not is_instrumented()
    runner = EngineBuilder(EchoEngine()).build()
    assert runner.route() == (None, None)  # no sink at all: the engines build no lifecycle events


async def test_instrument_adds_the_sink_to_every_run(otel: Telemetry) -> None:
    runner = EngineBuilder(EchoEngine()).build()
    assert runner.route() == (otel.sink, None)  # the telemetry sink wants every event
    contexts: list[RunContext] = []

    def engine(turn: Turn, ctx: RunContext) -> Turn:
        contexts.append(ctx)
        turn.append(Block.assistant("ok"))
        return turn

    await Session(EngineBuilder(FunctionEngine(engine))).arun(seed())
    assert contexts[0].sink is otel.sink
    assert [b.kind for b in seed().blocks] == [BlockKind.SYSTEM, BlockKind.USER]


async def test_agent_runs_are_named_after_their_agent(otel: Telemetry) -> None:
    from geppetto.agent import Agent

    agent = Agent.builder().name("helper").engine(EchoEngine()).build()
    session = agent.session().build()
    await session.next().user("hello").arun()
    run = otel.one("invoke_agent")
    assert run.name == "invoke_agent helper"
    assert attrs(run)["gen_ai.agent.name"] == "helper"
