"""OpenAI Responses engine.

Same transport as the Chat engine (``openai`` SDK on aiohttp, raw stream, orjson per event).
:class:`ResponsesStreamParser` dispatches on the JSON ``type`` (the ``event:`` line is
redundant) and keys state by output item, so reasoning, commentary messages and several
function calls in one response do not clash: text deltas, reasoning summary deltas (parts
joined with a blank line), encrypted reasoning items (kept for the next turn), function-call
argument deltas with the ``done`` value as the authority, usage from the terminal event only,
``response.incomplete`` reasons, and failures (an ``error`` event, ``response.failed``, or both).
"""

from __future__ import annotations

from typing import Any

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.base import Attempt, ProviderEngine
from geppetto.engines.providers.common import ProviderConfig, tool_choice, tool_specs
from geppetto.engines.providers.errors import make_error, stream_error
from geppetto.engines.providers.openai_responses_request import responses_request
from geppetto.engines.providers.transport import (
    StreamParser,
    close_sdk_client,
    iter_raw,
    make_openai_client,
    note_rate_limits,
    openai_request_headers,
    pump_sse,
    request_id,
)
from geppetto.events.types import Usage
from geppetto.turns.model import Turn

_INCOMPLETE = {"max_output_tokens": "max_tokens", "content_filter": "content_filter"}


def responses_usage(raw: dict[str, Any]) -> Usage:
    details = raw.get("input_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_tokens=int(cached or 0),
    )


class ResponsesStreamParser(StreamParser):
    """Maps Responses stream events (dicts) onto a :class:`StreamAccumulator`."""

    def __init__(self, acc: StreamAccumulator, provider: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(acc, provider, secrets)
        self._summary_parts: set[tuple[str, int]] = set()

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        acc = self.acc
        if kind == "response.output_text.delta":
            acc.add_text(event.get("delta") or "")
        elif kind == "response.function_call_arguments.delta":
            acc.add_tool_call(
                event.get("item_id") or event.get("output_index"), arguments=event.get("delta") or ""
            )
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            acc.add_reasoning(event.get("delta") or "")
        elif kind == "response.reasoning_summary_part.added":
            key = (str(event.get("item_id")), int(event.get("summary_index") or 0))
            if acc.reasoning_parts and key not in self._summary_parts:
                acc.add_reasoning("\n\n")
            self._summary_parts.add(key)
        elif kind == "response.refusal.delta":
            acc.extra["refusal"] = True
            acc.add_text(event.get("delta") or "")
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._item(event.get("item") or {}, event.get("output_index"), done=kind.endswith("done"))
        elif kind == "response.function_call_arguments.done":
            self._arguments(event.get("item_id") or event.get("output_index"), event.get("arguments"))
        elif kind in ("response.created", "response.in_progress"):
            response = event.get("response") or {}
            if response.get("id"):
                acc.response_id = str(response["id"])
                acc.response_model = str(response.get("model") or "")
        elif kind in ("response.completed", "response.incomplete"):
            self._terminal(event.get("response") or {})
        elif kind == "response.failed":
            response = event.get("response") or {}
            self._usage(response)
            raise stream_error(
                self.provider, response, secrets=self.secrets, request_id=acc.request_id or None
            )
        elif kind == "error":
            raise stream_error(self.provider, event, secrets=self.secrets, request_id=acc.request_id or None)

    def _item(self, item: dict[str, Any], output_index: Any, *, done: bool) -> None:
        item_type = item.get("type")
        key = item.get("id") or output_index
        if item_type == "function_call":
            self.acc.add_tool_call(key, id=str(item.get("call_id") or ""), name=str(item.get("name") or ""))
            if done:
                self._arguments(key, item.get("arguments"))
        elif item_type == "reasoning" and done:
            self.acc.set_encrypted_reasoning(
                str(item.get("encrypted_content") or ""), str(item.get("id") or "")
            )

    def _arguments(self, key: Any, arguments: Any) -> None:
        """The ``done`` events carry the complete arguments: they replace the streamed fragments."""
        call = self.acc.tool_calls.get(key)
        if call is not None and isinstance(arguments, str):
            call.fragments = [arguments] if arguments else []

    def _usage(self, response: dict[str, Any]) -> None:
        usage = response.get("usage")
        if isinstance(usage, dict):
            self.acc.set_usage(responses_usage(usage))

    def _terminal(self, response: dict[str, Any]) -> None:
        self.done = True
        self._usage(response)
        status = str(response.get("status") or "completed")
        if status == "incomplete":
            reason = str((response.get("incomplete_details") or {}).get("reason") or "incomplete")
            self.acc.set_stop_reason(_INCOMPLETE.get(reason, reason))
        elif any(call.name for call in self.acc.tool_calls.values()):
            self.acc.set_stop_reason("tool_calls")
        else:
            self.acc.set_stop_reason(status)

    def end(self) -> None:
        if not self.done:
            raise make_error(
                self.provider,
                "the stream ended before it was complete (no response.completed)",
                hint="the connection was cut: retry",
                retryable=True,
                request_id=self.acc.request_id or None,
            )


class OpenAIResponsesEngine(ProviderEngine):
    """The Responses API over the ``openai`` SDK."""

    make_client = staticmethod(make_openai_client)
    close_client = staticmethod(close_sdk_client)

    def build_request(self, config: ProviderConfig, turn: Turn, ctx: RunContext) -> dict[str, Any]:
        return responses_request(config, turn, tool_specs(ctx.tools), tool_choice(turn))

    async def stream(self, request: dict[str, Any], acc: StreamAccumulator, attempt: Attempt) -> None:
        client = self.client()
        extra = {key: value for key, value in request.items() if key not in ("model", "input", "stream")}
        parser = ResponsesStreamParser(acc, self.config.provider, self.config.secrets)
        async with client.responses.with_streaming_response.create(
            model=request["model"],
            input=request["input"],
            stream=True,
            extra_body=extra,
            extra_headers=openai_request_headers(self.config),
        ) as response:
            attempt.opened = True
            acc.request_id = request_id(response.http_response.headers)
            note_rate_limits(acc, response.http_response.headers)
            await pump_sse(iter_raw(response), parser)
        parser.end()
