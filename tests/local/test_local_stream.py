"""How the local engine hands llama.cpp's tokens to the event loop (a scripted server, no decoding)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from tests.local_model import require_local_model

from geppetto.engines import local as local_engine
from geppetto.engines.base import RunContext
from geppetto.engines.local import LocalEngine, create_local_engine
from geppetto.events import CallbackSink, EventType
from geppetto.events.types import Event
from geppetto.turns import Turn, TurnMetaKeys

require_local_model()

TOKENS = [f"t{i} " for i in range(40)]


def text_chunk(text: str) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


FINAL = {
    "id": "chatcmpl-1",
    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": len(TOKENS), "total_tokens": 5 + len(TOKENS)},
    "timings": {},
}


class ScriptedServer:
    """Streams ``TOKENS`` as llama.cpp would; ``between`` runs on its thread after each token."""

    def __init__(self, between: Any = None) -> None:
        self.between = between

    def handle_chat_completions(self, request: dict[str, Any], callback: Any) -> None:
        callback({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        for token in TOKENS:
            if callback(text_chunk(token)):
                return
            if self.between is not None:
                self.between()
        callback(FINAL)


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    eng = create_local_engine("", temperature=0.0, max_tokens=64)
    eng.load()
    return eng


async def run_scripted(engine: LocalEngine, server: ScriptedServer, sink: CallbackSink) -> Turn:
    eng = create_local_engine("", temperature=0.0, max_tokens=64)
    eng._loaded = dataclasses.replace(engine.load(), server=server)
    return await eng.run(Turn.builder().user("Hi").build(), RunContext(sink=sink))


async def test_fast_tokens_are_batched_but_the_first_text_comes_alone(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_engine, "COALESCE_SECONDS", 3600.0)  # every token lands in the window
    first_delivered = threading.Event()
    deltas: list[str] = []

    def on_partial(event: Event) -> None:
        deltas.append(event.delta)  # type: ignore[attr-defined]
        first_delivered.set()

    # after the first token the server waits until the loop has handed it over, then hurries on
    server = ScriptedServer(between=lambda: first_delivered.wait(30))
    out = await run_scripted(engine, server, CallbackSink(on_partial, types=[EventType.PARTIAL]))
    assert deltas == [TOKENS[0], "".join(TOKENS[1:])]  # the first at once, the rest at the end
    assert out.assistant_text() == "".join(TOKENS)
    assert (TurnMetaKeys.USAGE.get(out.metadata) or {})["output_tokens"] == len(TOKENS)


async def test_tokens_slower_than_the_window_each_wake_the_loop(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_engine, "COALESCE_SECONDS", 0.0)
    delivered = threading.Semaphore(0)
    deltas: list[str] = []

    def on_partial(event: Event) -> None:
        deltas.append(event.delta)  # type: ignore[attr-defined]
        delivered.release()

    # the next token comes only after the loop has handed the previous one over
    server = ScriptedServer(between=lambda: delivered.acquire(timeout=30))
    out = await run_scripted(engine, server, CallbackSink(on_partial, types=[EventType.PARTIAL]))
    assert deltas == TOKENS
    assert out.assistant_text() == "".join(TOKENS)
