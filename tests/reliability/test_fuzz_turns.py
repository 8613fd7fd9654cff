"""Bad-input fuzzing of the turn serde (YAML/JSON files) and the plain-object turn codec.

Whatever the input, decoding either returns a Turn or raises :class:`TurnError`: no other
exception, no crash, no hang (every test has a timeout). Whatever decodes must encode again and
decode to the same turn, so a file that loads can always be saved.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import turns

from geppetto.errors import TurnError
from geppetto.turns import codec, serde
from geppetto.turns.model import Turn

pytestmark = pytest.mark.timeout(120)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- generators of hostile input ---------------------------------------------------------------------

odd_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too
    st.floats(),  # NaN and infinities included
    st.text(max_size=30),
    st.binary(max_size=10),
    st.sampled_from(["user", "llm_text", "tool_call", "tool_use", "system", "reasoning", "other", ""]),
)
json_like: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
python_values: st.SearchStrategy[Any] = st.recursive(
    odd_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none()), children, max_size=4),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=25,
)
FIELDS = ["id", "kind", "role", "payload", "metadata", "blocks", "data", "text", "args", "result", "name"]


@st.composite
def turn_shaped(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> Any:
    """Objects that look like turns, with any field replaced by something hostile."""

    def block() -> Any:
        fields = draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True))
        return {name: draw(values) for name in fields} if draw(st.booleans()) else draw(values)

    shape = {name: draw(values) for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True))}
    if draw(st.booleans()):
        shape["blocks"] = [block() for _ in range(draw(st.integers(0, 4)))]
    return shape if draw(st.integers(0, 9)) else draw(values)


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """A valid JSON turn with a slice cut out, duplicated or replaced by random characters."""
    text = serde.to_json(draw(turns()), indent=draw(st.booleans()))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 20)))
    patch = draw(st.sampled_from(["", text[start:end] * 2, draw(st.text(max_size=8))]))
    return text[:start] + patch + text[end:]


# -- helpers -----------------------------------------------------------------------------------------


def decode_or_turn_error(decode: Any, value: Any) -> Turn | None:
    try:
        turn = decode(value)
    except TurnError:
        return None
    assert isinstance(turn, Turn)
    return turn


def normal(turn: Turn) -> Any:
    """The turn as plain JSON data: tuples a Python caller handed in compare equal to lists."""
    return orjson.loads(orjson.dumps(serde.turn_to_dict(turn)))


def assert_file_round_trip(turn: Turn) -> None:
    """What decoded must encode in both formats and read back identical."""
    assert normal(serde.from_json(serde.to_json(turn))) == normal(turn)
    assert normal(serde.from_yaml(serde.to_yaml(turn))) == normal(turn)


# -- file serde ----------------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_json_text_of_any_kind(text: str) -> None:
    turn = decode_or_turn_error(serde.from_json, text)
    if turn is not None:
        assert_file_round_trip(turn)


@FUZZ
@given(turn_shaped(json_like))
def test_json_documents_shaped_like_turns(value: Any) -> None:
    turn = decode_or_turn_error(serde.from_json, orjson.dumps(value))
    if turn is not None:
        assert_file_round_trip(turn)


@FUZZ
@given(mutated_documents())
def test_mutated_json_turn_files(text: str) -> None:
    turn = decode_or_turn_error(serde.from_json, text)
    if turn is not None:
        assert_file_round_trip(turn)


@FUZZ
@given(st.text(max_size=200))
def test_yaml_text_of_any_kind(text: str) -> None:
    turn = decode_or_turn_error(serde.from_yaml, text)
    if turn is not None:
        assert_file_round_trip(turn)


@FUZZ
@given(turn_shaped(json_like))
def test_yaml_documents_shaped_like_turns(value: Any) -> None:
    turn = decode_or_turn_error(serde.from_yaml, yaml.safe_dump(value))
    if turn is not None:
        assert_file_round_trip(turn)


@FUZZ
@given(turn_shaped(python_values))
def test_turn_from_dict_with_non_json_values(value: Any) -> None:
    turn = decode_or_turn_error(serde.turn_from_dict, value)
    if turn is not None:
        assert_file_round_trip(turn)


@pytest.mark.parametrize(
    "text",
    [
        "blocks: [{kind: user, payload: {x: .nan}}]",
        "blocks: [{kind: user, payload: {x: .inf}}]",
        "blocks: [{kind: user, payload: {x: 2001-12-14}}]",  # YAML timestamps are not JSON
        "blocks: [{kind: user, payload: {x: !!binary aGk=}}]",
        "blocks: [{kind: user, payload: {1: a}}]",
        "blocks: [{kind: user, payload: {? [a] : b}}]",
        "&a [*a]",
        "blocks: &b [*b]",
        "!!python/object:os.system {}",
        "blocks:\n- kind: user\n  payload: {text: \x00}",
        "\ufeffblocks: []",
    ],
)
def test_yaml_oddities_are_turn_errors_or_json_clean(text: str) -> None:
    turn = decode_or_turn_error(serde.from_yaml, text)
    if turn is not None:
        assert_file_round_trip(turn)


# -- the plain-object codec (what scripts hand to the runtime) -----------------------------------------


@FUZZ
@given(turn_shaped(python_values))
def test_codec_decodes_anything_or_refuses_with_turn_error(value: Any) -> None:
    turn = decode_or_turn_error(codec.decode_turn, value)
    if turn is not None:
        encoded = orjson.loads(orjson.dumps(codec.encode_turn(turn)))  # what crosses to a script
        assert normal(codec.decode_turn(encoded)) == normal(turn)  # stable after the first decode


@FUZZ
@given(turn_shaped(json_like))
def test_codec_output_is_storable(value: Any) -> None:
    turn = decode_or_turn_error(codec.decode_turn, value)
    if turn is not None:
        assert_file_round_trip(turn)


def test_codec_refuses_non_finite_numbers() -> None:
    for bad in (math.nan, math.inf):
        with pytest.raises(TurnError):
            codec.decode_turn({"blocks": [{"kind": "user", "payload": {"x": bad}}]})


# -- nesting depth: every layer must agree on what it accepts -----------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def nested_doc(depth: int) -> dict[str, Any]:
    return {"blocks": [{"kind": "user", "payload": {"x": nested(depth)}}]}


@pytest.mark.parametrize("depth", [50, 80])
def test_moderate_nesting_round_trips_everywhere(depth: int) -> None:
    turn = serde.turn_from_dict(nested_doc(depth))
    assert_file_round_trip(turn)
    assert codec.decode_turn(codec.encode_turn(turn)) == turn


def test_a_turn_that_decodes_from_json_also_encodes() -> None:
    text = '{"blocks": [{"kind": "user", "payload": {"x": ' + "[" * 300 + "]" * 300 + "}}]}"
    turn = decode_or_turn_error(serde.from_json, text)
    if turn is not None:
        assert_file_round_trip(turn)


def test_codec_refuses_deep_nesting_with_turn_error() -> None:
    decode_or_turn_error(codec.decode_turn, nested_doc(1000))


def test_yaml_deep_nesting_is_a_turn_error() -> None:
    text = "blocks: [{kind: user, payload: {x: " + "[" * 3000 + "]" * 3000 + "}}]"
    decode_or_turn_error(serde.from_yaml, text)


def test_yaml_nesting_bomb_does_not_crash_the_process() -> None:
    script = textwrap.dedent(
        """
        from geppetto.errors import TurnError
        from geppetto.turns import serde
        try:
            serde.from_yaml("x: " + "[" * 100_000 + "]" * 100_000)
        except TurnError:
            pass
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr.decode()[-500:]}"


ALIAS_BOMB = "blocks:\n- kind: user\n  payload:\n" + "".join(
    f"    a{level}: &a{level} [" + ", ".join([f"*a{level - 1}" if level else "x"] * 10) + "]\n"
    for level in range(9)
)  # nine lines that expand to a billion values


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    script = "from geppetto.turns import serde\nimport sys\n" + textwrap.dedent(
        """
        try:
            serde.from_yaml(sys.stdin.read())
        except Exception as exc:
            print(type(exc).__name__)
        """
    )
    # The bound is a hang guard: a refused document takes milliseconds.
    proc = subprocess.run(
        [sys.executable, "-c", script], input=ALIAS_BOMB.encode(), capture_output=True, timeout=5
    )
    assert proc.stdout.strip() == b"TurnError", proc.stderr.decode()[-500:]


def test_shared_values_round_trip_through_yaml() -> None:
    """A value referenced twice is written (with or without an anchor) and read back equal."""
    shared = ["a", {"b": 1}]
    turn = serde.turn_from_dict({"blocks": [{"kind": "user", "payload": {"p": shared, "q": shared}}]})
    assert_file_round_trip(turn)
