"""Values crossing the JS boundary: JSON envelopes keep ints, nesting and JS/Python edge values."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from geppetto.js import JSRuntime


def test_big_ints_survive_both_ways(rt: JSRuntime) -> None:
    seen: list[Any] = []
    rt.set_global("echo", lambda v: seen.append(v) or v)
    values = [2**31, 2**40, 2**53, -(2**53), -(2**31) - 1]
    assert rt.eval(f"[{', '.join(map(str, values))}].map((v) => echo(v))") == values
    assert seen == values
    assert rt.eval("echo(2**40) === 2**40 && typeof echo(2**53) === 'number'") is True
    rt.set_global("big", 2**53)
    assert rt.eval("big === 9007199254740992") is True


def test_nested_data_round_trip(rt: JSRuntime) -> None:
    data = {
        "text": 'héllo ✓ "quoted" \n newline',
        "list": [1, 2.5, None, True, False, {"deep": [[{"x": "y"}]]}],
        "empty": {},
        "nums": [0, -1, 1e300],
    }
    rt.set_global("data", data)
    rt.set_global("identity", lambda v: v)
    assert rt.eval("data") == data
    assert rt.eval("identity(data)") == data
    assert rt.eval("JSON.stringify(identity(data)) === JSON.stringify(data)") is True
    assert rt.eval("data.list[5].deep[0][0].x") == "y"


def test_python_containers_map_to_json(rt: JSRuntime) -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    rt.set_global("make", lambda: {"tuple": (1, 2), "set": {3}, "point": Point(1, 2), 7: "int key"})
    assert rt.eval("make()") == {"tuple": [1, 2], "set": [3], "point": {"x": 1, "y": 2}, "7": "int key"}
    assert rt.eval("Array.isArray(make().tuple)") is True


def test_undefined_and_none(rt: JSRuntime) -> None:
    rt.set_global("nothing", lambda *args: None)
    rt.set_global("count", lambda *args: [len(args), list(args)])
    assert rt.eval("typeof nothing()") == "undefined"
    assert rt.eval("count(undefined, null, 1)") == [3, [None, None, 1]]
    assert rt.eval("count({a: undefined, b: 1})") == [1, [{"b": 1}]]
    assert rt.eval("undefined") is None


def test_non_json_js_values_raise_catchable_errors(rt: JSRuntime) -> None:
    rt.set_global("take", lambda v: "took")
    result = rt.eval(
        """
        const out = [];
        const cyclic = {}; cyclic.self = cyclic;
        for (const bad of [cyclic, 10n]) {
          try { take(bad); out.push('no error'); } catch (e) { out.push(e instanceof TypeError); }
        }
        out.push(take({ok: true}));
        out
        """
    )
    assert result == [True, True, "took"]


def test_unencodable_python_value_is_a_js_type_error(rt: JSRuntime) -> None:
    rt.set_global("opaque", lambda: object())
    result = rt.eval("try { opaque(); 'no error' } catch (e) { [e.name, e.message, e.code] }")
    assert result[0] == "TypeError"
    assert "cannot pass a object to JS" in result[1]
    assert result[2] == "type_error"


def test_large_concatenated_strings_cross(rt: JSRuntime) -> None:
    # quickjs-ng builds ropes for big concatenations; the binding cannot convert those, JSON can.
    rt.set_global("length", len)
    assert rt.eval("const big = 'x'.repeat(5000); length(big + big + 'y')") == 10001
    assert rt.eval("const s = 'ab'.repeat(4000); s + s") == "ab" * 8000
    cb = rt.eval("(a) => a + a + a")
    assert cb("z" * 6000) == "z" * 18000


@pytest.mark.parametrize("blocks", [0, 1, 1000])
def test_turn_shaped_payload_round_trips(rt: JSRuntime, blocks: int) -> None:
    turn = {
        "id": "t1",
        "blocks": [
            {
                "id": f"b{i}",
                "kind": "user",
                "role": "user",
                "payload": {"text": f"hello {i}"},
                "metadata": {"i": i},
            }
            for i in range(blocks)
        ],
        "metadata": {"usage": {"input_tokens": 2**40}},
    }
    fn = rt.eval("(turn) => { turn.blocks.push({id: 'new', kind: 'llm_text'}); return turn }")
    out = fn(turn)
    assert out["blocks"][:blocks] == turn["blocks"]
    assert out["blocks"][-1] == {"id": "new", "kind": "llm_text"}
    assert out["metadata"]["usage"]["input_tokens"] == 2**40
