"""The echo engine (what the server is benchmarked on) writes the same turn whether or not
anyone listens to its events: the quiet path must not drift from the accumulator's."""

from __future__ import annotations

import asyncio
from typing import Any

from geppetto.engines import EchoEngine
from geppetto.engines.base import RunContext
from geppetto.events.types import Event
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.model import Block, Turn


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)


def _comparable(turn: Turn) -> Any:
    metadata = dict(turn.metadata)
    result = dict(metadata.pop(TurnMetaKeys.INFERENCE_RESULT.id))
    assert isinstance(result.pop("duration_ms"), int)
    blocks = [(b.kind, b.role, b.payload, b.metadata) for b in turn.blocks]
    return blocks, metadata, result


def test_quiet_echo_writes_what_the_accumulator_writes() -> None:
    engine = EchoEngine("The quick  brown fox.")

    async def run(sink: Listener | None) -> tuple[Turn, RunContext]:
        ctx = RunContext(session_id="s", inference_id="i", turn_id="t", sink=sink)
        turn = await engine.run(Turn(blocks=[Block.user("hi")]), ctx)
        return turn, ctx

    listener = Listener()
    loud, loud_ctx = asyncio.run(run(listener))
    quiet, quiet_ctx = asyncio.run(run(None))
    assert listener.events  # the loud run went through the accumulator
    assert _comparable(quiet) == _comparable(loud)
    assert quiet.blocks[-1].text == "The quick  brown fox."
    assert quiet_ctx.output is quiet and loud_ctx.output is loud
    assert (
        (quiet_ctx.provider_calls, quiet_ctx.usage) == (loud_ctx.provider_calls, loud_ctx.usage) == (1, None)
    )
