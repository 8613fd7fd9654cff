"""OpenAI Chat Completions engine, also for every OpenAI-compatible server by base URL.

The ``openai`` SDK prepares the request and owns retries and error classes; geppetto's HTTP/1.1
client carries it (``openai_direct`` says why). Each ``data:`` line is decoded with orjson into a plain dict
that :class:`ChatStreamParser` maps onto the accumulator. The parser tolerates what compatible
servers do (``notes/provider-protocols.md`` §1): empty ``choices``, ``reasoning_content`` or
``reasoning`` deltas, tool-call fragments keyed by sparse or repeated indexes with repeated ids
and names, ``arguments: null``, usage on any chunk (the last one wins), comment keep-alives, an
``error`` object inside a 200 stream, and a missing ``finish_reason``. A stream that ends
without ``[DONE]`` and without a finish reason is reported as truncated.
"""

from __future__ import annotations

from typing import Any

import orjson

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.base import Attempt, ProviderEngine
from geppetto.engines.providers.common import ProviderConfig, tool_choice, tool_specs
from geppetto.engines.providers.errors import make_error, stream_error
from geppetto.engines.providers.openai_chat_request import chat_request
from geppetto.engines.providers.openai_direct import (
    DirectOpenAIClient,
    close_direct_client,
    make_direct_client,
)
from geppetto.engines.providers.transport import (
    StreamParser,
    content_type,
    note_rate_limits,
    pump_sse,
    request_id,
)
from geppetto.events.types import Usage
from geppetto.turns.model import Turn


def chat_usage(raw: dict[str, Any]) -> Usage:
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if cached is None:
        cached = raw.get("prompt_cache_hit_tokens")  # DeepSeek
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
    )


class ChatStreamParser(StreamParser):
    """Maps ``chat.completion.chunk`` dicts onto a :class:`StreamAccumulator`."""

    def __init__(self, acc: StreamAccumulator, provider: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(acc, provider, secrets)
        self.finish_reason = ""
        self._by_id: dict[str, int] = {}
        self._by_index: dict[Any, int] = {}
        self._latest: int | None = None

    def feed_event(self, data: str) -> None:
        if data == "[DONE]":
            self.done = True
            return
        chunk = orjson.loads(data)
        if isinstance(chunk, dict):
            self.chunk(chunk)

    def chunk(self, chunk: dict[str, Any]) -> None:
        acc = self.acc
        usage = chunk.get("usage")
        if usage:
            acc.set_usage(chat_usage(usage))
        if chunk.get("error"):
            raise stream_error(self.provider, chunk, secrets=self.secrets, request_id=acc.request_id or None)
        if not acc.response_id and chunk.get("id"):
            acc.response_id = str(chunk["id"])
            acc.response_model = str(chunk.get("model") or "")
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0):
                continue  # only the first choice becomes blocks
            delta = choice.get("delta") or choice.get("message")
            if delta:
                self._delta(delta)
            reason = choice.get("finish_reason")
            if reason and not self.finish_reason:
                self.finish_reason = str(reason)
                acc.set_stop_reason(self.finish_reason)

    def _delta(self, delta: dict[str, Any]) -> None:
        acc = self.acc
        content = delta.get("content")
        if content and isinstance(content, str):
            acc.add_text(content)
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            acc.extra["refusal"] = True
            acc.add_text(refusal)
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            acc.add_reasoning(reasoning)
        calls = delta.get("tool_calls")
        if calls:
            for call in calls:
                if isinstance(call, dict):
                    self._tool_call(call)

    def _tool_call(self, call: dict[str, Any]) -> None:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send whole objects
            arguments = orjson.dumps(arguments).decode()
        call_id = call.get("id") or ""
        self.acc.add_tool_call(
            self._key(str(call_id), call.get("index")),
            id=str(call_id) or None,
            name=function.get("name") or None,
            arguments=arguments if isinstance(arguments, str) else "",
        )

    def _key(self, call_id: str, index: Any) -> int:
        """Correlate a fragment: by non-empty id, then by index, then the latest open call."""
        if call_id:
            key = self._by_id.get(call_id)
            if key is None and index is not None:
                known = self._by_index.get(index)
                if known is not None and not self.acc.tool_calls[known].id:
                    key = known
            if key is None:
                key = len(self.acc.tool_calls)
                if index is not None:
                    self._by_index[index] = key
            self._by_id[call_id] = key
        elif index is not None:
            key = self._by_index.get(index, -1)
            if key < 0:
                key = self._by_index[index] = len(self.acc.tool_calls)
        elif self._latest is not None:
            key = self._latest
        else:
            key = len(self.acc.tool_calls)
        self._latest = key
        return key

    def end(self) -> None:
        """End of body: refuse a truncated stream, infer a tool-calls stop when none was sent."""
        if not self.done and not self.finish_reason:
            raise make_error(
                self.provider,
                "the stream ended before it was complete (no finish reason, no [DONE])",
                hint="the connection was cut: retry",
                retryable=True,
                request_id=self.acc.request_id or None,
            )
        if not self.finish_reason and any(call.name for call in self.acc.tool_calls.values()):
            self.finish_reason = "tool_calls"
            self.acc.set_stop_reason("tool_calls")


class OpenAIChatEngine(ProviderEngine):
    """Chat Completions: the SDK prepares and judges, the carrier carries (see ``openai_direct``)."""

    make_client = staticmethod(make_direct_client)
    close_client = staticmethod(close_direct_client)

    def build_request(self, config: ProviderConfig, turn: Turn, ctx: RunContext) -> dict[str, Any]:
        return chat_request(config, turn, tool_specs(ctx.tools), tool_choice(turn))

    async def stream(self, request: dict[str, Any], acc: StreamAccumulator, attempt: Attempt) -> None:
        client: DirectOpenAIClient = self.client()
        parser = ChatStreamParser(acc, self.config.provider, self.config.secrets)
        response = await client.post("/chat/completions", orjson.dumps(request))
        async with response:
            attempt.opened = True
            headers = response.headers
            acc.request_id = request_id(headers)
            note_rate_limits(acc, headers)
            if "json" in content_type(headers):
                # A server that ignored stream=true: one whole completion.
                parser.chunk(orjson.loads(await response.read()))
                parser.done = True
            else:
                await pump_sse(response.chunks(), parser)
        parser.end()
