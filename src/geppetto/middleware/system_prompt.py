"""Ensure the turn starts with a given system prompt (idempotent)."""

from __future__ import annotations

from geppetto.engines.base import Handler, RunContext
from geppetto.middleware.chain import Middleware
from geppetto.turns.keys import BlockMetaKeys
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn

MIDDLEWARE_TAG = "systemprompt"


def apply_system_prompt(turn: Turn, prompt: str) -> None:
    """Replace the first system block's text, or prepend a system block when there is none."""
    if not prompt:
        return
    for block in turn.blocks:
        if block.kind is BlockKind.SYSTEM:
            if block.text != prompt:
                block.payload[PayloadKey.TEXT] = prompt
                block.metadata[BlockMetaKeys.MIDDLEWARE.id] = MIDDLEWARE_TAG
            return
    block = Block.system(prompt)
    block.metadata[BlockMetaKeys.MIDDLEWARE.id] = MIDDLEWARE_TAG
    turn.prepend(block)


def system_prompt(prompt: str) -> Middleware:
    """Middleware form of :func:`apply_system_prompt`; an empty prompt passes turns through."""

    def middleware(next_handler: Handler) -> Handler:
        if not prompt:
            return next_handler

        async def handle(turn: Turn, ctx: RunContext) -> Turn:
            apply_system_prompt(turn, prompt)
            return await next_handler(turn, ctx)

        return handle

    return middleware
