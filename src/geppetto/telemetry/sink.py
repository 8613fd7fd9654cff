"""``TelemetrySink``: the event stream turned into OpenTelemetry spans and GenAI metrics.

One sink sees every core event of every instrumented run (``state.sink``); nothing in the engines,
the tool loop or the session calls OpenTelemetry. Spans:

* ``invoke_agent`` per session run (``run-started`` .. ``run-finished|stopped|failed``), a child of
  whatever span is current where the run was started;
* ``chat {model}`` per provider call (``start`` .. ``provider-call-finished``), a child of its run;
* ``execute_tool {name}`` per tool execution (``tool-call-execute`` .. ``tool-call-execution-result``),
  a child of its run, beside the model calls.

Parents come from the events' correlation ids, not from the ambient context, so the tree is right
whichever thread or task publishes. Each span is also made the *current* span of the task that
published its start event (and is detached by the same task when it ends), so spans others create
meanwhile nest under it: the HTTP client's under ``chat``, a tool's own spans and the MCP spans
under ``execute_tool``, a nested agent run under the tool that started it.

Content (prompt, completion, tool arguments and results) is recorded only with ``content=True``.
Keys never reach events, so they cannot reach spans; error descriptions of tool calls are
content too (they may quote arguments) and are generic without opt-in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer

from geppetto.events.canonical import (
    ProviderCallFinishedEvent,
    RunFailedEvent,
    RunFinishedEvent,
    RunStartedEvent,
    RunStoppedEvent,
    ToolCallRequestedEvent,
)
from geppetto.events.correlation import Correlation
from geppetto.events.types import (
    ErrorEvent,
    Event,
    FinalEvent,
    InterruptEvent,
    StartEvent,
    ToolCallEvent,
    ToolCallExecuteEvent,
    ToolCallExecutionResultEvent,
)
from geppetto.telemetry import content as content_json
from geppetto.telemetry import conventions as C
from geppetto.turns.keys import TurnMetaKeys

RUNTIME_KEY = TurnMetaKeys.RUNTIME.id
CANCELLED_RESULT = "Error: tool execution cancelled"  # what the executor reports for a cancelled call


@dataclass(slots=True)
class _Scope:
    """A span made current in one task; only that task may detach it."""

    token: object
    task: asyncio.Task[Any]


@dataclass(slots=True)
class _Open:
    span: Span
    scope: _Scope | None
    run_id: str
    context: otel_context.Context | None = None  # runs: the context with their span, children's parent
    started: float = 0.0  # perf_counter at start (provider calls: the duration metric)
    provider: str = ""
    model: str = ""
    error: str = ""
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def _attach(span: Span, context: otel_context.Context | None = None) -> _Scope | None:
    if not span.get_span_context().is_valid:
        return None  # a no-op provider's span: nothing could nest under it
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return None
    if task is None:
        return None
    return _Scope(otel_context.attach(context or trace.set_span_in_context(span)), task)


def _detach(scope: _Scope | None) -> None:
    if scope is None:
        return
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return
    if task is scope.task:  # another task's context is not ours to reset
        otel_context.detach(scope.token)  # type: ignore[arg-type]


def _agent_name(turn: Any) -> str:
    """The agent's name, which agent sessions stamp into the turn's runtime metadata."""
    metadata = getattr(turn, "metadata", None)
    runtime = metadata.get(RUNTIME_KEY) if isinstance(metadata, dict) else None
    name = runtime.get("agentName") if isinstance(runtime, dict) else None
    return name if isinstance(name, str) else ""


def _provider_of(corr: Correlation) -> str:
    """The provider name inside ``<provider>:<run>:provider-call:<n>``."""
    head = corr.provider_call_id.rpartition(":provider-call:")[0]
    suffix = ":" + corr.run_id
    if corr.run_id and head.endswith(suffix):
        return head[: -len(suffix)]
    return head.partition(":")[0]


class TelemetrySink:
    """Publishes spans to ``tracer`` and records the GenAI client histograms on ``meter``."""

    __slots__ = ("_calls", "_content", "_duration", "_handlers", "_runs", "_tokens", "_tools", "_tracer")

    def __init__(self, tracer: Tracer, meter: Meter | None = None, *, content: bool = False) -> None:
        self._tracer = tracer
        self._content = content
        self._runs: dict[str, _Open] = {}
        self._calls: dict[str, _Open] = {}
        self._tools: dict[tuple[str, str], _Open] = {}
        self._tokens: Histogram | None = None
        self._duration: Histogram | None = None
        if meter is not None:
            self._tokens = meter.create_histogram(
                C.METRIC_TOKEN_USAGE,
                unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=list(C.TOKEN_BUCKETS),
            )
            self._duration = meter.create_histogram(
                C.METRIC_OPERATION_DURATION,
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=list(C.DURATION_BUCKETS),
            )
        handlers: dict[type[Event], Callable[[Any], None]] = {
            RunStartedEvent: self._run_started,
            RunFinishedEvent: self._run_ended,
            RunStoppedEvent: self._run_ended,
            RunFailedEvent: self._run_ended,
            StartEvent: self._call_started,
            ErrorEvent: self._call_error,
            ProviderCallFinishedEvent: self._call_finished,
            ToolCallExecuteEvent: self._tool_started,
            ToolCallExecutionResultEvent: self._tool_finished,
        }
        if content:  # the reply's text and tool calls only matter when they are recorded
            handlers[FinalEvent] = self._call_text
            handlers[InterruptEvent] = self._call_text
            handlers[ToolCallEvent] = self._call_tool_request
            handlers[ToolCallRequestedEvent] = self._call_tool_requested
        self._handlers = handlers

    @property
    def content(self) -> bool:
        return self._content

    def publish(self, event: Event) -> None:
        handler = self._handlers.get(event.__class__)
        if handler is not None:
            handler(event)

    # -- runs ----------------------------------------------------------------------------------

    def _run_started(self, event: RunStartedEvent) -> None:
        corr = event.corr
        attributes: dict[str, Any] = {
            C.OPERATION_NAME: C.OP_INVOKE_AGENT,
            C.CONVERSATION_ID: corr.session_id,
            C.SESSION_ID: corr.session_id,
            C.RUN_ID: corr.run_id,
            C.TURN_ID: corr.turn_id,
        }
        name = C.OP_INVOKE_AGENT
        agent = _agent_name(event.turn)
        if agent:
            attributes[C.AGENT_NAME] = agent
            name = f"{name} {agent}"
        span = self._tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
        if self._content and event.prompt and span.is_recording():
            message = [{"role": "user", "parts": [{"type": "text", "content": event.prompt}]}]
            span.set_attribute(C.INPUT_MESSAGES, content_json.dumps(message))
        context = trace.set_span_in_context(span)
        self._runs[corr.run_id] = _Open(span, _attach(span, context), corr.run_id, context)

    def _run_ended(self, event: RunFinishedEvent | RunStoppedEvent | RunFailedEvent) -> None:
        run_id = event.corr.run_id
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        self._close_leftovers(run_id)
        span = run.span
        if isinstance(event, RunFinishedEvent):
            span.set_attribute(C.OUTCOME, "completed")
        elif isinstance(event, RunStoppedEvent):
            _cancelled(span)
        else:
            span.set_attribute(C.OUTCOME, "failed")
            span.set_attribute(C.ERROR_TYPE, C.error_type(event.error))
            span.set_status(StatusCode.ERROR, event.error_string)
            if event.error is not None:
                span.record_exception(event.error)
        if self._content and run.text and span.is_recording():
            span.set_attribute(C.OUTPUT_MESSAGES, content_json.output_messages(run.text, [], "stop"))
        _detach(run.scope)
        span.end()

    def _close_leftovers(self, run_id: str) -> None:
        """Spans of the run whose end event never came (a producer that stopped publishing)."""
        leftovers = [self._calls.pop(k) for k, v in list(self._calls.items()) if v.run_id == run_id]
        leftovers += [self._tools.pop(k) for k, v in list(self._tools.items()) if v.run_id == run_id]
        for open_ in leftovers:
            open_.span.set_attribute(C.OUTCOME, "unfinished")
            open_.span.end()

    def _parent(self, run_id: str) -> otel_context.Context | None:
        run = self._runs.get(run_id)
        return run.context if run is not None else None

    # -- provider calls ------------------------------------------------------------------------

    def _call_started(self, event: StartEvent) -> None:
        corr = event.corr
        if corr is None or not corr.provider_call_id:
            return
        call = self._open_call(corr, event.meta.model, time.time_ns())
        if call.span.is_recording():
            if event.max_tokens is not None:
                call.span.set_attribute(C.REQUEST_MAX_TOKENS, event.max_tokens)
            address = C.server_address(event.server) if event.server else None
            if address is not None:
                call.span.set_attributes({C.SERVER_ADDRESS: address[0], C.SERVER_PORT: address[1]})
        if self._content and event.turn is not None and call.span.is_recording():
            system, messages = content_json.input_messages(event.turn)
            if system:
                call.span.set_attribute(C.SYSTEM_INSTRUCTIONS, system)
            call.span.set_attribute(C.INPUT_MESSAGES, messages)
        call.scope = _attach(call.span)
        self._calls[corr.provider_call_id] = call

    def _open_call(self, corr: Correlation, model: str, start_ns: int) -> _Open:
        provider = _provider_of(corr)
        name = C.provider_name(provider)
        attributes: dict[str, Any] = {
            C.OPERATION_NAME: C.OP_CHAT,
            C.PROVIDER_NAME: name,
            C.SYSTEM: name,
            C.PROVIDER: provider,
            C.PROVIDER_CALL_ID: corr.provider_call_id,
            C.RUN_ID: corr.run_id,
        }
        if corr.session_id:
            attributes[C.CONVERSATION_ID] = corr.session_id
        if model:
            attributes[C.REQUEST_MODEL] = model
        kind = SpanKind.INTERNAL if provider in C.IN_PROCESS else SpanKind.CLIENT
        span = self._tracer.start_span(
            f"{C.OP_CHAT} {model}" if model else C.OP_CHAT,
            context=self._parent(corr.run_id),
            kind=kind,
            attributes=attributes,
            start_time=start_ns,
        )
        elapsed = (time.time_ns() - start_ns) / 1e9
        return _Open(span, None, corr.run_id, None, time.perf_counter() - elapsed, provider, model)

    def _call_error(self, event: ErrorEvent) -> None:
        corr = event.corr
        call = self._calls.get(corr.provider_call_id) if corr is not None else None
        if call is not None:
            call.error = event.error_string

    def _call_text(self, event: FinalEvent | InterruptEvent) -> None:
        corr = event.corr
        call = self._calls.get(corr.provider_call_id) if corr is not None else None
        if call is not None:
            call.text = event.text
            run = self._runs.get(call.run_id)
            if run is not None and event.text:
                run.text = event.text

    def _call_tool_request(self, event: ToolCallEvent) -> None:
        corr = event.corr
        call = self._calls.get(corr.provider_call_id) if corr is not None else None
        if call is not None:
            info = event.tool_call
            call.tool_calls.append(content_json.tool_call_part(info.id, info.name, info.input))

    def _call_tool_requested(self, event: ToolCallRequestedEvent) -> None:
        call = self._calls.get(event.corr.provider_call_id)
        if call is not None:
            part = content_json.tool_call_part(event.tool_call_id, event.tool_name, event.input)
            call.tool_calls.append(part)

    def _call_finished(self, event: ProviderCallFinishedEvent) -> None:
        corr = event.corr
        call = self._calls.pop(corr.provider_call_id, None)
        if call is None:  # failed before it started (no start event): open it where it began
            began = time.time_ns() - (event.duration_ms or 0) * 1_000_000
            call = self._open_call(corr, event.meta.model, began)
        span = call.span
        finish = event.finish_class
        error_type = ""
        if span.is_recording():
            attributes: dict[str, Any] = {C.FINISH_CLASS: finish}
            if event.stop_reason:
                attributes[C.RESPONSE_FINISH_REASONS] = [event.stop_reason]
            if event.response_id:
                attributes[C.RESPONSE_ID] = event.response_id
            if event.response_model:
                attributes[C.RESPONSE_MODEL] = event.response_model
            usage = event.usage
            if usage is not None:
                attributes[C.USAGE_INPUT_TOKENS] = usage.input_tokens
                attributes[C.USAGE_OUTPUT_TOKENS] = usage.output_tokens
                if usage.cache_read_input_tokens or usage.cached_tokens:
                    cached = usage.cache_read_input_tokens or usage.cached_tokens
                    attributes[C.USAGE_CACHE_READ_INPUT_TOKENS] = cached
                if usage.cache_creation_input_tokens:
                    attributes[C.USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_creation_input_tokens
            span.set_attributes(attributes)
            if self._content:
                output = content_json.output_messages(call.text, call.tool_calls, event.stop_reason)
                span.set_attribute(C.OUTPUT_MESSAGES, output)
        if finish == "interrupted":
            _cancelled(span)
        elif finish == "error":
            error_type = C.error_type(event.error) if event.error is not None else C.ERROR_OTHER
            if event.error is None and event.stop_reason not in ("", "error"):
                error_type = event.stop_reason  # the provider refused (content filter, safety, ...)
            span.set_attribute(C.ERROR_TYPE, error_type)
            description = call.error or f"model call failed (stop reason {event.stop_reason or 'none'})"
            span.set_status(StatusCode.ERROR, description)
            if event.error is not None:
                span.record_exception(event.error)
        _detach(call.scope)
        span.end()
        self._record_metrics(call, event, error_type)

    def _record_metrics(self, call: _Open, event: ProviderCallFinishedEvent, error_type: str) -> None:
        if self._duration is None or self._tokens is None:
            return
        attributes: dict[str, Any] = {
            C.OPERATION_NAME: C.OP_CHAT,
            C.PROVIDER_NAME: C.provider_name(call.provider),
        }
        if call.model:
            attributes[C.REQUEST_MODEL] = call.model
        if event.response_model:
            attributes[C.RESPONSE_MODEL] = event.response_model
        if error_type:
            attributes[C.ERROR_TYPE] = error_type
        self._duration.record(max(0.0, time.perf_counter() - call.started), attributes)
        usage = event.usage
        if usage is not None:
            self._tokens.record(usage.input_tokens, {**attributes, C.TOKEN_TYPE: "input"})
            self._tokens.record(usage.output_tokens, {**attributes, C.TOKEN_TYPE: "output"})

    # -- tool executions -----------------------------------------------------------------------

    def _tool_started(self, event: ToolCallExecuteEvent) -> None:
        corr = event.corr
        if corr is None:
            return
        info = event.tool_call
        attributes: dict[str, Any] = {
            C.OPERATION_NAME: C.OP_EXECUTE_TOOL,
            C.TOOL_NAME: info.name,
            C.TOOL_CALL_ID: info.id,
            C.TOOL_TYPE: "function",
            C.RUN_ID: corr.run_id,
        }
        if corr.session_id:
            attributes[C.CONVERSATION_ID] = corr.session_id
        span = self._tracer.start_span(
            f"{C.OP_EXECUTE_TOOL} {info.name}",
            context=self._parent(corr.run_id),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        if self._content and span.is_recording():
            span.set_attribute(C.TOOL_CALL_ARGUMENTS, _capped(info.input))
        self._tools[(corr.run_id, corr.tool_call_id)] = _Open(span, _attach(span), corr.run_id)

    def _tool_finished(self, event: ToolCallExecutionResultEvent) -> None:
        corr = event.corr
        if corr is None:
            return
        tool = self._tools.pop((corr.run_id, corr.tool_call_id), None)
        if tool is None:
            return
        span, result = tool.span, event.tool_result
        if result.status == "error":
            if result.result == CANCELLED_RESULT:
                _cancelled(span)
            else:
                span.set_attribute(C.ERROR_TYPE, "tool_error")
                message = result.result.removeprefix("Error: ") if self._content else "the tool call failed"
                span.set_status(StatusCode.ERROR, message)
        elif self._content and span.is_recording():
            span.set_attribute(C.TOOL_CALL_RESULT, _capped(result.result))
        _detach(tool.scope)
        span.end()


def _cancelled(span: Span) -> None:
    """Cancellation is recorded, but not as an error: the user asked for it."""
    span.set_attribute(C.OUTCOME, "cancelled")
    span.add_event("cancelled")


def _capped(text: str) -> str:
    return text if len(text) <= content_json.MAX_CHARS else text[: content_json.MAX_CHARS] + "...[truncated]"
