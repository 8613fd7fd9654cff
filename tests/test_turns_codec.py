from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings

from geppetto.errors import TurnError
from geppetto.turns import Block, BlockKind, Turn
from geppetto.turns.codec import decode_block, decode_turn, encode_block, encode_turn
from tests.strategies import turns


def test_encode_uses_short_names_and_omits_empty_maps() -> None:
    turn = Turn(
        [Block(BlockKind.USER, "user", {"text": "hi"}, {"geppetto.middleware@v1": "x"}, "b1")],
        metadata={"geppetto.session_id@v1": "s", "geppetto.custom@v1": 1},
        id="t1",
    )
    assert encode_turn(turn) == {
        "id": "t1",
        "blocks": [
            {
                "id": "b1",
                "kind": "user",
                "role": "user",
                "payload": {"text": "hi"},
                "metadata": {"middleware": "x"},
            }
        ],
        "metadata": {"session_id": "s", "geppetto.custom@v1": 1},
    }
    assert encode_turn(Turn()) == {"id": "", "blocks": []}
    assert encode_turn(None) == {"id": "", "blocks": [], "metadata": {}, "data": {}}
    assert encode_block(Block(BlockKind.OTHER)) == {"id": "", "kind": "other", "role": "", "payload": {}}


def test_decode_maps_short_and_unknown_keys() -> None:
    turn = decode_turn(
        {
            "blocks": [],
            "metadata": {"usage": {"input_tokens": 1}, "foo": 2, "acme.x@v3": 3, " ": 4},
            "data": {"tool_config": {}},
        }
    )
    assert turn.metadata == {"geppetto.usage@v1": {"input_tokens": 1}, "geppetto.foo@v1": 2, "acme.x@v3": 3}
    assert turn.data == {"geppetto.tool_config@v1": {}}
    assert encode_turn(turn)["metadata"] == {
        "usage": {"input_tokens": 1},
        "geppetto.foo@v1": 2,
        "acme.x@v3": 3,
    }


def test_decode_is_lenient_like_the_reference() -> None:
    assert decode_turn(None) == Turn()
    turn = decode_turn({"id": 5, "blocks": "nope"})
    assert turn.id == "" and turn.blocks == []
    block = decode_block({"kind": " LLM_TEXT ", "role": 3, "text": "hi", "id": "b"})
    assert (block.kind, block.role, block.id) == (BlockKind.LLM_TEXT, "", "b")
    assert block.payload == {"text": "hi", "id": "b"}  # shorthand: the id is also payload.id
    assert decode_block({"kind": "mystery"}).kind is BlockKind.OTHER
    assert decode_block({"kind": "user"}).payload == {}


def test_decode_errors() -> None:
    with pytest.raises(TurnError, match=r"^turn must be an object$"):
        decode_turn([1])
    with pytest.raises(TurnError, match=r"^block must be an object$"):
        decode_turn({"blocks": [1]})
    with pytest.raises(TurnError, match='decode turn metadata key "bad"'):
        decode_turn({"metadata": {"bad": object()}})
    with pytest.raises(TurnError, match='decode block metadata key "m"'):
        decode_block({"metadata": {"m": {1, 2}}})


def test_decoded_values_do_not_alias_the_input() -> None:
    source = {"blocks": [{"kind": "tool_call", "payload": {"args": {"xs": [1]}}}]}
    turn = decode_turn(source)
    turn.blocks[0].payload["args"]["xs"].append(2)
    assert source["blocks"][0]["payload"]["args"] == {"xs": [1]}  # type: ignore[index]


@settings(max_examples=100, deadline=None)
@given(turns())
def test_codec_round_trip(turn: Turn) -> None:
    assert decode_turn(encode_turn(turn)) == turn


def test_integers_outside_64_bits_are_refused_where_they_enter() -> None:
    """Found by the codec fuzz test: such an integer decoded, then no JSON encoder could write it."""
    with pytest.raises(TurnError, match=r"payload\.id\[0\]: integer -9223372036854775809 is outside"):
        decode_turn({"blocks": [{"id": [-(2**63) - 1]}]})
    with pytest.raises(TurnError, match="outside the 64-bit range"):
        decode_block({"kind": "user", "payload": {"n": 2**64}})
    edge = decode_block({"kind": "user", "payload": {"lo": -(2**63), "hi": 2**64 - 1}})
    assert edge.payload == {"lo": -(2**63), "hi": 2**64 - 1}
    assert orjson.loads(orjson.dumps(encode_turn(Turn(blocks=[edge])))) == encode_turn(Turn(blocks=[edge]))
