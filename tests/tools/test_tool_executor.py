"""ToolExecutor: timeout, error-handling modes, retries, parallelism, cancellation, events."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from geppetto.engines.base import RunContext
from geppetto.events import CollectingSink
from geppetto.events.types import ToolCallExecuteEvent, ToolCallExecutionResultEvent
from geppetto.tools import ToolCall, ToolConfig, ToolDefinition, ToolExecutor, ToolRegistry, tool


class SleepRecorder:
    """Stands in for asyncio.sleep so backoffs are observed, not waited for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(round(seconds * 1000, 6))


def flaky(fail_times: int, name: str = "flaky") -> tuple[ToolDefinition, list[int]]:
    calls: list[int] = []

    def run(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(len(calls))
        if len(calls) <= fail_times:
            raise RuntimeError(f"boom {len(calls)}")
        return {"attempts": len(calls), "ok": True}

    return ToolDefinition(name, run), calls


async def settle(task: asyncio.Task[Any]) -> None:
    """Give a cancelled task a few loop turns (no wall clock): prompt cancellation needs no more."""
    for _ in range(10):
        if task.done():
            return
        await asyncio.sleep(0)


def ctx_with_sink() -> tuple[RunContext, CollectingSink]:
    sink = CollectingSink()
    return RunContext(session_id="s", inference_id="i", sink=sink), sink


async def test_continue_mode_records_the_error_and_does_not_retry() -> None:
    definition, calls = flaky(1)
    executor = ToolExecutor(ToolRegistry([definition]), ToolConfig(tool_error_handling="continue"))
    result = await executor.execute(ToolCall("c1", "flaky", {}))
    assert (result.error, result.value, result.retries, result.executed) == ("boom 1", None, 0, True)
    assert len(calls) == 1


async def test_retry_mode_uses_exponential_backoff_until_success() -> None:
    definition, calls = flaky(2)
    sleep = SleepRecorder()
    config = ToolConfig(
        tool_error_handling="retry", retry_max_retries=3, retry_backoff_ms=10, retry_backoff_factor=2
    )
    result = await ToolExecutor(ToolRegistry([definition]), config, sleep=sleep).execute(
        ToolCall("c1", "flaky", {})
    )
    assert result.error == "" and result.value == {"attempts": 3, "ok": True} and result.retries == 2
    assert result.result_json() == '{"attempts":3,"ok":true}'
    assert sleep.waits == [10, 20]
    assert len(calls) == 3


async def test_retry_mode_gives_up_after_max_retries() -> None:
    definition, _ = flaky(10)
    sleep = SleepRecorder()
    config = ToolConfig(
        tool_error_handling="retry", retry_max_retries=2, retry_backoff_ms=1, retry_backoff_factor=3
    )
    result = await ToolExecutor(ToolRegistry([definition]), config, sleep=sleep).execute(
        ToolCall("c1", "flaky", {})
    )
    assert result.error == "boom 3" and result.retries == 2
    assert sleep.waits == [1, 3]


async def test_retry_mode_does_not_retry_bad_arguments() -> None:
    @tool
    def needs(n: int) -> int:
        return n

    sleep = SleepRecorder()
    config = ToolConfig(tool_error_handling="retry", retry_backoff_ms=1)
    result = await ToolExecutor(ToolRegistry([needs]), config, sleep=sleep).execute(
        ToolCall("c", "needs", {})
    )
    assert result.error.startswith("invalid arguments for tool needs: n: Field required")
    assert sleep.waits == []


async def test_execution_timeout_is_enforced_for_async_and_sync_tools() -> None:
    release = threading.Event()

    @tool
    async def hangs() -> None:
        await asyncio.sleep(60)

    @tool
    def blocks() -> str:
        release.wait(5)
        return "late"

    executor = ToolExecutor(ToolRegistry([hangs, blocks]), ToolConfig(execution_timeout_ms=20))
    try:
        results = await executor.execute_all([ToolCall("a", "hangs"), ToolCall("b", "blocks")])
    finally:
        release.set()
    assert [r.error for r in results] == [
        "tool hangs timed out after 20ms",
        "tool blocks timed out after 20ms",
    ]


async def test_timeouts_are_retried_in_retry_mode() -> None:
    attempts: list[int] = []

    @tool
    async def slow_then_fast() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(60)
        return "fast"

    config = ToolConfig(execution_timeout_ms=20, tool_error_handling="retry", retry_backoff_ms=1)
    result = await ToolExecutor(ToolRegistry([slow_then_fast]), config).execute(
        ToolCall("c", "slow_then_fast")
    )
    assert (result.value, result.error, result.retries) == ("fast", "", 1)


async def test_parallel_results_keep_call_order_and_respect_the_cap() -> None:
    running = 0
    peak = 0

    @tool
    async def work(n: int, delay_ms: float) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(delay_ms / 1000)
        running -= 1
        return n * 10

    calls = [
        ToolCall(f"c{n}", "work", {"n": n, "delay_ms": delay}) for n, delay in enumerate([8, 1, 5, 0, 3])
    ]
    executor = ToolExecutor(ToolRegistry([work]), ToolConfig(max_parallel_tools=2))
    results = await executor.execute_all(calls)
    assert [r.id for r in results] == ["c0", "c1", "c2", "c3", "c4"]
    assert [r.value for r in results] == [0, 10, 20, 30, 40]
    assert peak == 2


async def test_sync_tools_do_not_block_the_event_loop() -> None:
    loop_ran = threading.Event()

    @tool
    def waits_for_loop() -> bool:
        return loop_ran.wait(5)

    async def mark() -> None:
        loop_ran.set()

    executor = ToolExecutor(ToolRegistry([waits_for_loop]))
    result, _ = await asyncio.gather(executor.execute(ToolCall("c", "waits_for_loop")), mark())
    assert result.value is True


@pytest.mark.parametrize("parallel", [1, 3])
async def test_abort_mode_stops_the_batch(parallel: int) -> None:
    started: list[str] = []

    @tool
    async def step(name: str, fail: bool = False, delay_ms: float = 0) -> str:
        started.append(name)
        await asyncio.sleep(delay_ms / 1000)
        if fail:
            raise ValueError(f"{name} failed")
        return name

    calls = [
        ToolCall("a", "step", {"name": "a"}),
        ToolCall("b", "step", {"name": "b", "fail": True}),
        ToolCall("c", "step", {"name": "c", "delay_ms": 5000}),
    ]
    config = ToolConfig(tool_error_handling="abort", max_parallel_tools=parallel)
    results = await asyncio.wait_for(ToolExecutor(ToolRegistry([step]), config).execute_all(calls), 5)
    assert [r.error for r in results] == [
        "",
        "b failed",
        "not executed: tool execution aborted due to error in step",
    ]
    assert results[2].skipped and not results[1].skipped


async def test_cancellation_during_a_tool_is_prompt_and_keeps_finished_results() -> None:
    entered = asyncio.Event()

    @tool
    async def quick() -> str:
        return "done"

    @tool
    async def forever() -> None:
        entered.set()
        await asyncio.sleep(3600)

    slots: list[Any] = [None, None]
    executor = ToolExecutor(ToolRegistry([quick, forever]), ToolConfig(max_parallel_tools=1))
    ctx, sink = ctx_with_sink()
    task = asyncio.create_task(
        executor.execute_all([ToolCall("q", "quick"), ToolCall("f", "forever")], ctx, slots)
    )
    await entered.wait()
    task.cancel()
    await settle(task)
    assert task.cancelled()
    assert slots[0].value == "done" and slots[1] is None
    result_events = [e for e in sink.events if isinstance(e, ToolCallExecutionResultEvent)]
    assert [e.tool_result.result for e in result_events] == ['"done"', "Error: tool execution cancelled"]


async def test_cancellation_during_backoff_is_prompt() -> None:
    failed = asyncio.Event()
    attempts: list[int] = []

    async def fails(args: dict[str, Any]) -> None:
        attempts.append(1)
        failed.set()
        raise RuntimeError("down")

    config = ToolConfig(tool_error_handling="retry", retry_backoff_ms=60_000)
    executor = ToolExecutor(ToolRegistry([ToolDefinition("fails", fails)]), config)
    task = asyncio.create_task(executor.execute(ToolCall("c", "fails")))
    await failed.wait()
    await asyncio.sleep(0.01)  # now inside the minute-long backoff
    task.cancel()
    await settle(task)
    assert task.cancelled()
    assert attempts == [1]


async def test_lookup_and_allow_list_errors() -> None:
    executor = ToolExecutor(ToolRegistry([flaky(0)[0]]), ToolConfig(allowed_tools=["other"]))
    results = await executor.execute_all([ToolCall("a", "missing"), ToolCall("b", "flaky")])
    assert [(r.error, r.executed) for r in results] == [
        ("tool not found: missing", False),
        ("tool not allowed: flaky", False),
    ]


async def test_non_json_results_and_junk_arguments_become_errors() -> None:
    @tool
    def returns_object() -> object:
        return object()

    @tool
    def takes(n: int = 0) -> int:
        return n

    executor = ToolExecutor(ToolRegistry([returns_object, takes]))
    results = await executor.execute_all(
        [
            ToolCall("a", "returns_object"),
            ToolCall("b", "takes", "{not json"),
            ToolCall("c", "takes", [1, 2]),
            ToolCall("d", "takes", ""),
        ]
    )
    assert results[0].error.startswith("tool returns_object result is not JSON-serializable")
    assert results[1].error.startswith("invalid arguments for tool takes: invalid JSON arguments")
    assert results[2].error == "invalid arguments for tool takes: arguments must be a JSON object, got array"
    assert (results[3].error, results[3].value) == ("", 0)


async def test_every_call_publishes_one_execute_and_one_result_event() -> None:
    definition, _ = flaky(1)
    ctx, sink = ctx_with_sink()
    executor = ToolExecutor(ToolRegistry([definition]), ToolConfig(max_parallel_tools=1))
    await executor.execute_all(
        [ToolCall("x", "flaky", {"k": 1}), ToolCall("y", "flaky"), ToolCall("z", "nope")], ctx
    )
    execute = [e for e in sink.events if isinstance(e, ToolCallExecuteEvent)]
    results = [e for e in sink.events if isinstance(e, ToolCallExecutionResultEvent)]
    assert [(e.tool_call.id, e.tool_call.input) for e in execute] == [
        ("x", '{"k":1}'),
        ("y", "{}"),
        ("z", "{}"),
    ]
    assert [e.tool_result.result for e in results] == [
        "Error: boom 1",
        '{"attempts":2,"ok":true}',
        "Error: tool not found: nope",
    ]
    assert all(e.meta.session_id == "s" and e.meta.inference_id == "i" for e in execute + results)


async def test_tools_can_ask_which_call_they_run_for() -> None:
    from geppetto.tools import current_tool_call

    seen: list[Any] = []

    def sync_tool(args: dict[str, Any]) -> int:
        seen.append(current_tool_call())
        return 1

    async def async_tool(args: dict[str, Any]) -> int:
        seen.append(current_tool_call())
        return 2

    registry = ToolRegistry([ToolDefinition("sync", sync_tool), ToolDefinition("async", async_tool)])
    executor = ToolExecutor(registry, ToolConfig(execution_timeout_ms=5_000))
    results = await executor.execute_all([ToolCall("c1", "sync", {}), ToolCall("c2", "async", {})])
    assert [r.value for r in results] == [1, 2]
    assert [(s.call_id, s.name) for s in seen] == [("c1", "sync"), ("c2", "async")]
    assert all(s.deadline_ms is not None for s in seen)
    assert current_tool_call() is None  # the scope ends with the call

    untimed = ToolExecutor(registry, ToolConfig(execution_timeout_ms=None))
    await untimed.execute(ToolCall("c3", "async", {}))
    assert seen[-1].call_id == "c3" and seen[-1].deadline_ms is None
