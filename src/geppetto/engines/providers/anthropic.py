"""Anthropic Messages engine.

Requests go through the ``anthropic`` SDK on its aiohttp transport; the SSE stream is taken raw
and decoded into plain dicts (Anthropic pads its JSON with spaces; orjson does not mind).
:class:`ClaudeStreamParser` follows the event grammar of ``notes/provider-protocols.md`` §3:
text and thinking deltas, signature deltas, redacted thinking, tool input streamed as JSON
fragments (``""`` alone means ``{}``), pings anywhere, a duplicate ``message_start`` from a
proxy, usage that ``message_delta`` replaces (it is cumulative), stop sequences and
``stop_details``, and an ``error`` event after HTTP 200 (``overloaded_error``). A stream that
ends without ``message_stop`` and without a stop reason is reported as truncated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.anthropic_request import claude_request
from geppetto.engines.providers.base import Attempt, ProviderEngine
from geppetto.engines.providers.common import ProviderConfig, tool_choice, tool_specs
from geppetto.engines.providers.errors import make_error, stream_error
from geppetto.engines.providers.transport import (
    StreamParser,
    close_sdk_client,
    iter_raw,
    make_anthropic_client,
    note_rate_limits,
    pump_sse,
    request_id,
)
from geppetto.events.types import Usage
from geppetto.turns.keys import BlockMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.engines.tokens import TokenCount


def claude_usage(raw: dict[str, Any], base: Usage | None = None) -> Usage:
    """Usage from ``message_start``/``message_delta``; fields missing in a delta keep ``base``."""
    base = base or Usage()

    def pick(name: str, current: int) -> int:
        value = raw.get(name)
        return int(value) if isinstance(value, int) else current

    return Usage(
        input_tokens=pick("input_tokens", base.input_tokens),
        output_tokens=pick("output_tokens", base.output_tokens),
        cache_creation_input_tokens=pick("cache_creation_input_tokens", base.cache_creation_input_tokens),
        cache_read_input_tokens=pick("cache_read_input_tokens", base.cache_read_input_tokens),
    )


class ClaudeStreamParser(StreamParser):
    """Maps Messages stream events (dicts) onto a :class:`StreamAccumulator`."""

    def __init__(self, acc: StreamAccumulator, provider: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(acc, provider, secrets)
        self.message_id = ""
        self.thinking: dict[int, dict[str, Any]] = {}  # index -> original thinking block

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        acc = self.acc
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                acc.add_text(delta.get("text") or "")
            elif delta_type == "input_json_delta":
                acc.add_tool_call(event.get("index", 0), arguments=delta.get("partial_json") or "")
            elif delta_type == "thinking_delta":
                text = delta.get("thinking") or ""
                acc.add_reasoning(text)
                self._thinking(event.get("index", 0), "thinking")["thinking"] += text
            elif delta_type == "signature_delta":
                self._thinking(event.get("index", 0), "thinking")["signature"] += delta.get("signature") or ""
        elif kind == "content_block_start":
            self._block_start(event.get("index", 0), event.get("content_block") or {})
        elif kind == "message_start":
            message = event.get("message") or {}
            if self.message_id and message.get("id") == self.message_id:
                return  # a proxy repeated message_start: keep what was accumulated
            self.message_id = str(message.get("id") or "")
            acc.response_id = self.message_id
            acc.response_model = str(message.get("model") or "")
            usage = message.get("usage")
            if isinstance(usage, dict):
                acc.set_usage(claude_usage(usage))
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            acc.set_stop_reason(delta.get("stop_reason"))
            if delta.get("stop_sequence"):
                acc.extra["stop_sequence"] = delta["stop_sequence"]
            if delta.get("stop_details"):
                acc.extra["stop_details"] = delta["stop_details"]
            usage = event.get("usage")
            if isinstance(usage, dict):
                acc.set_usage(claude_usage(usage, acc.usage))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise stream_error(self.provider, event, secrets=self.secrets, request_id=acc.request_id or None)

    def _block_start(self, index: int, block: dict[str, Any]) -> None:
        block_type = block.get("type")
        if block_type == "text":
            self.acc.add_text(block.get("text") or "")
        elif block_type == "tool_use":
            # The ``input: {}`` placeholder is ignored: the input arrives as JSON fragments.
            self.acc.add_tool_call(index, id=str(block.get("id") or ""), name=str(block.get("name") or ""))
        elif block_type == "thinking":
            original = self._thinking(index, "thinking")
            original["thinking"] += block.get("thinking") or ""
            original["signature"] += block.get("signature") or ""
            self.acc.add_reasoning(block.get("thinking") or "")
        elif block_type == "redacted_thinking":
            self.thinking[index] = {"type": "redacted_thinking", "data": block.get("data") or ""}

    def _thinking(self, index: int, kind: str) -> dict[str, Any]:
        block = self.thinking.get(index)
        if block is None:
            block = self.thinking[index] = {"type": kind, "thinking": "", "signature": ""}
        return block

    def end(self) -> None:
        if not self.done and not self.acc.stop_reason:
            raise make_error(
                self.provider,
                "the stream ended before it was complete (no message_stop)",
                hint="the connection was cut: retry",
                retryable=True,
                request_id=self.acc.request_id or None,
            )
        if self.thinking and not self.acc.encrypted_reasoning:
            first = self.thinking[min(self.thinking)]
            # Makes the accumulator emit a reasoning block even for redacted-only thinking.
            self.acc.set_encrypted_reasoning(first.get("signature") or first.get("data") or "")

    def originals(self) -> list[dict[str, Any]]:
        return [self.thinking[index] for index in sorted(self.thinking)]


class AnthropicEngine(ProviderEngine):
    """Claude over the ``anthropic`` SDK."""

    make_client = staticmethod(make_anthropic_client)
    close_client = staticmethod(close_sdk_client)

    def build_request(self, config: ProviderConfig, turn: Turn, ctx: RunContext) -> dict[str, Any]:
        return claude_request(config, turn, tool_specs(ctx.tools), tool_choice(turn))

    def max_tokens(self, config: ProviderConfig) -> int | None:
        return config.settings.chat.max_response_tokens or 1024

    async def count_tokens(self, turn: Turn, tools: Any = None) -> TokenCount:
        """The provider's free count endpoint (see :mod:`geppetto.engines.tokens`)."""
        from geppetto.engines.providers.count import claude_count_tokens

        return await claude_count_tokens(self, turn, tools)

    async def stream(
        self, request: dict[str, Any], acc: StreamAccumulator, attempt: Attempt
    ) -> ClaudeStreamParser:
        client = self.client()
        extra = {
            key: value
            for key, value in request.items()
            if key not in ("model", "messages", "max_tokens", "stream")
        }
        parser = ClaudeStreamParser(acc, self.config.provider, self.config.secrets)
        async with client.messages.with_streaming_response.create(
            model=request["model"],
            max_tokens=request["max_tokens"],
            messages=request["messages"],
            stream=True,
            extra_body=extra,
        ) as response:
            attempt.opened = True
            acc.request_id = request_id(response.http_response.headers)
            note_rate_limits(acc, response.http_response.headers)
            await pump_sse(iter_raw(response), parser)
        parser.end()
        return parser

    def finish(self, acc: StreamAccumulator, state: Any) -> Turn:
        before = len(acc.turn.blocks)
        turn = acc.finish()
        if isinstance(state, ClaudeStreamParser) and state.thinking:
            for block in turn.blocks[before:]:
                if block.kind is BlockKind.REASONING:
                    BlockMetaKeys.CLAUDE_ORIGINAL_CONTENT.set(block.metadata, state.originals())
                    break
        return turn
