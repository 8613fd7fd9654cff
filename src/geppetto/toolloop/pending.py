"""Which tool calls in a turn still wait for a result."""

from __future__ import annotations

from geppetto.tools.call import ToolCall
from geppetto.turns.jsonvalue import copy_json
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Turn


def pending_tool_calls(turn: Turn) -> list[ToolCall]:
    """``tool_call`` blocks with a non-empty payload id and no ``tool_use`` block with that id.

    Order is block order; a call id repeated in several blocks is taken once. Arguments are
    copied (a tool cannot change the turn through them) and left undecoded: an argument string
    that is not valid JSON becomes an error on the call's result, not here.
    """
    answered = {
        block.payload.get(PayloadKey.ID)
        for block in turn.blocks
        if block.kind is BlockKind.TOOL_USE and isinstance(block.payload.get(PayloadKey.ID), str)
    }
    seen: set[str] = set()
    pending: list[ToolCall] = []
    for block in turn.blocks:
        if block.kind is not BlockKind.TOOL_CALL:
            continue
        call_id = block.payload.get(PayloadKey.ID)
        if not isinstance(call_id, str) or not call_id or call_id in answered or call_id in seen:
            continue
        seen.add(call_id)
        name = block.payload.get(PayloadKey.NAME)
        pending.append(
            ToolCall(
                call_id, name if isinstance(name, str) else "", copy_json(block.payload.get(PayloadKey.ARGS))
            )
        )
    return pending
