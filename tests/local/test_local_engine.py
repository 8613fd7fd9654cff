"""End-to-end tests of the ``local`` engine on the real bundled model (SmolLM2-135M-Instruct).

Temperature 0 and structural assertions only (the exact prose depends on the llama.cpp build).
The model is loaded once for the whole test process: every engine here shares the process cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from typing import Any

import orjson
import pytest
from tests.local_model import require_local_model

from geppetto.engines.base import RunContext
from geppetto.engines.local import LocalEngine, create_local_engine
from geppetto.engines.local_model import (
    BUNDLED_NAME,
    ContextOverflowError,
    LoadedModel,
    cached_models,
)
from geppetto.errors import ConfigError, InferenceCancelled
from geppetto.events import CallbackSink, CollectingSink, EventType
from geppetto.events.types import Event
from geppetto.session import EngineBuilder, Session
from geppetto.turns import Block, BlockKind, DataKeys, Turn, TurnMetaKeys

require_local_model()

RESULT = TurnMetaKeys.INFERENCE_RESULT.id
CITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    """The bundled model at temperature 0, loaded once (later engines reuse the cached model)."""
    eng = create_local_engine("", temperature=0.0, max_tokens=24)
    eng.load()
    return eng


def ask(text: str) -> Turn:
    return Turn.builder().user(text).build()


async def run(eng: LocalEngine, turn: Turn) -> tuple[Turn, CollectingSink]:
    sink = CollectingSink()
    out = await eng.run(turn, RunContext(sink=sink))
    return out, sink


async def test_answers_with_streamed_events_usage_and_stop_reason(engine: LocalEngine) -> None:
    out, sink = await run(engine, ask("What is the capital of France?"))

    answer = out.assistant_text()
    assert answer.strip()
    types = [event.type for event in sink.events]
    assert types[0] is EventType.START and types[-1] is EventType.FINAL
    partials = sink.of_type(EventType.PARTIAL)
    assert partials
    assert "".join(p.delta for p in partials) == answer  # type: ignore[attr-defined]
    assert sink.of_type(EventType.FINAL)[0].text == answer  # type: ignore[attr-defined]

    result = out.metadata[RESULT]
    assert result["provider"] == "local" and result["model"] == BUNDLED_NAME
    assert result["extra"]["chat_template"] == "gguf" and result["extra"]["n_ctx"] == 4096
    assert result["stop_reason"] in ("stop", "length")
    usage = result["usage"]
    assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 24
    final_meta = sink.of_type(EventType.FINAL)[0].meta
    assert final_meta.usage is not None and final_meta.usage.output_tokens == usage["output_tokens"]


async def test_max_tokens_ends_the_reply_with_stop_reason_length(engine: LocalEngine) -> None:
    short = create_local_engine("", temperature=0.0, max_tokens=5)
    out, _ = await run(short, ask("Write a long story about a dragon who learns to fly."))

    result = out.metadata[RESULT]
    assert result["stop_reason"] == "length"
    assert result["finish_class"] == "max_tokens"
    assert result["usage"]["output_tokens"] == 5
    assert result["max_tokens"] == 5


async def test_temperature_zero_is_repeatable(engine: LocalEngine) -> None:
    first, _ = await run(engine, ask("Name a primary color."))
    second, _ = await run(engine, ask("Name a primary color."))
    assert first.assistant_text() == second.assistant_text()


async def test_json_schema_constrains_the_reply() -> None:
    eng = create_local_engine("", temperature=0.0, max_tokens=80, json_schema=CITY_SCHEMA)
    out, _ = await run(eng, ask("Give the capital of France as JSON."))

    value = orjson.loads(out.assistant_text())
    assert set(value) == {"city", "country"}
    assert all(isinstance(v, str) for v in value.values())
    extra = out.metadata[RESULT]["extra"]
    assert extra["structured_output"] is True and extra["structured_output_valid"] is True


async def test_structured_output_config_in_turn_data_is_honoured(engine: LocalEngine) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    turn = ask("Is Paris in France? Answer yes or no.")
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(
        turn.data, {"mode": "json_schema", "name": "verdict", "schema": schema}
    )
    big = create_local_engine("", temperature=0.0, max_tokens=40)
    out, _ = await run(big, turn)

    assert orjson.loads(out.assistant_text())["answer"] in ("yes", "no")


async def test_schema_llama_cpp_cannot_compile_is_a_config_error(engine: LocalEngine) -> None:
    turn = ask("hi")
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(turn.data, {"mode": "json_schema", "schema": {"type": "bogus"}})
    sink = CollectingSink()
    with pytest.raises(ConfigError, match="rejected the JSON schema"):
        await engine.run(turn, RunContext(sink=sink))
    assert [e.type for e in sink.events] == [EventType.START, EventType.ERROR]


async def test_conversation_with_tool_blocks_and_reasoning_runs(engine: LocalEngine) -> None:
    turn = Turn(
        [
            Block.system("You are a weather assistant."),
            Block.user("What is the weather in Paris?"),
            Block.reasoning("the user wants weather"),
            Block.tool_call("call_1", "get_weather", {"city": "Paris"}),
            Block.tool_use("call_1", {"temperature_c": 21, "sky": "sunny"}),
            Block.user("Summarise the weather in one sentence."),
        ]
    )
    out, _ = await run(engine, turn)
    assert out.blocks[-1].kind is BlockKind.LLM_TEXT
    assert out.assistant_text().strip()


class CountingServer:
    """Wraps the real llama.cpp server to count chunks delivered after the test asked to cancel."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.cancel_requested = threading.Event()
        self.returned = threading.Event()
        self.before_cancel = 0
        self.after_cancel = 0

    def handle_chat_completions(self, request: dict[str, Any], callback: Any) -> Any:
        def counting(chunk: dict[str, Any]) -> bool:
            has_text = any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or ())
            if has_text:
                if self.cancel_requested.is_set():
                    self.after_cancel += 1
                else:
                    self.before_cancel += 1
            return bool(callback(chunk))

        try:
            return self.real.handle_chat_completions(request, counting)
        finally:
            self.returned.set()


async def test_cancelling_a_session_stops_generation_within_a_token_or_two(engine: LocalEngine) -> None:
    eng = create_local_engine("", temperature=0.0, max_tokens=256)
    loaded = eng.load()
    counting = CountingServer(loaded.server)
    eng._loaded = dataclasses.replace(loaded, server=counting)
    session = Session(EngineBuilder(eng))
    events: list[Event] = []
    handle_box: list[Any] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if event.type is EventType.PARTIAL and not counting.cancel_requested.is_set():
            counting.cancel_requested.set()
            handle_box[0].cancel()

    handle = session.start(ask("Write a very long story about a dragon."), sinks=[CallbackSink(on_event)])
    handle_box.append(handle)
    with pytest.raises(InferenceCancelled):
        await handle

    # The llama.cpp call returns after at most a token or two, not after 256 tokens.
    assert await asyncio.to_thread(counting.returned.wait, 60)
    assert counting.after_cancel <= 2
    assert counting.before_cancel + counting.after_cancel < 10

    turn = session.latest()
    assert turn is not None
    last = turn.blocks[-1]
    assert last.kind is BlockKind.LLM_TEXT and last.text
    assert last.metadata[RESULT]["finish_class"] == "interrupted"
    assert turn.metadata[RESULT]["finish_class"] == "interrupted"
    assert EventType.INTERRUPT in [e.type for e in events]

    # The shared model is free again: a follow-up run on the same session completes.
    session.append_user_prompt("What is the capital of France?")
    eng._loaded = loaded
    follow = await session.arun()
    assert follow.metadata[RESULT]["finish_class"] in ("completed", "max_tokens")


async def test_cancelling_the_task_returns_promptly_and_records_partial_output(engine: LocalEngine) -> None:
    eng = create_local_engine("", temperature=0.0, max_tokens=256)
    first_partial = asyncio.Event()
    sink = CallbackSink(lambda e: first_partial.set(), types=[EventType.PARTIAL])
    turn = ask("Write a very long story about a cat.")
    task = asyncio.create_task(eng.run(turn, RunContext(sink=sink)))
    await asyncio.wait_for(first_partial.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turn.metadata[RESULT]["finish_class"] == "interrupted"
    assert turn.blocks[-1].kind is BlockKind.LLM_TEXT


async def test_cancelling_a_run_without_listeners_keeps_the_text_received_so_far() -> None:
    """With no sink, deltas are only handed over at the end; a cancellation must still keep them."""
    eng = create_local_engine("", temperature=0.0, max_tokens=256)
    loaded = eng.load()
    counting = CountingServer(loaded.server)
    eng._loaded = dataclasses.replace(loaded, server=counting)
    turn = ask("Write a very long story about a horse.")
    task = asyncio.create_task(eng.run(turn, RunContext()))
    for _ in range(6000):  # wait (up to a minute) until llama.cpp has streamed a few tokens
        if counting.before_cancel >= 3 or task.done():
            break
        await asyncio.sleep(0.01)
    assert not task.done()
    counting.cancel_requested.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert turn.blocks[-1].kind is BlockKind.LLM_TEXT
    assert turn.blocks[-1].text
    assert turn.metadata[RESULT]["finish_class"] == "interrupted"
    assert await asyncio.to_thread(counting.returned.wait, 60)
    assert counting.after_cancel <= 2


async def test_model_is_loaded_once_and_shared(engine: LocalEngine) -> None:
    before = len(cached_models())
    other = create_local_engine("smollm2", temperature=0.7, max_tokens=3, top_p=0.9)
    loads: list[LoadedModel] = []
    threads = [threading.Thread(target=lambda: loads.append(other.load())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(loads) == 3
    assert all(loaded is engine.load() for loaded in loads)
    assert len(cached_models()) == before
    assert engine.load_options.n_threads == (os.cpu_count() or 1)


async def test_concurrent_sessions_share_the_model(engine: LocalEngine) -> None:
    sessions = [Session(EngineBuilder(engine)) for _ in range(3)]
    outs = await asyncio.gather(
        *(s.arun(ask(f"Say a word about the number {i}.")) for i, s in enumerate(sessions))
    )
    assert all(out.assistant_text().strip() for out in outs)


@pytest.fixture(scope="module")
def small_context() -> LocalEngine:
    eng = create_local_engine("", temperature=0.0, n_ctx=256)
    eng.load()
    return eng


async def test_prompt_longer_than_the_context_is_a_typed_error(small_context: LocalEngine) -> None:
    session = Session(EngineBuilder(small_context))
    sink = CollectingSink()
    with pytest.raises(ContextOverflowError) as caught:
        await session.arun(ask("one two three four five " * 80), sinks=[sink])
    assert caught.value.n_ctx == 256
    assert caught.value.prompt_tokens is not None and caught.value.prompt_tokens > 256
    assert "context window" in str(caught.value)
    assert [e.type for e in sink.events] == [EventType.START, EventType.ERROR]

    # The session kept the input and still works.
    turn = session.latest()
    assert turn is not None and turn.blocks[0].kind is BlockKind.USER
    follow = await session.arun(ask("hi"))
    assert follow.metadata[RESULT]["finish_class"] in ("completed", "max_tokens")


async def test_reply_that_fills_the_context_ends_with_length(small_context: LocalEngine) -> None:
    out, _ = await run(small_context, ask("one two three four five " * 44))
    result = out.metadata[RESULT]
    assert result["stop_reason"] == "length"
    usage = result["usage"]
    assert usage["input_tokens"] + usage["output_tokens"] == 256


async def test_chat_template_option_selects_another_template() -> None:
    chatml = create_local_engine("", n_ctx=256, max_tokens=12, chat_template="chatml")
    out, _ = await run(chatml, ask("What is the capital of France?"))
    assert out.assistant_text().strip()

    unknown = create_local_engine("", n_ctx=256, max_tokens=12, chat_template="no-such-template")
    with pytest.raises(ConfigError, match="chat template"):
        await run(unknown, ask("hi"))
