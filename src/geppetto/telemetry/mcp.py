"""Client spans for MCP requests (``tools/call {tool}``, ``tools/list``), per the MCP conventions.

MCP requests are not events (they happen inside a tool's execution), so ``MCPConnection`` asks
``state.mcp`` for this tracer, which is ``None`` unless telemetry is on. The span is a child of
the current span (the ``execute_tool`` span the telemetry sink made current), and is itself
current while the request runs, so the ``mcp`` SDK's own transport spans nest under it when it
reports to the same (global) tracer provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from geppetto.telemetry import content as content_json
from geppetto.telemetry import conventions as C

if TYPE_CHECKING:
    from geppetto.mcp.config import MCPServer

T = TypeVar("T")


class MCPTracer:
    __slots__ = ("_content", "_tracer")

    def __init__(self, tracer: Tracer, *, content: bool = False) -> None:
        self._tracer = tracer
        self._content = content

    async def request(
        self,
        server: MCPServer,
        method: str,
        send: Callable[[], Awaitable[T]],
        *,
        tool: str = "",
        arguments: Mapping[str, Any] | None = None,
    ) -> T:
        """Run ``send()`` inside a client span for ``method`` on ``server``."""
        attributes: dict[str, Any] = {C.MCP_METHOD_NAME: method, "geppetto.mcp.server": server.name}
        if tool:
            attributes[C.TOOL_NAME] = tool
            attributes[C.OPERATION_NAME] = C.OP_EXECUTE_TOOL
        if server.transport == "stdio":
            attributes[C.NETWORK_TRANSPORT] = "pipe"
        else:
            attributes[C.NETWORK_TRANSPORT] = "tcp"
            address = C.server_address(server.url)
            if address is not None:
                attributes[C.SERVER_ADDRESS], attributes[C.SERVER_PORT] = address
        name = f"{method} {tool}" if tool else method
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        if self._content and arguments is not None and span.is_recording():
            span.set_attribute(C.TOOL_CALL_ARGUMENTS, content_json.dumps(dict(arguments)))
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                result = await send()
            except asyncio.CancelledError:
                span.set_attribute(C.OUTCOME, "cancelled")
                span.add_event("cancelled")
                raise
            except Exception as exc:
                span.set_attribute(C.ERROR_TYPE, C.error_type(exc))
                span.set_status(StatusCode.ERROR, str(exc))
                span.record_exception(exc)
                raise
            if getattr(result, "is_error", False):
                span.set_attribute(C.ERROR_TYPE, "tool_error")
                span.set_status(StatusCode.ERROR, "the MCP tool reported an error")
            elif self._content and tool and span.is_recording():
                span.set_attribute(C.TOOL_CALL_RESULT, _result_json(result))
            return result


def _result_json(result: Any) -> str:
    dump = getattr(result, "model_dump", None)
    try:
        value = dump(mode="json", exclude_none=True) if callable(dump) else result
        if isinstance(value, dict):
            value = value.get("structured_content") or value.get("content") or value
        return content_json.dumps(value)
    except Exception:  # a result we cannot render is left out, never fails the call
        return ""
