"""Log each inference before and after, with ids and per-kind block counts."""

from __future__ import annotations

import logging
from collections import Counter

from geppetto.engines.base import Handler, RunContext
from geppetto.middleware.chain import Middleware
from geppetto.turns.model import Turn

_log = logging.getLogger("geppetto.middleware.turn_logging")


def block_counts(turn: Turn) -> dict[str, int]:
    return dict(Counter(block.kind.value for block in turn.blocks))


def turn_logging(logger: logging.Logger | None = None) -> Middleware:
    log = logger or _log

    def middleware(next_handler: Handler) -> Handler:
        async def handle(turn: Turn, ctx: RunContext) -> Turn:
            ids = f"session={ctx.session_id} inference={ctx.inference_id} turn={turn.id}"
            log.info("inference start %s blocks=%s", ids, block_counts(turn))
            try:
                out = await next_handler(turn, ctx)
            except BaseException as exc:
                log.info("inference failed %s error=%s", ids, exc.__class__.__name__)
                raise
            log.info("inference done %s blocks=%s", ids, block_counts(out))
            return out

        return handle

    return middleware
