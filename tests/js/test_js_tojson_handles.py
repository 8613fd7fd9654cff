"""A host object whose prototype defines ``toJSON()`` still crosses the bridge as itself.

``JSON.stringify`` calls ``toJSON()`` before the bridge's replacer sees a value, so without the
bridge's guard such an object (the reference's ``InferenceSettings``, ``TurnWrapper``, ``Schema``
...) would reach Python as its JSON form, or recurse forever when ``toJSON()`` itself calls the host.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from geppetto.js import JSRuntime


class Wrapped:
    __js_class__ = "Wrapped"

    def __init__(self, value: str) -> None:
        self.value = value


@pytest.fixture
def rt() -> Iterator[JSRuntime]:
    runtime = JSRuntime()
    seen: list[Any] = []
    runtime.register_function("make", lambda value: Wrapped(value))
    runtime.register_function("snapshot", lambda obj: {"value": obj.value, "kind": "snapshot"})
    runtime.register_function("identity", lambda obj: obj)
    runtime.register_function("seen", seen.append)
    runtime.define_js_module(
        "wrapped",
        """
        const proto = { toJSON() { return host.call('snapshot', this); } };
        host.setPrototype('Wrapped', proto);
        exports.make = (v) => host.call('make', v);
        exports.identity = (v) => host.call('identity', v);
        exports.seen = (v) => host.call('seen', v);
        """,
    )
    runtime.seen = seen  # type: ignore[attr-defined]
    yield runtime
    runtime.close()


def test_to_json_calls_the_host_and_the_object_round_trips(rt: JSRuntime) -> None:
    result = rt.eval(
        """(() => {
          const w = require('wrapped');
          const a = w.make('x');
          return [JSON.stringify(a), w.identity(a) === a, w.identity([{a}])[0].a === a,
                  JSON.stringify({nested: [a]})];
        })()"""
    )
    assert result == [
        '{"value":"x","kind":"snapshot"}',
        True,
        True,
        '{"nested":[{"value":"x","kind":"snapshot"}]}',
    ]


def test_python_receives_the_object_not_its_json(rt: JSRuntime) -> None:
    rt.eval("(() => { const w = require('wrapped'); w.seen([w.make('y'), {plain: 1}]); })()")
    (value,) = rt.seen  # type: ignore[attr-defined]
    assert isinstance(value[0], Wrapped) and value[0].value == "y" and value[1] == {"plain": 1}


def test_a_js_callback_returning_the_object_hands_back_the_object(rt: JSRuntime) -> None:
    fn = rt.eval("(() => { const w = require('wrapped'); const a = w.make('z'); return () => a; })()")
    assert isinstance(fn(), Wrapped)
