from __future__ import annotations

import asyncio
import time

import pytest

from geppetto.engines import (
    EchoEngine,
    FinishClass,
    FunctionEngine,
    RunContext,
    StreamAccumulator,
    classify_stop_reason,
    create_engine,
)
from geppetto.errors import ConfigError, EngineError
from geppetto.events import CollectingSink, EventType, PartialEvent, ToolCallEvent, Usage
from geppetto.turns import Block, BlockKind, BlockMetaKeys, Turn, TurnMetaKeys


def ctx_with_sink() -> tuple[RunContext, CollectingSink]:
    sink = CollectingSink()
    return RunContext(session_id="s", inference_id="i", turn_id="t", sink=sink), sink


def user_turn(text: str = "hi") -> Turn:
    return Turn([Block.user(text)])


async def test_echo_default_reply_and_events() -> None:
    ctx, sink = ctx_with_sink()
    turn = user_turn()
    out = await EchoEngine().run(turn, ctx)
    assert out is turn  # engines append in place, like the reference
    assert [b.kind for b in out.blocks] == [BlockKind.USER, BlockKind.LLM_TEXT]
    assert out.blocks[-1].text == "READY" and out.blocks[-1].role == "assistant"
    assert [e.type for e in sink.events] == [EventType.START, EventType.PARTIAL, EventType.FINAL]
    result = TurnMetaKeys.INFERENCE_RESULT.get(out.metadata)
    assert result is not None and result["finish_class"] == "completed" and result["provider"] == "echo"
    assert ctx.output is out


@pytest.mark.parametrize(("reply", "expected"), [("  hello  ", "hello"), ("   ", "READY"), ("", "READY")])
async def test_echo_trims_and_defaults(reply: str, expected: str) -> None:
    out = await EchoEngine(reply).run(user_turn(), RunContext())
    assert out.blocks[-1].text == expected


async def test_echo_streams_one_partial_per_word() -> None:
    ctx, sink = ctx_with_sink()
    await EchoEngine("one two  three").run(user_turn(), ctx)
    partials = [e for e in sink.events if isinstance(e, PartialEvent)]
    assert [p.delta for p in partials] == ["one", " two", "  three"]
    assert [p.completion for p in partials] == ["one", "one two", "one two  three"]


async def test_echo_delay_cancels_at_once_and_keeps_partial() -> None:
    ctx, sink = ctx_with_sink()
    turn = user_turn()
    task = asyncio.create_task(EchoEngine("a b c d", delay_ms=10_000).run(turn, ctx))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    assert sink.events[-1].type is EventType.INTERRUPT
    result = TurnMetaKeys.INFERENCE_RESULT.get(turn.metadata)
    assert result is not None and result["finish_class"] == "interrupted"
    assert ctx.output is turn


def test_echo_rejects_negative_delay() -> None:
    with pytest.raises(ValueError, match="delay_ms"):
        EchoEngine(delay_ms=-1)


async def test_function_engine_sync_async_and_none() -> None:
    def sync_fn(turn: Turn) -> Turn:
        return turn.append(Block.assistant("sync"))

    async def async_fn(turn: Turn, ctx: RunContext) -> Turn:
        return Turn([*turn.blocks, Block.assistant(f"async {ctx.session_id}")])

    ctx, sink = ctx_with_sink()
    assert (await FunctionEngine(sync_fn).run(user_turn(), ctx)).blocks[-1].text == "sync"
    assert (await FunctionEngine(async_fn).run(user_turn(), ctx)).blocks[-1].text == "async s"
    turn = user_turn()
    assert await FunctionEngine(lambda t: None).run(turn, ctx) is turn
    finals = [e for e in sink.events if e.type is EventType.FINAL]
    assert [e.to_dict()["text"] for e in finals] == ["sync", "async s", ""]


async def test_function_engine_errors_are_typed() -> None:
    def boom(turn: Turn) -> Turn:
        raise KeyError("nope")

    with pytest.raises(EngineError, match="function engine: 'nope'") as info:
        await FunctionEngine(boom).run(user_turn(), RunContext())
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(EngineError, match="must return a Turn or None, got str"):
        await FunctionEngine(lambda t: "text").run(user_turn(), RunContext())
    with pytest.raises(TypeError, match="requires a callable"):
        FunctionEngine(42)  # type: ignore[arg-type]


async def test_accumulator_assembles_fragmented_tool_calls() -> None:
    ctx, sink = ctx_with_sink()
    turn = user_turn()
    with StreamAccumulator(turn, ctx, provider="p", model="m") as acc:
        acc.start()
        acc.add_reasoning("think")
        acc.add_text("Calling")
        acc.add_tool_call(0, id="c1", name="add", arguments='{"a":')
        acc.add_tool_call(1, id="c2", name="mul", arguments="")
        acc.add_tool_call(0, arguments=" 1}")
        acc.add_tool_call(2, name="bad", arguments="{not json")
        acc.add_complete_tool_call(id=None, name="whole", args={"x": 1})
        acc.set_usage(Usage(10, 5))
        acc.set_stop_reason("tool_calls")
        acc.finish()
    kinds = [b.kind for b in turn.blocks]
    assert kinds == [BlockKind.USER, BlockKind.REASONING, BlockKind.LLM_TEXT] + [BlockKind.TOOL_CALL] * 4
    calls = [b.payload for b in turn.blocks if b.kind is BlockKind.TOOL_CALL]
    assert calls[0] == {"id": "c1", "name": "add", "args": {"a": 1}}
    assert calls[1]["args"] == {}
    assert calls[2]["args"] == "{not json" and calls[2]["id"].startswith("call_")
    assert calls[3]["name"] == "whole" and calls[3]["args"] == {"x": 1}
    tool_events = [e for e in sink.events if isinstance(e, ToolCallEvent)]
    assert [e.tool_call.input for e in tool_events] == ['{"a": 1}', "{}", "{not json", '{"x":1}']
    result = TurnMetaKeys.INFERENCE_RESULT.get(turn.metadata)
    assert result is not None
    assert result["finish_class"] == "tool_calls_pending" and result["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
    }
    assert TurnMetaKeys.USAGE.get(turn.metadata) == {"input_tokens": 10, "output_tokens": 5}
    final = sink.events[-1].to_dict()
    assert final["type"] == "final" and final["meta"]["usage"] == {"input_tokens": 10, "output_tokens": 5}


async def test_accumulator_usage_add_versus_replace() -> None:
    acc = StreamAccumulator(Turn(), RunContext(), provider="p", model="m")
    acc.add_usage(Usage(1, 1))
    acc.add_usage(Usage(0, 2))
    assert acc.usage == Usage(1, 3)
    acc.set_usage(Usage(7, 7))
    assert acc.usage == Usage(7, 7)


async def test_accumulator_records_failures_with_partial_text() -> None:
    ctx, sink = ctx_with_sink()
    turn = user_turn()
    with pytest.raises(RuntimeError), StreamAccumulator(turn, ctx, provider="p", model="m") as acc:
        acc.start()
        acc.add_reasoning("thinking about")
        acc.add_text("half an ans")
        raise RuntimeError("stream reset")
    assert [b.kind for b in turn.blocks] == [BlockKind.USER, BlockKind.REASONING, BlockKind.LLM_TEXT]
    assert turn.blocks[1].text == "thinking about"
    partial = turn.blocks[-1]
    assert partial.text == "half an ans"
    block_result = BlockMetaKeys.INFERENCE_RESULT.get(partial.metadata)
    assert block_result is not None and block_result["finish_class"] == "error"
    turn_result = TurnMetaKeys.INFERENCE_RESULT.get(turn.metadata)
    assert turn_result is not None and turn_result["extra"]["error"] == "stream reset"
    assert sink.events[-1].to_dict()["error_string"] == "stream reset"
    assert ctx.output is turn


@pytest.mark.parametrize(
    ("reason", "tools", "expected"),
    [
        ("stop", False, FinishClass.COMPLETED),
        ("end_turn", False, FinishClass.COMPLETED),
        ("length", False, FinishClass.MAX_TOKENS),
        ("MAX_TOKENS", False, FinishClass.MAX_TOKENS),
        ("tool_use", False, FinishClass.TOOL_CALLS_PENDING),
        ("stop", True, FinishClass.TOOL_CALLS_PENDING),
        ("SAFETY", False, FinishClass.ERROR),
        ("MODEL_ARMOR", False, FinishClass.ERROR),
        ("model_context_window_exceeded", False, FinishClass.MAX_TOKENS),
        ("load", False, FinishClass.COMPLETED),
        ("", False, FinishClass.UNKNOWN),
        ("weird", False, FinishClass.UNKNOWN),
    ],
)
def test_stop_reason_classification(reason: str, tools: bool, expected: FinishClass) -> None:
    assert classify_stop_reason(reason, has_tool_calls=tools) is expected


def test_factory_builds_echo_and_explains_unknown_types() -> None:
    assert create_engine("echo").name == "echo"
    assert create_engine(" ECHO ", reply="hi").reply == "hi"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"unknown provider bogus; available: .*echo"):
        create_engine("bogus")
