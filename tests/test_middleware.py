from __future__ import annotations

import logging

import pytest

from geppetto.engines import EchoEngine, FunctionEngine, Handler, RunContext
from geppetto.errors import MiddlewareError
from geppetto.middleware import (
    Middleware,
    apply_system_prompt,
    build_middleware,
    chain,
    reorder_tool_results_blocks,
    turn_logging,
)
from geppetto.turns import Block, BlockKind, BlockMetaKeys, Turn


def recording(name: str, trace: list[str]) -> Middleware:
    def middleware(next_handler: Handler) -> Handler:
        async def handle(turn: Turn, ctx: RunContext) -> Turn:
            trace.append(f"{name}>")
            out = await next_handler(turn, ctx)
            trace.append(f"<{name}")
            return out

        return handle

    return middleware


async def test_first_added_middleware_is_outermost() -> None:
    trace: list[str] = []

    def engine(turn: Turn) -> Turn:
        trace.append("engine")
        return turn

    handler = chain(FunctionEngine(engine).run, [recording("a", trace), recording("b", trace)])
    await handler(Turn([Block.user("x")]), RunContext())
    assert trace == ["a>", "b>", "engine", "<b", "<a"]


def test_system_prompt_prepends_when_missing() -> None:
    turn = Turn([Block.user("q")])
    apply_system_prompt(turn, "be brief")
    assert [b.kind for b in turn.blocks] == [BlockKind.SYSTEM, BlockKind.USER]
    assert turn.blocks[0].text == "be brief"
    assert BlockMetaKeys.MIDDLEWARE.get(turn.blocks[0].metadata) == "systemprompt"
    apply_system_prompt(turn, "be brief")
    assert len(turn.blocks) == 2  # idempotent


def test_system_prompt_replaces_only_the_first_system_block() -> None:
    first, second = Block.system("old"), Block.system("other")
    turn = Turn([Block.user("q"), first, second])
    apply_system_prompt(turn, "new")
    assert [b.text for b in turn.blocks] == ["q", "new", "other"]
    assert BlockMetaKeys.MIDDLEWARE.get(first.metadata) == "systemprompt"
    assert second.metadata == {}


def test_system_prompt_leaves_equal_text_untouched_and_empty_prompt_passes() -> None:
    block = Block.system("same")
    turn = Turn([block])
    apply_system_prompt(turn, "same")
    assert block.metadata == {}
    apply_system_prompt(turn, "")
    assert len(turn.blocks) == 1


async def test_named_system_prompt_middleware_runs_in_a_chain() -> None:
    handler = chain(EchoEngine().run, [build_middleware("systemPrompt", {"prompt": "sys"})])
    out = await handler(Turn([Block.user("q")]), RunContext())
    assert [b.text for b in out.blocks] == ["sys", "q", "READY"]


def test_named_middleware_errors() -> None:
    with pytest.raises(MiddlewareError, match="unknown go middleware: nope"):
        build_middleware("nope")
    with pytest.raises(MiddlewareError, match="'prompt' must be a string"):
        build_middleware("systemPrompt", {"prompt": 3})


def test_host_middleware_factories_win_over_builtins() -> None:
    marker: list[str] = []

    def custom(options: object) -> Middleware:
        marker.append("custom")
        return recording("x", [])

    build_middleware("turnLogging", extra={"turnLogging": custom})
    assert marker == ["custom"]


def ids(blocks: list[Block]) -> list[str]:
    return [f"{b.kind.value}:{b.payload.get('id', b.text)}" for b in blocks]


def test_reorder_moves_results_after_their_calls_in_call_order() -> None:
    blocks = [
        Block.user("u"),
        Block.tool_call("a", "f", {}),
        Block.tool_call("b", "f", {}),
        Block.assistant("interleaved"),
        Block.tool_use("b", "1"),
        Block.tool_use("a", "2"),
        Block.user("after"),
    ]
    assert ids(reorder_tool_results_blocks(blocks)) == [
        "user:u",
        "tool_call:a",
        "tool_call:b",
        "tool_use:a",
        "tool_use:b",
        "llm_text:interleaved",
        "user:after",
    ]


def test_reorder_keeps_unmatched_blocks_and_separate_runs() -> None:
    blocks = [
        Block.tool_call("a", "f", {}),
        Block.user("between"),
        Block.tool_call("b", "f", {}),
        Block.tool_use("b", "1"),
        Block.tool_use("zzz", "orphan"),
        Block.tool_use("a", "2"),
    ]
    assert ids(reorder_tool_results_blocks(blocks)) == [
        "tool_call:a",
        "tool_use:a",
        "user:between",
        "tool_call:b",
        "tool_use:b",
        "tool_use:zzz",
    ]


async def test_turn_logging_logs_before_and_after(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="geppetto.middleware.turn_logging")
    handler = chain(EchoEngine().run, [turn_logging()])
    await handler(Turn([Block.user("q")], id="t9"), RunContext(session_id="s9", inference_id="i9"))
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "inference start session=s9 inference=i9 turn=t9 blocks={'user': 1}"
    assert messages[1] == "inference done session=s9 inference=i9 turn=t9 blocks={'user': 1, 'llm_text': 1}"
