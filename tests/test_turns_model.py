from __future__ import annotations

import math
import uuid

import pytest

from geppetto.errors import TurnError
from geppetto.turns import (
    Block,
    BlockKind,
    BlockMetaKeys,
    DataKeys,
    KeyScope,
    Turn,
    TurnMetaKeys,
    canonical_id,
    resolve_key,
    short_key,
)


def is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_block_constructors_follow_the_reference() -> None:
    user = Block.user("hi")
    assert (user.kind, user.role, user.payload) == (BlockKind.USER, "user", {"text": "hi"})
    assert is_uuid(user.id)
    system = Block.system("be brief")
    assert (system.kind, system.role) == (BlockKind.SYSTEM, "system")
    reply = Block.assistant("ok")
    assert (reply.kind, reply.role) == (BlockKind.LLM_TEXT, "assistant")
    call = Block.tool_call("call-1", "add", {"a": 1})
    assert call.id == "call-1" and call.role == ""
    assert call.payload == {"id": "call-1", "name": "add", "args": {"a": 1}}
    result = Block.tool_use("call-1", '{"v":2}')
    assert result.payload == {"id": "call-1", "result": '{"v":2}', "error": ""}
    assert is_uuid(result.id) and result.id != "call-1"
    images = [{"media_type": "image/png", "url": "https://example.com/a.png"}]
    assert Block.user("look", images).payload["images"] == images


def test_kind_parsing_is_lenient() -> None:
    assert BlockKind.parse(" LLM_TEXT ") is BlockKind.LLM_TEXT
    assert BlockKind.parse("thought") is BlockKind.OTHER
    assert BlockKind.parse(None) is BlockKind.OTHER
    assert BlockKind.parse(3) is BlockKind.OTHER


def test_builder_skips_empty_strings() -> None:
    turn = Turn.builder().system("").user("hi").assistant("").build()
    assert [b.kind for b in turn.blocks] == [BlockKind.USER]
    full = Turn.builder().id("t1").system("s").user("u").assistant("a").build()
    assert full.id == "t1"
    assert [b.kind for b in full.blocks] == [BlockKind.SYSTEM, BlockKind.USER, BlockKind.LLM_TEXT]


def test_shallow_clone_copies_containers_but_shares_values() -> None:
    nested = {"deep": [1, 2]}
    turn = Turn([Block.user("hi")], {"m": nested}, {"d": 1}, "t1")
    copy = turn.clone()
    copy.blocks.append(Block.user("more"))
    copy.blocks[0].payload["text"] = "changed"
    copy.metadata["new"] = 1
    assert len(turn.blocks) == 1 and turn.blocks[0].text == "hi" and "new" not in turn.metadata
    assert copy.metadata["m"] is nested  # the reference's clone shares values


def test_deep_clone_shares_nothing_mutable() -> None:
    turn = Turn([Block.tool_call("c", "f", {"xs": [1]})], {"m": {"k": [1]}})
    copy = turn.clone(deep=True)
    copy.blocks[0].payload["args"]["xs"].append(2)
    copy.metadata["m"]["k"].append(2)
    assert turn.blocks[0].payload["args"] == {"xs": [1]}
    assert turn.metadata["m"] == {"k": [1]}
    assert copy == Turn(
        [Block("tool_call", "", {"id": "c", "name": "f", "args": {"xs": [1, 2]}}, id="c")],  # type: ignore[arg-type]
        {"m": {"k": [1, 2]}},
    )


def test_canonical_ids_and_short_names() -> None:
    assert canonical_id("session_id") == "geppetto.session_id@v1"
    assert TurnMetaKeys.SESSION_ID.id == "geppetto.session_id@v1"
    assert DataKeys.TOOL_CONFIG.id == "geppetto.tool_config@v1"
    assert BlockMetaKeys.MIDDLEWARE.id == "geppetto.middleware@v1"
    assert resolve_key(KeyScope.TURN_METADATA, " usage ") == "geppetto.usage@v1"
    assert resolve_key(KeyScope.DATA, "custom") == "geppetto.custom@v1"
    assert resolve_key(KeyScope.DATA, "acme.thing@v2") == "acme.thing@v2"
    assert resolve_key(KeyScope.DATA, "  ") == ""
    assert short_key(KeyScope.TURN_METADATA, "geppetto.inference_result@v1") == "inference_result"
    assert short_key(KeyScope.DATA, "geppetto.custom@v1") == "geppetto.custom@v1"
    with pytest.raises(ValueError):
        canonical_id("x", version=0)


def test_typed_keys_get_set_and_type_errors() -> None:
    turn = Turn()
    assert TurnMetaKeys.MODEL.get(turn.metadata) is None
    assert TurnMetaKeys.MODEL.get(turn.metadata, "dflt") == "dflt"
    TurnMetaKeys.MODEL.set(turn.metadata, "gpt")
    assert turn.metadata == {"geppetto.model@v1": "gpt"}
    turn.metadata["geppetto.model@v1"] = 42
    with pytest.raises(TurnError, match=r"geppetto.model@v1 holds a int, expected str"):
        TurnMetaKeys.MODEL.get(turn.metadata)
    with pytest.raises(TurnError, match="not JSON-serializable"):
        DataKeys.AGENT_MODE.set(turn.data, object())  # type: ignore[arg-type]
    with pytest.raises(TurnError, match="NaN"):
        TurnMetaKeys.USAGE.set(turn.metadata, {"x": math.nan})


def test_validate_names_the_bad_path() -> None:
    turn = Turn([Block.user("ok"), Block.tool_call("c", "f", {"when": {1, 2}})])
    with pytest.raises(TurnError, match=r"blocks\[1\]\.payload\.args\.when"):
        turn.validate()
    with pytest.raises(TurnError, match="object key 1 must be a string"):
        Turn(metadata={"k": {1: "x"}}).validate()


def test_turn_helpers() -> None:
    turn = Turn([Block.user("q")])
    turn.insert_before_last(Block.system("s"))
    turn.append(Block.assistant("a1"), Block.assistant("a2"))
    turn.prepend(Block.system("first"))
    assert [b.text for b in turn.blocks] == ["first", "s", "q", "a1", "a2"]
    assert turn.assistant_text() == "a1\na2"
    assert [b.text for b in turn.blocks_of(BlockKind.SYSTEM)] == ["first", "s"]
    assert len(turn) == 5


def test_new_id_is_a_random_version_4_uuid() -> None:
    import uuid

    from geppetto.turns.model import new_id

    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_copy_json_copies_every_nested_container_and_shares_only_scalars() -> None:
    from collections import OrderedDict

    from geppetto.turns.jsonvalue import copy_json

    original = {"a": [1, {"b": [2, 3]}, "x"], "c": {"d": {"e": None}}, "f": OrderedDict(g=[4])}
    copied = copy_json(original)
    assert copied == original
    copied["a"][1]["b"].append(9)
    copied["c"]["d"]["e"] = 1
    copied["f"]["g"].append(5)
    assert original == {"a": [1, {"b": [2, 3]}, "x"], "c": {"d": {"e": None}}, "f": OrderedDict(g=[4])}
    assert copied["a"] is not original["a"] and copied["f"] is not original["f"]
