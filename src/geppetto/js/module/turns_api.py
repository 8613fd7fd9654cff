"""``turns.*``: the reference turn helpers, on the plain-object codec (spec §1.4).

Every result is freshly encoded, so nothing a script holds aliases anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geppetto.turns.codec import decode_block, decode_turn, encode_block, encode_turn
from geppetto.turns.jsonvalue import copy_json, ensure_json
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn


def to_turn(value: Any, where: str) -> Turn:
    """Decode a turn a script passed; anything but an object is a ``TypeError`` naming ``where``.

    The bridge parsed ``value`` from JSON for this call alone, so the turn may keep its values
    (``copy=False``): only Python code calling this directly with its own dicts would share them.
    """
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"{where}: turn must be an object")
    return decode_turn(value, copy=False)


def normalize(turn: Any) -> dict[str, Any]:
    if turn is None:
        raise TypeError("turns.normalize requires turn")
    return encode_turn(to_turn(turn, "turns.normalize"), copy=False)


def new_turn(opts: Any = None) -> dict[str, Any]:
    if opts is None:
        return {"id": "", "blocks": []}
    return encode_turn(to_turn(opts, "turns.newTurn"))


def append_block(turn: Any, block: Any) -> dict[str, Any]:
    if turn is None or block is None:
        raise TypeError("turns.appendBlock requires turn and block")
    decoded = to_turn(turn, "turns.appendBlock")
    if not isinstance(block, dict):
        raise TypeError("turns.appendBlock: block must be an object")
    decoded.blocks.append(decode_block(block))
    return encode_turn(decoded)


_TEXT_BLOCKS = {
    BlockKind.USER.value: Block.user,
    BlockKind.SYSTEM.value: Block.system,
    BlockKind.LLM_TEXT.value: Block.assistant,
}


def new_block(kind: str, text: Any) -> dict[str, Any]:
    """``newUserBlock`` / ``newSystemBlock`` / ``newAssistantBlock`` (JS already stringified text)."""
    make = _TEXT_BLOCKS.get(kind)
    if make is None:
        raise TypeError(f"unknown text block kind {kind!r}")
    return encode_block(make("" if text is None else str(text)))


def new_tool_call_block(call_id: Any, name: Any, args: Any) -> dict[str, Any]:
    ensure_json(args, "turns.newToolCallBlock args")
    return encode_block(Block.tool_call(str(call_id), str(name), copy_json(args)))


def new_tool_use_block(call_id: Any, result: Any, error: Any = "") -> dict[str, Any]:
    ensure_json(result, "turns.newToolUseBlock result")
    return encode_block(Block.tool_use(str(call_id), copy_json(result), "" if error is None else str(error)))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "turns.normalize": normalize,
    "turns.newTurn": new_turn,
    "turns.appendBlock": append_block,
    "turns.newBlock": new_block,
    "turns.newToolCallBlock": new_tool_call_block,
    "turns.newToolUseBlock": new_tool_use_block,
}
