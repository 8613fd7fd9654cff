"""The echo engine: a deterministic, offline engine for tests and demos.

It ignores the prompt and replies with a fixed text (default ``READY``), streaming it one word
per ``partial`` event, optionally pausing ``delay_ms`` before each word. The pause is an
``asyncio.sleep``, so it never blocks the loop and a cancellation ends it at once. Images on the
prompt are ignored like the rest of it (they were validated when the block was built).

With nobody listening to events and no pause, it writes the reply block and the accumulator's
metadata directly (the same turn, without the accumulator's bookkeeping): echo is what servers
and batch runs are benchmarked on, so its own cost should not be what they measure.
"""

from __future__ import annotations

import asyncio
import re

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.result import classify_stop_reason
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.model import Block, Turn

DEFAULT_REPLY = "READY"
_WORDS = re.compile(r"\s*\S+")
_STOP = "stop"
_PROVIDER, _MODEL = TurnMetaKeys.PROVIDER.id, TurnMetaKeys.MODEL.id
_STOP_REASON, _RESULT = TurnMetaKeys.STOP_REASON.id, TurnMetaKeys.INFERENCE_RESULT.id


class EchoEngine:
    """Replies with ``reply`` (trimmed; empty means ``READY``)."""

    name = "echo"

    def __init__(self, reply: str = DEFAULT_REPLY, *, delay_ms: float = 0) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        self.reply = reply.strip() or DEFAULT_REPLY
        self.delay_ms = delay_ms
        self._words = _WORDS.findall(self.reply)
        self._text = "".join(self._words)
        self._finish_class = classify_stop_reason(_STOP).value

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        delay = self.delay_ms / 1000
        if ctx.sink is None and not delay:
            return self._quiet(turn, ctx)
        with StreamAccumulator(turn, ctx, provider="echo", model="echo") as acc:
            acc.start()
            for word in self._words:
                if delay:
                    await asyncio.sleep(delay)
                acc.add_text(word)
            acc.set_stop_reason("stop")
            return acc.finish()

    def _quiet(self, turn: Turn, ctx: RunContext) -> Turn:
        """What the accumulator would write for this reply, when no event would be seen."""
        ctx.provider_calls += 1  # one model call, as next_provider_call counts it
        turn.blocks.append(Block.assistant(self._text))
        metadata = turn.metadata
        metadata[_PROVIDER] = "echo"
        metadata[_MODEL] = "echo"
        metadata[_STOP_REASON] = _STOP
        metadata[_RESULT] = {
            "provider": "echo",
            "model": "echo",
            "stop_reason": _STOP,
            "finish_class": self._finish_class,
            "truncated": False,
            "duration_ms": 0,
        }
        ctx.output = turn
        return turn
