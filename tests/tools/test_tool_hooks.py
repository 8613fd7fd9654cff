"""Tool hooks: every action of the three hooks, fail-closed / fail-open, junk returns, payloads."""

from __future__ import annotations

from typing import Any

import pytest

from geppetto.engines.base import RunContext
from geppetto.errors import ConfigError
from geppetto.tools import (
    AfterToolCallDecision,
    AfterToolCallPayload,
    BeforeToolCallDecision,
    BeforeToolCallPayload,
    ToolCall,
    ToolConfig,
    ToolDefinition,
    ToolErrorDecision,
    ToolErrorPayload,
    ToolExecutor,
    ToolHooks,
    ToolRegistry,
    tool,
)


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds * 1000, 6))


@tool
def echo(text: str = "") -> dict[str, Any]:
    return {"text": text}


@tool
def upper(text: str = "") -> str:
    return text.upper()


def always_failing() -> tuple[ToolDefinition, list[int]]:
    attempts: list[int] = []

    def run(args: dict[str, Any]) -> None:
        attempts.append(len(attempts))
        raise RuntimeError(f"fail {len(attempts)}")

    return ToolDefinition("fails", run), attempts


def executor(hooks: ToolHooks, config: ToolConfig | None = None, *extra: ToolDefinition) -> ToolExecutor:
    return ToolExecutor(
        ToolRegistry([echo, upper, *extra]), config or ToolConfig(), hooks, sleep=SleepRecorder()
    )


# -- before_tool_call --------------------------------------------------------------------------


async def test_before_hook_returning_none_proceeds_and_sees_the_call() -> None:
    seen: list[BeforeToolCallPayload] = []
    hooks = ToolHooks(before_tool_call=seen.append)
    ctx = RunContext(session_id="s1", inference_id="i1", tags={"team": "a"})
    result = await executor(hooks).execute(ToolCall("c1", "echo", '{"text": "hi"}'), ctx)
    assert result.value == {"text": "hi"}
    (payload,) = seen
    assert (payload.call.id, payload.call.name, payload.call.args) == ("c1", "echo", {"text": "hi"})
    as_dict = payload.to_dict()
    assert as_dict["phase"] == "beforeToolCall"
    assert as_dict["call"] == {"id": "c1", "name": "echo", "args": {"text": "hi"}}
    assert (as_dict["sessionId"], as_dict["inferenceId"], as_dict["tags"]) == ("s1", "i1", {"team": "a"})
    assert isinstance(as_dict["timestampMs"], int)


async def test_a_blocking_sync_hook_does_not_stall_the_event_loop() -> None:
    """A sync hook runs in a worker thread: the loop keeps serving while it waits (an approval
    prompt, say); an async hook runs on the loop itself."""
    import asyncio
    import threading

    released = threading.Event()
    threads: list[int] = []

    def approve(payload: BeforeToolCallPayload) -> None:
        threads.append(threading.get_ident())
        assert released.wait(10), "the loop never got to release the hook"

    async def release_soon() -> None:
        await asyncio.sleep(0)
        released.set()

    async def async_hook(payload: AfterToolCallPayload) -> None:
        threads.append(threading.get_ident())

    hooks = ToolHooks(before_tool_call=approve, after_tool_call=async_hook)
    run = executor(hooks).execute(ToolCall("c1", "echo", '{"text": "ok"}'))
    result, _ = await asyncio.gather(run, release_soon())
    assert result.value == {"text": "ok"}
    assert threads[0] != threading.get_ident() and threads[1] == threading.get_ident()


@pytest.mark.parametrize(
    ("decision", "error"),
    [
        ({"action": "abort"}, "aborted by beforeToolCall"),
        ({"action": "abort", "error": "not today"}, "not today"),
        ({"abort": True, "error": "nope"}, "nope"),
        (BeforeToolCallDecision(action="abort", error="typed"), "typed"),
    ],
)
async def test_before_hook_abort_rejects_the_call_without_running_it(decision: Any, error: str) -> None:
    after: list[Any] = []
    ran: list[Any] = []

    def tracked(args: dict[str, Any]) -> str:
        ran.append(args)
        return "ran"

    hooks = ToolHooks(before_tool_call=lambda payload: decision, after_tool_call=after.append)
    ex = executor(hooks, None, ToolDefinition("tracked", tracked))
    result = await ex.execute(ToolCall("c1", "tracked", {}))
    assert (result.error, result.executed, result.value) == (error, False, None)
    assert ran == [] and after == []  # after hook is not called for calls that never ran


async def test_before_hook_mutates_name_and_args() -> None:
    async def rewrite(payload: BeforeToolCallPayload) -> dict[str, Any]:
        return {
            "call": {"name": "upper"},
            "args": {"text": "ignored"},
            "arguments": {"text": payload.call.args["text"]},
        }

    result = await executor(ToolHooks(before_tool_call=rewrite)).execute(
        ToolCall("c1", "echo", {"text": "abc"})
    )
    assert (result.name, result.value) == ("upper", "ABC")  # "arguments" wins over "args"


async def test_before_hook_mutation_through_a_typed_decision_and_raw_json() -> None:
    hooks = ToolHooks(before_tool_call=lambda p: BeforeToolCallDecision(id="new-id", args='{"text": "raw"}'))
    result = await executor(hooks).execute(ToolCall("c1", "echo", {}))
    assert (result.id, result.value) == ("new-id", {"text": "raw"})


async def test_after_hook_sees_the_call_as_executed_after_mutation() -> None:
    seen: list[AfterToolCallPayload] = []
    hooks = ToolHooks(
        before_tool_call=lambda p: {"name": "upper", "args": {"text": "x"}},
        after_tool_call=seen.append,
    )
    await executor(hooks).execute(ToolCall("c1", "echo", {"text": "orig"}))
    (payload,) = seen
    assert (payload.call.name, payload.call.args, payload.value, payload.error) == (
        "upper",
        {"text": "x"},
        "X",
        "",
    )
    assert payload.to_dict()["result"] == {"value": "X", "error": "", "durationMs": payload.duration_ms}


# -- after_tool_call ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision", "value", "error"),
    [
        (None, {"text": "a"}, ""),
        ({"result": {"replaced": True}}, {"replaced": True}, ""),
        ({"error": "vetoed"}, {"text": "a"}, "vetoed"),
        ({"action": "abort"}, {"text": "a"}, "aborted by afterToolCall"),
        ({"abort": True, "error": "stop it"}, {"text": "a"}, "stop it"),
        (AfterToolCallDecision(result=None), None, ""),
    ],
)
async def test_after_hook_actions(decision: Any, value: Any, error: str) -> None:
    result = await executor(ToolHooks(after_tool_call=lambda p: decision)).execute(
        ToolCall("c", "echo", {"text": "a"})
    )
    assert (result.value, result.error) == (value, error)


async def test_after_hook_can_clear_an_error() -> None:
    failing, _ = always_failing()
    hooks = ToolHooks(after_tool_call=lambda p: {"error": "", "result": {"fallback": p.error}})
    result = await executor(hooks, None, failing).execute(ToolCall("c", "fails"))
    assert (result.value, result.error) == ({"fallback": "fail 1"}, "")


async def test_after_hook_is_not_called_for_unknown_or_disallowed_tools() -> None:
    after: list[Any] = []
    hooks = ToolHooks(after_tool_call=after.append)
    ex = executor(hooks, ToolConfig(allowed_tools=["echo"]))
    results = await ex.execute_all([ToolCall("a", "missing"), ToolCall("b", "upper"), ToolCall("c", "echo")])
    assert [r.error for r in results] == ["tool not found: missing", "tool not allowed: upper", ""]
    assert [p.call.id for p in after] == ["c"]


# -- on_tool_error -----------------------------------------------------------------------------


async def test_on_tool_error_retry_overrides_continue_mode_and_is_bounded_by_max_hook_retries() -> None:
    failing, attempts = always_failing()
    payloads: list[ToolErrorPayload] = []

    def retry(payload: ToolErrorPayload) -> dict[str, Any]:
        payloads.append(payload)
        return {"retry": True, "backoffMs": 2}

    hooks = ToolHooks(on_tool_error=retry, max_hook_retries=4)
    ex = executor(hooks, ToolConfig(tool_error_handling="continue", retry_max_retries=1), failing)
    result = await ex.execute(ToolCall("c", "fails"))
    assert len(attempts) == 5  # attempts 0..3 asked the hook; attempt 4 hit the limit
    assert (result.error, result.retries) == ("fail 5", 4)
    assert [p.attempt for p in payloads] == [0, 1, 2, 3]
    assert payloads[0].default_retry is False
    assert ex._sleep.waits == [2, 2, 2, 2]  # type: ignore[attr-defined]
    first = payloads[0].to_dict()
    assert (first["phase"], first["error"], first["attempt"], first["defaultRetry"]) == (
        "onToolError",
        "fail 1",
        0,
        False,
    )


@pytest.mark.parametrize(
    "decision",
    [
        {"action": "abort"},
        {"action": "continue"},
        {"abort": True},
        {"retry": False},
        ToolErrorDecision("continue"),
    ],
)
async def test_on_tool_error_stop_decisions(decision: Any) -> None:
    failing, attempts = always_failing()
    hooks = ToolHooks(on_tool_error=lambda p: decision)
    ex = executor(hooks, ToolConfig(tool_error_handling="retry", retry_max_retries=5), failing)
    result = await ex.execute(ToolCall("c", "fails"))
    assert (len(attempts), result.error) == (1, "fail 1")


async def test_on_tool_error_none_keeps_the_default_decision_and_backoff() -> None:
    failing, attempts = always_failing()
    seen: list[ToolErrorPayload] = []
    hooks = ToolHooks(on_tool_error=seen.append)
    config = ToolConfig(
        tool_error_handling="retry", retry_max_retries=2, retry_backoff_ms=5, retry_backoff_factor=2
    )
    ex = executor(hooks, config, failing)
    await ex.execute(ToolCall("c", "fails"))
    assert len(attempts) == 3
    assert [(p.default_retry, p.default_backoff_ms) for p in seen] == [(True, 5), (True, 10), (False, 20)]
    assert ex._sleep.waits == [5, 10]  # type: ignore[attr-defined]


async def test_on_tool_error_retry_without_backoff_uses_default_and_negative_means_zero() -> None:
    failing, _ = always_failing()
    decisions = iter([{"action": "retry"}, {"action": "retry", "backoffMs": -3}, None])
    hooks = ToolHooks(on_tool_error=lambda p: next(decisions))
    ex = executor(hooks, ToolConfig(retry_backoff_ms=7, retry_backoff_factor=1), failing)
    result = await ex.execute(ToolCall("c", "fails"))
    assert result.retries == 2
    assert ex._sleep.waits == [7]  # type: ignore[attr-defined]  (0 ms backoff does not sleep)


# -- fail policy and junk ----------------------------------------------------------------------


def boom(payload: Any) -> Any:
    raise ValueError("hook exploded")


def returning(value: Any) -> Any:
    return lambda payload: value


JUNK: list[Any] = ["abort", 42, ["x"], {"action": "explode"}, {"error": 5}, {"abort": "yes"}, {"call": "x"}]


@pytest.mark.parametrize("hook", [boom, *[returning(j) for j in JUNK]])
async def test_before_hook_failures_fail_closed_by_default(hook: Any) -> None:
    result = await executor(ToolHooks(before_tool_call=hook)).execute(ToolCall("c", "echo", {"text": "a"}))
    assert result.error.startswith("beforeToolCall hook: ")
    assert not result.executed


@pytest.mark.parametrize("hook", [boom, *[returning(j) for j in JUNK]])
async def test_before_hook_failures_are_ignored_fail_open(
    hook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    result = await executor(ToolHooks(before_tool_call=hook, fail_open=True)).execute(
        ToolCall("c", "echo", {"text": "a"})
    )
    assert (result.value, result.error) == ({"text": "a"}, "")
    assert "beforeToolCall hook failed" in caplog.text


@pytest.mark.parametrize("hook", [boom, lambda p: 3.5, lambda p: {"result": object()}])
async def test_after_hook_failures(hook: Any) -> None:
    closed = await executor(ToolHooks(after_tool_call=hook)).execute(ToolCall("c", "echo", {"text": "a"}))
    assert closed.error.startswith("afterToolCall hook: ")
    assert closed.value == {"text": "a"}  # the tool's value is kept next to the hook error
    opened = await executor(ToolHooks(after_tool_call=hook, hook_error_policy="open")).execute(
        ToolCall("c", "echo", {"text": "a"})
    )
    assert (opened.value, opened.error) == ({"text": "a"}, "")


@pytest.mark.parametrize("hook", [boom, lambda p: "retry", lambda p: {"backoffMs": "soon"}])
async def test_on_tool_error_failures(hook: Any) -> None:
    failing, attempts = always_failing()
    config = ToolConfig(tool_error_handling="retry", retry_max_retries=2, retry_backoff_ms=1)
    closed = await executor(ToolHooks(on_tool_error=hook), config, failing).execute(ToolCall("c", "fails"))
    assert len(attempts) == 1  # fail-closed: stop retrying
    assert closed.error.startswith("fail 1; onToolError hook: ")
    attempts.clear()
    opened = await executor(ToolHooks(on_tool_error=hook, fail_open=True), config, failing).execute(
        ToolCall("c", "fails")
    )
    assert (len(attempts), opened.error) == (3, "fail 3")  # fail-open: default decision


async def test_async_hooks_are_awaited() -> None:
    async def before(payload: BeforeToolCallPayload) -> dict[str, Any]:
        return {"args": {"text": "from async"}}

    async def after(payload: AfterToolCallPayload) -> dict[str, Any]:
        return {"result": [payload.value]}

    result = await executor(ToolHooks(before_tool_call=before, after_tool_call=after)).execute(
        ToolCall("c", "echo")
    )
    assert result.value == [{"text": "from async"}]


def test_fail_policy_resolution_and_reference_option_names() -> None:
    assert ToolHooks().fails_open is False
    assert ToolHooks(hook_error_policy=" Fail-Open ").fails_open is True
    assert ToolHooks(hook_error_policy="open", fail_open=False).fails_open is False
    assert ToolHooks(hook_error_policy="closed", fail_open=True).fails_open is True
    assert ToolHooks(hook_error_policy="whatever").fails_open is False
    hooks = ToolHooks.from_dict({"beforeToolCall": print, "onHookError": "open", "maxHookRetries": 3})
    assert (hooks.before_tool_call, hooks.fails_open, hooks.max_hook_retries) == (print, True, 3)
    assert ToolHooks(max_hook_retries=0).max_hook_retries == 10
    assert ToolHooks().is_empty
    with pytest.raises(ConfigError, match="must be callable"):
        ToolHooks(before_tool_call="nope")  # type: ignore[arg-type]


def test_decisions_round_trip_as_plain_dicts() -> None:
    before = BeforeToolCallDecision.parse(
        {"action": "abort", "error": "x", "call": {"id": "n", "args": {"a": 1}}}
    )
    assert before.to_dict() == {"action": "abort", "error": "x", "id": "n", "args": {"a": 1}}
    assert BeforeToolCallDecision.parse(before.to_dict()) == before
    after = AfterToolCallDecision.parse({"result": None, "error": ""})
    assert after.to_dict() == {"action": "proceed", "error": "", "result": None}
    retry = ToolErrorDecision.parse({"retry": True, "backoff_ms": 4})
    assert (retry.action, retry.backoff_ms) == ("retry", 4.0)
    assert ToolErrorDecision.parse(retry.to_dict()) == retry
