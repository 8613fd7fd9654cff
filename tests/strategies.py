"""Hypothesis strategies for turns with arbitrary JSON payloads and metadata."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from geppetto.turns import Block, BlockKind, Turn

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=20),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=4)
key_ids = st.text(alphabet="abcdefghij_", min_size=1, max_size=8).map(lambda n: f"geppetto.{n}@v1")


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    kind = draw(st.sampled_from(list(BlockKind)))
    role = draw(st.sampled_from(["", "user", "assistant", "system"]))
    if kind is BlockKind.LLM_TEXT and not role:
        role = "assistant"  # serde normalises this on read and write
    return Block(
        kind=kind,
        role=role,
        payload=draw(json_objects),
        metadata=draw(st.dictionaries(key_ids, json_values, max_size=3)),
        id=draw(st.text(max_size=12)),
    )


@st.composite
def turns(draw: st.DrawFn) -> Turn:
    return Turn(
        blocks=draw(st.lists(blocks(), max_size=5)),
        metadata=draw(st.dictionaries(key_ids, json_values, max_size=3)),
        data=draw(st.dictionaries(key_ids, json_values, max_size=3)),
        id=draw(st.text(max_size=12)),
    )
