"""Gemini engine (Developer API, ``streamGenerateContent?alt=sse``).

The ``google-genai`` client builds the URL, authenticates, retries (its tenacity policy, enabled
with ``max_retries``) and maps HTTP errors; it runs on aiohttp when installed. Its public
streaming call re-encodes every chunk through ``json`` and pydantic models, so this engine sends
the request through the client's request layer and reads the raw response itself: SSE lines
decoded with orjson, bare multi-line error JSON included. The client's own timeout is a total
deadline, which would cut long streams, so the settings' timeout is applied here instead, to
the response headers and to every read.

:class:`GeminiStreamParser` handles text and thought parts, whole function calls (ids
synthesised when absent), Gemini 3 streamed arguments (``partialArgs``), thought signatures
(kept on the produced blocks for the next turn), usage snapshots that replace each other,
finish reasons, safety blocks and prompt blocks.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.base import Attempt, ProviderEngine
from geppetto.engines.providers.common import ProviderConfig, tool_choice, tool_specs
from geppetto.engines.providers.errors import make_error, stream_error
from geppetto.engines.providers.gemini_request import SIGNATURE_KEY, SYNTHETIC_ID_PREFIX, gemini_request
from geppetto.engines.providers.sse import SSEDecoder
from geppetto.engines.providers.transport import StreamParser, content_type, request_id
from geppetto.events.types import Usage
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.engines.tokens import TokenCount

_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def gemini_usage(raw: dict[str, Any]) -> Usage:
    """``usageMetadata`` is a cumulative snapshot; thoughts are billed as output."""
    return Usage(
        input_tokens=int(raw.get("promptTokenCount") or 0),
        output_tokens=int(raw.get("candidatesTokenCount") or 0) + int(raw.get("thoughtsTokenCount") or 0),
        cached_tokens=int(raw.get("cachedContentTokenCount") or 0),
    )


def _set_path(target: dict[str, Any], path: str, value: Any, append: bool) -> None:
    """Apply one ``partialArgs`` entry (``$.a.b[0]``) to ``target``."""
    steps: list[str | int] = [name if name else int(index) for name, index in _PATH_PART.findall(path)]
    if not steps:
        return
    node: Any = target
    for step, following in itertools.pairwise(steps):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            node[step] = node[step] if node[step] is not None else empty
            node = node[step]
        else:
            node = node.setdefault(step, empty)
    last = steps[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = (node[last] or "") + value if append and isinstance(value, str) else value
    else:
        previous = node.get(last)
        node[last] = (previous or "") + value if append and isinstance(value, str) else value


class GeminiStreamParser(StreamParser):
    """Maps ``GenerateContentResponse`` dicts onto a :class:`StreamAccumulator`."""

    def __init__(self, acc: StreamAccumulator, provider: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(acc, provider, secrets)
        self.seen = False
        self.open_call: dict[str, Any] | None = None
        self.signatures: dict[str, str] = {}  # call id -> signature
        self.text_signature = ""
        self.thought_signature = ""

    def feed(self, data: str) -> None:
        value = orjson.loads(data)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                self.chunk(item)

    def chunk(self, chunk: dict[str, Any]) -> None:
        acc = self.acc
        if chunk.get("error"):
            raise stream_error(self.provider, chunk, secrets=self.secrets, request_id=acc.request_id or None)
        self.seen = True
        usage = chunk.get("usageMetadata")
        if isinstance(usage, dict) and "promptTokenCount" in usage:
            acc.set_usage(gemini_usage(usage))
        if not acc.response_id and chunk.get("responseId"):
            acc.response_id = str(chunk["responseId"])
            acc.response_model = str(chunk.get("modelVersion") or "")
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            acc.set_stop_reason("content_filter")
            acc.extra["block_reason"] = feedback["blockReason"]
            if feedback.get("blockReasonMessage"):
                acc.extra["block_reason_message"] = feedback["blockReasonMessage"]
        for candidate in chunk.get("candidates") or ():
            if candidate.get("index", 0):
                continue
            parts = (candidate.get("content") or {}).get("parts") or ()
            for part in parts:
                self._part(part)
            reason = candidate.get("finishReason")
            if reason:
                acc.set_stop_reason(str(reason).lower())
                if candidate.get("finishMessage"):
                    acc.extra["finish_message"] = candidate["finishMessage"]
                blocked = [r for r in candidate.get("safetyRatings") or () if r.get("blocked")]
                if blocked:
                    acc.extra["safety_ratings"] = blocked

    def _part(self, part: dict[str, Any]) -> None:
        signature = str(part.get("thoughtSignature") or "")
        call = part.get("functionCall")
        if isinstance(call, dict):
            self._function_call(call, signature)
            return
        text = part.get("text")
        if part.get("thought"):
            self.acc.add_reasoning(text if isinstance(text, str) else "")
            self.thought_signature = signature or self.thought_signature
        elif isinstance(text, str):
            self.acc.add_text(text)
            self.text_signature = signature or self.text_signature

    def _function_call(self, call: dict[str, Any], signature: str) -> None:
        partial = call.get("partialArgs")
        if call.get("name") and call.get("willContinue"):
            self._close_call()
            self.open_call = {"id": call.get("id"), "name": call["name"], "args": {}, "signature": signature}
        elif isinstance(partial, list) and self.open_call is not None:
            for entry in partial:
                self._partial(entry)
        elif call.get("name"):
            self._close_call()
            self._add(call.get("id"), str(call["name"]), call.get("args") or {}, signature)
        elif not partial:
            self._close_call()  # ``functionCall: {}`` ends a streamed call

    def _partial(self, entry: dict[str, Any]) -> None:
        assert self.open_call is not None
        path = str(entry.get("jsonPath") or "")
        for field, append in (("stringValue", True), ("numberValue", False), ("boolValue", False)):
            if field in entry:
                _set_path(self.open_call["args"], path, entry[field], append)
                return
        if "nullValue" in entry:
            _set_path(self.open_call["args"], path, None, False)

    def _close_call(self) -> None:
        call, self.open_call = self.open_call, None
        if call is not None:
            self._add(call["id"], call["name"], call["args"], call["signature"])

    def _add(self, call_id: Any, name: str, args: Any, signature: str) -> None:
        ident = str(call_id) if call_id else f"{SYNTHETIC_ID_PREFIX}{uuid.uuid4().hex[:16]}"
        self.acc.add_complete_tool_call(id=ident, name=name, args=args)
        if signature:
            self.signatures[ident] = signature

    def end(self) -> None:
        self._close_call()
        # A complete stream always ends with a finishReason (or a prompt blockReason).
        if not self.seen or not self.acc.stop_reason:
            raise make_error(
                self.provider,
                "the stream ended before it was complete (no finishReason)"
                if self.seen
                else "the stream ended without any response",
                hint="the connection was cut: retry",
                retryable=True,
                request_id=self.acc.request_id or None,
            )


def make_gemini_client(config: ProviderConfig) -> Any:
    from google import genai
    from google.genai import types

    client_settings = config.settings.client
    headers = {"User-Agent": client_settings.user_agent} if client_settings.user_agent else None
    retry = types.HttpRetryOptions(
        attempts=max(0, client_settings.max_retries) + 1, initial_delay=0.5, max_delay=8.0, jitter=0.25
    )
    options = types.HttpOptions(base_url=config.base_url, headers=headers, retry_options=retry)
    return genai.Client(api_key=config.api_key, vertexai=False, http_options=options)


async def _close_gemini(client: Any) -> None:
    await client.aio.aclose()


class GeminiEngine(ProviderEngine):
    """Gemini over ``google-genai``'s request layer (see the module docstring)."""

    make_client = staticmethod(make_gemini_client)
    close_client = staticmethod(_close_gemini)

    def build_request(self, config: ProviderConfig, turn: Turn, ctx: RunContext) -> dict[str, Any]:
        return gemini_request(config, turn, tool_specs(ctx.tools), tool_choice(turn))

    async def count_tokens(self, turn: Turn, tools: Any = None) -> TokenCount:
        """The provider's free count endpoint (see :mod:`geppetto.engines.tokens`)."""
        from geppetto.engines.providers.count import gemini_count_tokens

        return await gemini_count_tokens(self, turn, tools)

    def _path(self) -> str:
        model = self.config.model
        if not model.startswith(("models/", "tunedModels/")):
            model = f"models/{model}"
        return f"{model}:streamGenerateContent?alt=sse"

    async def stream(
        self, request: dict[str, Any], acc: StreamAccumulator, attempt: Attempt
    ) -> GeminiStreamParser:
        api = self.client()._api_client
        timeout = self.config.settings.client.timeout
        http_request = api._build_request("post", self._path(), dict(request), None)
        async with asyncio.timeout(timeout):
            response = await api._async_request(http_request=http_request, http_options=None, stream=True)
        attempt.opened = True
        raw = response.response_stream
        parser = GeminiStreamParser(acc, self.config.provider, self.config.secrets)
        try:
            headers = response.headers or {}
            acc.request_id = request_id(headers)
            decoder = SSEDecoder(raw_json=True)
            if "json" in content_type(headers):
                parser.feed((await _read_all(raw, timeout)).decode())
            else:
                async for chunk in _chunks(raw, timeout):
                    for _, data in decoder.feed(chunk):
                        parser.feed(data)
                for _, data in decoder.close():
                    try:
                        parser.feed(data)
                    except orjson.JSONDecodeError:
                        break  # an event cut by EOF
        finally:
            await _close(raw)
        parser.end()
        return parser

    def finish(self, acc: StreamAccumulator, state: Any) -> Turn:
        before = len(acc.turn.blocks)
        turn = acc.finish()
        if not isinstance(state, GeminiStreamParser):
            return turn
        for block in turn.blocks[before:]:
            signature = ""
            if block.kind is BlockKind.TOOL_CALL:
                signature = state.signatures.get(str(block.payload.get(PayloadKey.ID)), "")
            elif block.kind is BlockKind.LLM_TEXT:
                signature = state.text_signature
            elif block.kind is BlockKind.REASONING:
                signature = state.thought_signature
            if signature:
                block.metadata[SIGNATURE_KEY] = signature
        if state.text_signature and not any(b.kind is BlockKind.LLM_TEXT for b in turn.blocks[before:]):
            # A signature on an empty text part: keep it on the last produced block.
            produced = turn.blocks[before:]
            if produced:
                produced[-1].metadata.setdefault(SIGNATURE_KEY, state.text_signature)
        return turn


async def _chunks(raw: Any, idle: float) -> AsyncIterator[bytes]:
    """Body chunks of an aiohttp or httpx response, each read within ``idle`` seconds."""
    if hasattr(raw, "content"):  # aiohttp.ClientResponse
        reader = raw.content
        while True:
            async with asyncio.timeout(idle):
                chunk = await reader.readany()
            if not chunk:
                return
            yield chunk
    else:  # httpx-style response
        iterator = raw.aiter_bytes().__aiter__()
        while True:
            try:
                async with asyncio.timeout(idle):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                return
            yield chunk


async def _read_all(raw: Any, idle: float) -> bytes:
    return b"".join([chunk async for chunk in _chunks(raw, idle)])


async def _close(raw: Any) -> None:
    close = getattr(raw, "aclose", None)
    if close is not None:
        await close()
    else:
        raw.close()
