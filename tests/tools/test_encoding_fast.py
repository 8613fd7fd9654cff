"""Tool result encoding: orjson's output, with the stdlib's verdicts where they differ."""

from __future__ import annotations

import math

import pytest

from geppetto.errors import ToolError
from geppetto.tools.encoding import compact_json, to_json_value


def test_a_null_in_the_value_does_not_change_how_floats_are_written() -> None:
    alone = compact_json({"x": 1e-5})
    assert compact_json({"x": 1e-5, "y": None}) == alone[:-1] + ',"y":null}'
    assert compact_json({"text": "null", "x": 1e-5}) == '{"text":"null",' + alone[1:]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_even_where_orjson_writes_null(bad: float) -> None:
    with pytest.raises(ValueError):
        compact_json({"a": bad})
    with pytest.raises(ToolError, match="not JSON-serializable"):
        to_json_value([bad], "tool t result")


def test_what_orjson_cannot_write_the_stdlib_does() -> None:
    assert compact_json({"n": 2**70}) == '{"n":1180591620717411303424}'
    assert compact_json({"s": "\ud800"}) == '{"s":"\ud800"}'
    assert compact_json({"b": [True, None], "a": "é"}) == '{"a":"é","b":[true,null]}'


def test_plain_results_pass_through_unchanged() -> None:
    for value in ("text", 3, True, None, 2**80):
        assert to_json_value(value) == value
