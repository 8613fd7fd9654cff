from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from geppetto.errors import TurnError
from geppetto.turns import (
    Block,
    BlockKind,
    Turn,
    from_json,
    from_yaml,
    load_turn,
    save_turn,
    to_json,
    to_yaml,
    turn_from_dict,
    turn_to_dict,
)
from tests.strategies import turns

REFERENCE_EXAMPLE = """\
id: t1
blocks:
  - id: b1
    kind: system
    payload: {text: hi}
    metadata: {geppetto.middleware@v1: systemprompt}
metadata:
  geppetto.session_id@v1: s-1
data:
  geppetto.agent_mode@v1: research
"""


@settings(max_examples=150, deadline=None)
@given(turns())
def test_yaml_round_trip_is_exact(turn: Turn) -> None:
    assert from_yaml(to_yaml(turn)) == turn


@settings(max_examples=150, deadline=None)
@given(turns())
def test_json_round_trip_is_exact(turn: Turn) -> None:
    assert from_json(to_json(turn)) == turn
    assert from_json(to_json(turn, indent=False)) == turn


@settings(max_examples=100, deadline=None)
@given(turns())
def test_dict_form_is_stable(turn: Turn) -> None:
    once = turn_to_dict(turn)
    assert turn_to_dict(turn_from_dict(once)) == once


def test_reference_example_decodes() -> None:
    turn = from_yaml(REFERENCE_EXAMPLE)
    assert turn.id == "t1"
    assert turn.blocks[0].kind is BlockKind.SYSTEM and turn.blocks[0].text == "hi"
    assert turn.blocks[0].metadata == {"geppetto.middleware@v1": "systemprompt"}
    assert turn.metadata == {"geppetto.session_id@v1": "s-1"}
    assert turn.data == {"geppetto.agent_mode@v1": "research"}


def test_encoding_omits_empty_fields_and_keeps_blocks() -> None:
    assert turn_to_dict(Turn()) == {"blocks": []}
    block = Block(BlockKind.TOOL_USE)
    assert turn_to_dict(Turn([block])) == {"blocks": [{"kind": "tool_use"}]}
    assert to_yaml(None) == "{}\n"
    assert "data" not in turn_to_dict(Turn(data={"geppetto.x@v1": 1}), omit_data=True)


def test_unknown_and_missing_kinds_become_other() -> None:
    turn = from_yaml("blocks:\n  - kind: hologram\n    payload: {text: x}\n  - payload: {text: y}\n")
    assert [b.kind for b in turn.blocks] == [BlockKind.OTHER, BlockKind.OTHER]


def test_normalisation_on_read() -> None:
    turn = from_yaml("blocks:\n  - kind: llm_text\n")
    assert turn.blocks[0].role == "assistant" and turn.blocks[0].payload == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "turn must be a mapping"),
        ("blocks: 3\n", "turn.blocks must be a list"),
        ("blocks: [7]\n", r"blocks\[0\] must be a mapping"),
        ("blocks:\n  - kind: user\n    payload: [1]\n", r"blocks\[0\].payload must be a mapping"),
        ("blocks:\n  - kind: user\n    id: 5\n", r"blocks\[0\].id must be a string"),
        ("blocks: []\nmetadata: {1: x}\n", "key 1 must be a string"),
        ("blocks: []\nmetadata: {geppetto.t@v1: 2024-01-01}\n", "not JSON-serializable"),
        ("blocks: [\n", "invalid YAML turn: .* at line"),
    ],
)
def test_malformed_yaml_gets_clear_errors(text: str, message: str) -> None:
    with pytest.raises(TurnError, match=message):
        from_yaml(text)


def test_malformed_json_gets_clear_error() -> None:
    with pytest.raises(TurnError, match="invalid JSON turn"):
        from_json('{"blocks": [')


def test_encoding_refuses_non_json_values() -> None:
    turn = Turn([Block.user("x")], metadata={"geppetto.when@v1": object()})
    with pytest.raises(TurnError, match=r"turn.metadata.geppetto.when@v1"):
        to_yaml(turn)
    with pytest.raises(TurnError):
        to_json(turn)


def test_files_round_trip_by_extension(tmp_path: Path) -> None:
    turn = Turn.builder().id("t").system("s").user("u").build()
    for name in ("turn.yaml", "turn.json", "turn.txt"):
        path = tmp_path / name
        save_turn(path, turn)
        assert load_turn(path) == turn
    assert (tmp_path / "turn.json").read_text().startswith("{")


def test_load_turn_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TurnError, match="cannot read turn file"):
        load_turn(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(TurnError, match=r"bad.json: turn must be a mapping"):
        load_turn(bad)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TurnError, match="not UTF-8"):
        load_turn(binary)
