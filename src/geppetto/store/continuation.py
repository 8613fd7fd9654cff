"""The turn that continues a stored conversation (``geppetto chat``, the web chat)."""

from __future__ import annotations

from geppetto.store.store import FORKED_AT_MS, FORKED_FROM_SESSION_ID, FORKED_FROM_TURN_ID
from geppetto.turns import Turn, TurnMetaKeys, new_id

# Facts about the finished run (and the fork it came from) that must not leak into the next
# turn: it has not run yet.
RUN_FACTS = (
    TurnMetaKeys.INFERENCE_ID.id,
    TurnMetaKeys.INFERENCE_RESULT.id,
    TurnMetaKeys.USAGE.id,
    TurnMetaKeys.STOP_REASON.id,
    TurnMetaKeys.MODEL.id,
    TurnMetaKeys.PROVIDER.id,
    FORKED_FROM_SESSION_ID,
    FORKED_FROM_TURN_ID,
    FORKED_AT_MS,
)


def continuation(latest: Turn | None) -> Turn:
    """A new turn (fresh id) with ``latest``'s blocks, metadata and data, less its run facts."""
    if latest is None:
        return Turn()
    turn = Turn(list(latest.blocks), dict(latest.metadata), dict(latest.data))
    turn.id = new_id()
    for key in RUN_FACTS:
        turn.metadata.pop(key, None)
    return turn
