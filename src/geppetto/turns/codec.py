"""The plain-object turn codec that scripts see (reference spec §1.3).

Unlike the file serde this form uses *short* key names for known metadata/data keys
(``session_id`` instead of ``geppetto.session_id@v1``) and is lenient the way the reference JS
module was: non-string ids become ``""``, a non-list ``blocks`` is ignored, a block without a
``payload`` object may use the shorthand keys ``text``, ``args``, ``result``, ``id``, ``name``,
``error`` at its top level. Unknown keys round-trip as full ids (``foo`` -> ``geppetto.foo@v1``).
"""

from __future__ import annotations

from typing import Any

from geppetto.errors import TurnError
from geppetto.turns.jsonvalue import copy_json, ensure_json
from geppetto.turns.keys import KeyScope, resolve_key, short_key
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

_SHORTHAND_KEYS = ("text", "args", "result", "id", "name", "error")


def encode_turn(turn: Turn | None, *, copy: bool = True) -> dict[str, Any]:
    """Turn -> fresh plain object; ``None`` encodes as the reference's empty turn.

    ``copy=False`` shares payload and metadata values with ``turn``: for a result that is
    serialized at once (the JS bridge) and never held.
    """
    if turn is None:
        return {"id": "", "blocks": [], "metadata": {}, "data": {}}
    out: dict[str, Any] = {"id": turn.id, "blocks": [encode_block(block, copy=copy) for block in turn.blocks]}
    if turn.metadata:
        out["metadata"] = _encode_map(turn.metadata, KeyScope.TURN_METADATA, copy)
    if turn.data:
        out["data"] = _encode_map(turn.data, KeyScope.DATA, copy)
    return out


def encode_block(block: Block, *, copy: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": block.id,
        "kind": block.kind.value,
        "role": block.role,
        "payload": copy_json(block.payload) if copy else block.payload,
    }
    if block.metadata:
        out["metadata"] = _encode_map(block.metadata, KeyScope.BLOCK_METADATA, copy)
    return out


def _encode_map(mapping: dict[str, Any], scope: KeyScope, copy: bool) -> dict[str, Any]:
    if not copy:
        return {short_key(scope, key): value for key, value in mapping.items()}
    return {short_key(scope, key): copy_json(value) for key, value in mapping.items()}


def decode_turn(value: Any, *, copy: bool = True) -> Turn:
    """Plain object -> Turn, with the reference's lenient rules; raises :class:`TurnError` otherwise.

    ``copy=False`` keeps ``value``'s payload and metadata values in the turn (still validated):
    for a value freshly parsed from JSON that nothing else holds (the JS bridge's arguments).
    """
    if value is None:
        return Turn()
    if not isinstance(value, dict):
        raise TurnError("turn must be an object")
    blocks_value = value.get("blocks")
    items = blocks_value if isinstance(blocks_value, list) else []
    blocks = [decode_block(item, copy=copy) for item in items]
    return Turn(
        blocks=blocks,
        metadata=_decode_map(value.get("metadata"), KeyScope.TURN_METADATA, "turn metadata", copy),
        data=_decode_map(value.get("data"), KeyScope.DATA, "turn data", copy),
        id=_string(value.get("id")),
    )


def decode_block(value: Any, *, copy: bool = True) -> Block:
    if not isinstance(value, dict):
        raise TurnError("block must be an object")
    raw_payload = value.get("payload")
    if not isinstance(raw_payload, dict):
        raw_payload = {key: value[key] for key in _SHORTHAND_KEYS if key in value}
    ensure_json(raw_payload, "block payload")  # before copying: copy_json recurses without a limit
    return Block(
        kind=BlockKind.parse(value.get("kind")),
        role=_string(value.get("role")),
        payload=copy_json(raw_payload) if copy else raw_payload,
        metadata=_decode_map(value.get("metadata"), KeyScope.BLOCK_METADATA, "block metadata", copy),
        id=_string(value.get("id")),
    )


def _decode_map(value: Any, scope: KeyScope, label: str, copy: bool = True) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = resolve_key(scope, str(raw_key))
        if not key:
            continue
        try:
            ensure_json(item, key)
        except TurnError as exc:
            raise TurnError(f'decode {label} key "{raw_key}": {exc}') from None
        out[key] = copy_json(item) if copy else item
    return out


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
