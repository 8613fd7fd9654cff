"""``ToolExecutor``: runs tool calls with hooks, allow-list, timeout, retries and parallelism.

Per call: ``before_tool_call`` -> lookup (``tool not found: X``) -> allow-list (``tool not
allowed: X``) -> attempts, each under the execution timeout (enforced, unlike the reference) ->
after a failure the retry decision (``on_tool_error`` hook or the configured default) and its
backoff -> ``after_tool_call`` -> result. Nothing a tool or hook does escapes as an exception:
every failure becomes the result's ``error``. Only cancellation propagates, promptly, also from
inside a tool or a backoff.

Each call publishes exactly one ``tool-call-execute`` event (the call as it will run, i.e. after
the before hook) and one ``tool-call-execution-result`` event (result JSON or ``Error: ...``),
both correlated with the run and the call id; the result carries the tool name and ``status``
``success`` or ``error``, which the reference view renders as ``tool-result-ready`` plus
``tool-call-finished``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from geppetto.engines.base import RunContext
from geppetto.events.correlation import Correlation, tool_correlation
from geppetto.events.types import (
    EventMetadata,
    ToolCallExecuteEvent,
    ToolCallExecutionResultEvent,
    ToolCallInfo,
    ToolResultInfo,
)
from geppetto.tools.call import ToolCall, ToolResult
from geppetto.tools.config import ToolConfig
from geppetto.tools.definition import ToolDefinition
from geppetto.tools.encoding import decode_arguments, to_json_value
from geppetto.tools.errors import ToolArgumentsError, ToolTimeoutError
from geppetto.tools.hooks import (
    UNSET,
    AfterToolCallDecision,
    AfterToolCallPayload,
    BeforeToolCallDecision,
    BeforeToolCallPayload,
    ToolErrorDecision,
    ToolErrorPayload,
    ToolHooks,
    call_hook,
)
from geppetto.tools.registry import ToolRegistry
from geppetto.tools.scope import _CURRENT as _CURRENT_CALL
from geppetto.tools.scope import ToolCallScope
from geppetto.tools.watchdog import watchdog
from geppetto.turns.jsonvalue import copy_json

log = logging.getLogger("geppetto.tools")

CANCELLED_MESSAGE = "tool execution cancelled"
_INVOKE = ToolDefinition.invoke


class ToolExecutor:
    """Executes calls against ``registry`` with ``config`` and optional ``hooks``."""

    __slots__ = ("_sleep", "config", "hooks", "registry")

    def __init__(
        self,
        registry: ToolRegistry,
        config: ToolConfig | None = None,
        hooks: ToolHooks | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        self.registry = registry
        self.config = (config or ToolConfig()).validate()
        self.hooks = hooks if hooks is not None and not hooks.is_empty else None
        self._sleep = sleep or asyncio.sleep  # injectable so tests can observe backoffs

    # -- batches ---------------------------------------------------------------------------

    async def execute_all(
        self,
        calls: Sequence[ToolCall],
        ctx: RunContext | None = None,
        results: list[ToolResult | None] | None = None,
    ) -> list[ToolResult]:
        """Run ``calls`` (up to ``max_parallel_tools`` at once); results are in call order.

        ``results`` (one slot per call) is filled as calls finish, so a caller that is
        cancelled can still see which calls completed. In ``abort`` mode the first failure
        stops the batch: calls not run (or cut short) get ``not executed: tool execution
        aborted due to error in <name>`` and ``skipped`` set.
        """
        ctx = ctx if ctx is not None else RunContext()
        slots: list[ToolResult | None] = results if results is not None else [None] * len(calls)
        abort = self.config.tool_error_handling == "abort"
        if self.config.max_parallel_tools <= 1 or len(calls) <= 1:
            for index, call in enumerate(calls):
                result = slots[index] = await self._execute_one(call, ctx)
                if abort and result.error:
                    break
        else:
            await self._parallel(calls, ctx, slots, abort)
        return _fill_skipped(calls, slots)

    async def _parallel(
        self, calls: Sequence[ToolCall], ctx: RunContext, slots: list[ToolResult | None], abort: bool
    ) -> None:
        semaphore = asyncio.Semaphore(self.config.max_parallel_tools)
        tasks: list[asyncio.Task[None]] = []
        stopped = False

        async def run_one(index: int, call: ToolCall) -> None:
            nonlocal stopped
            async with semaphore:
                if stopped:
                    return
                result = slots[index] = await self._execute_one(call, ctx)
                if abort and result.error and not stopped:
                    stopped = True
                    current = asyncio.current_task()
                    for task in tasks:
                        if task is not current:
                            task.cancel()

        tasks.extend(asyncio.create_task(run_one(i, call)) for i, call in enumerate(calls))
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    # -- one call --------------------------------------------------------------------------

    def _execute_one(self, call: ToolCall, ctx: RunContext) -> Awaitable[ToolResult]:
        """:meth:`execute` for a batch: with no sink and no before hook, its ``_run`` itself (a
        frame less at each of the tool's suspensions)."""
        if ctx.sink is None and (self.hooks is None or self.hooks.before_tool_call is None):
            started = time.monotonic()
            return self._run(ToolCall(call.id, call.name, call.args), ctx, "", started)
        return self.execute(call, ctx)

    async def execute(self, call: ToolCall, ctx: RunContext | None = None) -> ToolResult:
        """Run one call through hooks, lookup, allow-list, attempts and retries; never raises
        except on cancellation."""
        ctx = ctx if ctx is not None else RunContext()
        started = time.monotonic()
        call = ToolCall(call.id, call.name, call.args)
        error = ""
        if self.hooks is not None and self.hooks.before_tool_call is not None:
            call, error = await self._before(call, ctx)
        if ctx.sink is None:  # nobody listens: no event objects to build
            return await self._run(call, ctx, error, started)
        meta = ctx.event_metadata()
        corr = tool_correlation(ctx.run_correlation(), call.id)
        info = ToolCallInfo(call.id, call.name, call.arguments_json())
        ctx.publish(ToolCallExecuteEvent(meta, info, corr=corr))
        try:
            result = await self._run(call, ctx, error, started)
        except asyncio.CancelledError:
            cancelled = ToolResultInfo(call.id, f"Error: {CANCELLED_MESSAGE}", call.name, "error")
            ctx.publish(ToolCallExecutionResultEvent(meta, cancelled, corr=corr))
            raise
        _publish_result(ctx, meta, corr, result)
        return result

    async def _run(self, call: ToolCall, ctx: RunContext, error: str, started: float) -> ToolResult:
        if error:
            return ToolResult(call.id, call.name, error=error, duration_ms=_since(started))
        try:
            definition = self.registry.get(call.name)
        except Exception as exc:
            return ToolResult(call.id, call.name, error=_message(exc), duration_ms=_since(started))
        if not self.config.is_allowed(call.name):
            return ToolResult(
                call.id, call.name, error=f"tool not allowed: {call.name}", duration_ms=_since(started)
            )
        # The attempts run in this frame, and the tool's awaitable is awaited directly: every
        # frame between the task and the tool is paid again at each of the tool's suspensions.
        attempt = 0
        while True:
            try:
                value = to_json_value(await self._attempt(definition, call, ctx), f"tool {call.name} result")
                error = ""
                break
            except Exception as exc:
                error = _message(exc)
                retry, backoff_ms, error = await self._should_retry(call, attempt, exc, error, ctx)
                if not retry:
                    value = None
                    break
            if backoff_ms > 0:
                await self._sleep(backoff_ms / 1000)
            attempt += 1
        result = ToolResult(call.id, call.name, value, error, _since(started), attempt, executed=True)
        if self.hooks is not None and self.hooks.after_tool_call is not None:
            await self._after(call, result, ctx)
        return result

    async def _attempt(self, definition: ToolDefinition, call: ToolCall, ctx: RunContext) -> Any:
        """One attempt: the arguments checked, then the tool under the execution timeout and the
        call's scope, its awaitable awaited here directly."""
        args, problem = decode_arguments(call.args)
        if problem:
            raise ToolArgumentsError(f"invalid arguments for tool {call.name}: {problem}")
        timeout = self.config.execution_timeout
        deadline_ms = None if timeout is None else int((time.time() + timeout) * 1000)
        token = _CURRENT_CALL.set(ToolCallScope(call.id, call.name, deadline_ms))
        try:
            if type(definition).invoke is _INVOKE:
                step = definition._start(args, ctx)
                if not definition._is_async:
                    step = _then_awaited(step)
            else:  # a subclass that runs its tool its own way
                step = definition.invoke(args, ctx)
            if timeout is None:
                return await step
            task = asyncio.current_task()
            assert task is not None
            deadline = watchdog().watch(task, timeout)
            try:
                return await step
            except asyncio.CancelledError:
                if deadline.expired():
                    ms = _format_ms(self.config.execution_timeout_ms)
                    raise ToolTimeoutError(f"tool {call.name} timed out after {ms}ms") from None
                raise
            finally:
                deadline.forget()
        finally:
            _CURRENT_CALL.reset(token)

    async def _should_retry(
        self, call: ToolCall, attempt: int, exc: Exception, error: str, ctx: RunContext
    ) -> tuple[bool, float, str]:
        config = self.config
        default_retry = (
            config.tool_error_handling == "retry"
            and attempt < config.retry_max_retries
            and not isinstance(exc, ToolArgumentsError)
        )
        default_backoff = config.backoff_ms(attempt)
        hooks = self.hooks
        if hooks is None or hooks.on_tool_error is None:
            return default_retry, default_backoff, error
        if attempt >= hooks.max_hook_retries:
            return False, 0.0, error
        payload = ToolErrorPayload(
            call=_snapshot(call),
            timestamp_ms=_now_ms(),
            session_id=ctx.session_id,
            inference_id=ctx.inference_id,
            tags=dict(ctx.tags),
            attempt=attempt,
            error=error,
            default_retry=default_retry,
            default_backoff_ms=default_backoff,
        )
        try:
            decision = ToolErrorDecision.parse(await call_hook(hooks.on_tool_error, payload))
        except Exception as hook_exc:
            if not hooks.fails_open:
                return False, 0.0, f"{error}; onToolError hook: {_message(hook_exc)}"
            log.warning("onToolError hook failed (ignored, fail-open): %s", hook_exc)
            decision = ToolErrorDecision()
        if decision.action == "default":
            return default_retry, default_backoff, error
        if decision.action == "retry":
            return True, default_backoff if decision.backoff_ms is None else decision.backoff_ms, error
        return False, 0.0, error

    async def _before(self, call: ToolCall, ctx: RunContext) -> tuple[ToolCall, str]:
        assert self.hooks is not None and self.hooks.before_tool_call is not None
        payload = BeforeToolCallPayload(
            call=_snapshot(call),
            timestamp_ms=_now_ms(),
            session_id=ctx.session_id,
            inference_id=ctx.inference_id,
            tags=dict(ctx.tags),
        )
        try:
            decision = BeforeToolCallDecision.parse(await call_hook(self.hooks.before_tool_call, payload))
            args = call.args
            if decision.args is not UNSET:
                args = (
                    decision.args if isinstance(decision.args, str) else to_json_value(decision.args, "args")
                )
        except Exception as exc:
            if not self.hooks.fails_open:
                return call, f"beforeToolCall hook: {_message(exc)}"
            log.warning("beforeToolCall hook failed (ignored, fail-open): %s", exc)
            return call, ""
        if decision.action == "abort":
            return call, decision.error or "aborted by beforeToolCall"
        return ToolCall(decision.id or call.id, decision.name or call.name, args), ""

    async def _after(self, call: ToolCall, result: ToolResult, ctx: RunContext) -> None:
        assert self.hooks is not None and self.hooks.after_tool_call is not None
        payload = AfterToolCallPayload(
            call=_snapshot(call),
            timestamp_ms=_now_ms(),
            session_id=ctx.session_id,
            inference_id=ctx.inference_id,
            tags=dict(ctx.tags),
            value=copy_json(result.value),
            error=result.error,
            duration_ms=result.duration_ms,
        )
        try:
            decision = AfterToolCallDecision.parse(await call_hook(self.hooks.after_tool_call, payload))
            value = result.value
            if decision.result is not UNSET:
                value = to_json_value(decision.result, "result")
        except Exception as exc:
            if not self.hooks.fails_open:
                result.error = f"afterToolCall hook: {_message(exc)}"
            else:
                log.warning("afterToolCall hook failed (ignored, fail-open): %s", exc)
            return
        result.value = value
        if decision.error is not None:
            result.error = decision.error
        if decision.action == "abort":
            result.error = decision.error or "aborted by afterToolCall"


async def _then_awaited(step: Awaitable[Any]) -> Any:
    """A sync tool's worker-thread step, then what it returned if that is awaitable."""
    value = await step
    if inspect.isawaitable(value):
        value = await value
    return value


def _fill_skipped(calls: Sequence[ToolCall], slots: list[ToolResult | None]) -> list[ToolResult]:
    failed = next((r for r in slots if r is not None and r.error), None)
    reason = (
        f"not executed: tool execution aborted due to error in {failed.name}" if failed else CANCELLED_MESSAGE
    )
    out: list[ToolResult] = []
    for call, slot in zip(calls, slots, strict=True):
        out.append(slot if slot is not None else ToolResult(call.id, call.name, error=reason, skipped=True))
    return out


def _publish_result(ctx: RunContext, meta: EventMetadata, corr: Correlation, result: ToolResult) -> None:
    try:
        text = result.event_text()
    except (TypeError, ValueError):  # a value that slipped past conversion; never fail the call for an event
        text = repr(result.value)
    info = ToolResultInfo(result.id, text, result.name, "error" if result.error else "success")
    ctx.publish(ToolCallExecutionResultEvent(meta, info, corr=corr))


def _snapshot(call: ToolCall) -> ToolCall:
    """What hooks see: a copy with decoded arguments, so in-place edits change nothing."""
    return ToolCall(call.id, call.name, call.decoded_args())


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _format_ms(value: float | None) -> str:
    if value is None:
        return "0"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
