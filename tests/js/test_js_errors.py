"""Exceptions across the boundary: catchable JS Errors with .code, JSError in Python, identity kept."""

from __future__ import annotations

import pytest

from geppetto.errors import SessionAlreadyActive, ToolError
from geppetto.js import JSError, JSRuntime


class Refused(Exception):
    js_name = "RangeError"
    code = "refused"


def test_python_exceptions_become_catchable_errors(rt: JSRuntime) -> None:
    def fail(kind: str) -> None:
        if kind == "value":
            raise ValueError("bad value")
        if kind == "type":
            raise TypeError("bad type")
        if kind == "session":
            raise SessionAlreadyActive()
        raise Refused("no")

    rt.set_global("fail", fail)
    result = rt.eval(
        """
        ['value', 'type', 'session', 'refused'].map((kind) => {
          try { fail(kind); return 'no error'; }
          catch (e) { return [e instanceof Error, e.name, e.message, e.code]; }
        })
        """
    )
    assert result == [
        [True, "Error", "bad value", "host_error"],
        [True, "TypeError", "bad type", "type_error"],
        [True, "Error", "session already has an active inference", "session_already_active"],
        [True, "RangeError", "no", "refused"],
    ]


def test_try_catch_keeps_working_after_many_host_errors(rt: JSRuntime) -> None:
    def boom() -> None:
        raise ToolError("tool failed")

    rt.set_global("boom", boom)
    caught = rt.eval("let n = 0; for (let i = 0; i < 500; i++) { try { boom() } catch (e) { n++ } } n")
    assert caught == 500
    assert rt.eval("1 + 1") == 2


def test_host_error_stack_starts_at_the_caller(rt: JSRuntime) -> None:
    def boom() -> None:
        raise ValueError("x")

    rt.set_global("boom", boom)
    stack = rt.eval("function userFrame() { boom() }\ntry { userFrame() } catch (e) { e.stack }")
    assert "userFrame" in stack
    assert "__gp_" not in stack


def test_js_throw_becomes_jserror(rt: JSRuntime) -> None:
    fn = rt.eval("(kind) => { const e = new TypeError('js says no'); e.code = 'E_JS'; throw e; }")
    with pytest.raises(JSError) as info:
        fn("x")
    err = info.value
    assert (err.name, err.message, err.code) == ("TypeError", "js says no", "E_JS")
    assert str(err) == "TypeError: js says no"
    assert "<input>" in err.stack


@pytest.mark.parametrize(
    ("thrown", "message", "value"),
    [("'plain string'", "plain string", "plain string"), ("42", "42", 42), ("({a: 1})", '{"a":1}', {"a": 1})],
)
def test_non_error_throws(rt: JSRuntime, thrown: str, message: str, value: object) -> None:
    fn = rt.eval(f"() => {{ throw {thrown} }}")
    with pytest.raises(JSError) as info:
        fn()
    assert info.value.message == message
    assert info.value.name == ""
    assert info.value.thrown == value


def test_host_exception_keeps_identity_through_js(rt: JSRuntime) -> None:
    original = SessionAlreadyActive()
    rt.set_global("inner", lambda: (_ for _ in ()).throw(original))
    outer = rt.eval("() => inner()")  # JS does not catch: the error passes through unchanged
    with pytest.raises(SessionAlreadyActive) as info:
        outer()
    assert info.value is original


def test_js_error_keeps_identity_through_the_host(rt: JSRuntime) -> None:
    rt.set_global("callIt", lambda cb: cb())
    result = rt.eval(
        """
        const original = new Error('mine');
        try { callIt(() => { throw original }); 'no error' } catch (e) { e === original }
        """
    )
    assert result is True
    result = rt.eval("try { callIt(() => { throw 'str' }) } catch (e) { e === 'str' }")
    assert result is True


def test_errors_thrown_in_nested_callbacks_are_catchable_at_each_level(rt: JSRuntime) -> None:
    rt.set_global("callIt", lambda cb, *args: cb(*args))
    result = rt.eval(
        """
        const log = [];
        try {
          callIt(() => {
            try { callIt(() => { throw new Error('deep') }) }
            catch (e) { log.push('inner:' + e.message); throw new Error('rethrown') }
          });
        } catch (e) { log.push('outer:' + e.message) }
        log
        """
    )
    assert result == ["inner:deep", "outer:rethrown"]
