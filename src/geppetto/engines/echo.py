"""The echo engine: a deterministic, offline engine for tests and demos.

It ignores the prompt and replies with a fixed text (default ``READY``), streaming it one word
per ``partial`` event, optionally pausing ``delay_ms`` before each word. The pause is an
``asyncio.sleep``, so it never blocks the loop and a cancellation ends it at once. Images on the
prompt are ignored like the rest of it (they were validated when the block was built).
"""

from __future__ import annotations

import asyncio
import re

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.turns.model import Turn

DEFAULT_REPLY = "READY"
_WORDS = re.compile(r"\s*\S+")


class EchoEngine:
    """Replies with ``reply`` (trimmed; empty means ``READY``)."""

    name = "echo"

    def __init__(self, reply: str = DEFAULT_REPLY, *, delay_ms: float = 0) -> None:
        if delay_ms < 0:
            raise ValueError(f"delay_ms must be >= 0, got {delay_ms}")
        self.reply = reply.strip() or DEFAULT_REPLY
        self.delay_ms = delay_ms
        self._words = _WORDS.findall(self.reply)

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        delay = self.delay_ms / 1000
        with StreamAccumulator(turn, ctx, provider="echo", model="echo") as acc:
            acc.start()
            for word in self._words:
                if delay:
                    await asyncio.sleep(delay)
                acc.add_text(word)
            acc.set_stop_reason("stop")
            return acc.finish()
