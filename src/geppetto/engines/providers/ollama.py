"""Ollama native ``/api/chat`` engine: NDJSON streaming over aiohttp.

There is no official async SDK on our HTTP stack for Ollama, so this engine speaks the small
protocol itself (``notes/provider-protocols.md`` §5): one JSON object per line, text in
``message.content``, thinking in ``message.thinking``, tool calls complete in one chunk with
object arguments (ids synthesised when absent), usage and ``done_reason`` on the final
``done: true`` object, and ``{"error": "..."}`` either as the HTTP error body or as a line of a
200 stream. Retries before the first byte follow the SDKs' rules (see ``base.py``).
"""

from __future__ import annotations

from typing import Any

import orjson

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.base import Attempt, ProviderEngine
from geppetto.engines.providers.common import (
    MAX_RETRY_AFTER,
    ProviderConfig,
    ToolSpec,
    args_object,
    block_images,
    block_text,
    retry_after,
    structured_output,
    tool_choice,
    tool_result_text,
    tool_specs,
    unsupported_image,
)
from geppetto.engines.providers.errors import make_error, provider_message, status_hint, stream_error
from geppetto.engines.providers.sse import NDJSONDecoder
from geppetto.engines.providers.transport import StreamParser, env_proxy
from geppetto.events.types import Usage
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn

_RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


def _user(block: Block) -> dict[str, Any] | None:
    text = block_text(block)
    images = []
    for image in block_images(block):
        if not image.data:
            raise unsupported_image(
                "ollama's /api/chat", image, "only inline images (files, base64 content or data: URLs)"
            )
        images.append(image.data)
    if not text and not images:
        return None
    message: dict[str, Any] = {"role": "user", "content": text}
    if images:
        message["images"] = images
    return message


def ollama_messages(turn: Turn) -> list[dict[str, Any]]:
    names = {
        str(b.payload.get(PayloadKey.ID)): str(b.payload.get(PayloadKey.NAME) or "")
        for b in turn.blocks
        if b.kind is BlockKind.TOOL_CALL
    }
    messages: list[dict[str, Any]] = []
    for block in turn.blocks:
        kind = block.kind
        if kind is BlockKind.USER:
            message = _user(block)
        elif kind is BlockKind.TOOL_CALL:
            payload = block.payload
            call = {
                "id": str(payload.get(PayloadKey.ID) or block.id),
                "function": {
                    "name": str(payload.get(PayloadKey.NAME) or ""),
                    "arguments": args_object(payload.get("args")),
                },
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                continue
            message = {"role": "assistant", "content": "", "tool_calls": [call]}
        elif kind is BlockKind.TOOL_USE:
            call_id = str(block.payload.get(PayloadKey.ID) or "")
            message = {
                "role": "tool",
                "content": tool_result_text(block),
                "tool_name": names.get(call_id, ""),
                "tool_call_id": call_id,
            }
        elif kind in (BlockKind.SYSTEM, BlockKind.LLM_TEXT, BlockKind.OTHER):
            text = block_text(block)
            role = "system" if kind is BlockKind.SYSTEM else "assistant"
            message = {"role": role, "content": text} if text else None
        else:
            message = None
        if message is not None:
            messages.append(message)
    return messages


def ollama_request(config: ProviderConfig, turn: Turn, tools: list[ToolSpec]) -> dict[str, Any]:
    settings = config.settings
    chat, ollama = settings.chat, settings.ollama
    body: dict[str, Any] = {"model": config.model, "messages": ollama_messages(turn), "stream": True}
    options: dict[str, Any] = {}
    if chat.temperature is not None:
        options["temperature"] = chat.temperature
    if chat.top_p is not None:
        options["top_p"] = chat.top_p
    if chat.max_response_tokens:
        options["num_predict"] = chat.max_response_tokens
    if chat.stop:
        options["stop"] = list(chat.stop)
    if ollama.num_ctx:
        options["num_ctx"] = ollama.num_ctx
    if options:
        body["options"] = options
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in tools
        ]
    if ollama.think is not None:
        body["think"] = ollama.think
    if ollama.keep_alive:
        body["keep_alive"] = ollama.keep_alive
    schema = structured_output(turn, settings)
    if schema is not None:
        body["format"] = schema["schema"]
    return body


class OllamaStreamParser(StreamParser):
    """Maps ``/api/chat`` NDJSON objects onto a :class:`StreamAccumulator`."""

    def feed(self, line: bytes) -> None:
        chunk = orjson.loads(line)
        if not isinstance(chunk, dict):
            return
        acc = self.acc
        if chunk.get("error"):
            raise stream_error(self.provider, chunk, secrets=self.secrets)
        message = chunk.get("message") or {}
        thinking = message.get("thinking")
        if thinking and isinstance(thinking, str):
            acc.add_reasoning(thinking)
        content = message.get("content")
        if content and isinstance(content, str):
            acc.add_text(content)
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            if function.get("name"):
                acc.add_complete_tool_call(
                    id=call.get("id") or None,
                    name=str(function["name"]),
                    args=args_object(function.get("arguments")),
                )
        if chunk.get("done"):
            self.done = True
            acc.set_stop_reason(str(chunk.get("done_reason") or "stop"))
            acc.set_usage(
                Usage(
                    input_tokens=int(chunk.get("prompt_eval_count") or 0),
                    output_tokens=int(chunk.get("eval_count") or 0),
                )
            )
            if chunk.get("total_duration"):
                acc.extra["total_duration_ns"] = chunk["total_duration"]

    def end(self) -> None:
        if not self.done:
            raise make_error(
                self.provider,
                "the stream ended before it was complete (no done object)",
                hint="the connection was cut: retry",
                retryable=True,
            )


def _make_session(config: ProviderConfig) -> Any:
    import aiohttp

    client_settings = config.settings.client
    timeout = aiohttp.ClientTimeout(
        sock_connect=client_settings.connect_timeout, sock_read=client_settings.timeout
    )
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    if client_settings.user_agent:
        headers["User-Agent"] = client_settings.user_agent
    return aiohttp.ClientSession(timeout=timeout, headers=headers)


async def _close_session(client: Any) -> None:
    await client.close()


class OllamaEngine(ProviderEngine):
    """Ollama's native chat endpoint."""

    own_retries = True

    make_client = staticmethod(_make_session)
    close_client = staticmethod(_close_session)

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self._url = config.base_url.rstrip("/") + "/api/chat"
        self._proxy = env_proxy(self._url)  # HTTP(S)_PROXY / NO_PROXY, as the SDK engines honour them

    def build_request(self, config: ProviderConfig, turn: Turn, ctx: RunContext) -> dict[str, Any]:
        if tool_choice(turn) == "none":
            ctx_tools: list[ToolSpec] = []
        else:
            ctx_tools = tool_specs(ctx.tools)
        return ollama_request(config, turn, ctx_tools)

    async def stream(self, request: dict[str, Any], acc: StreamAccumulator, attempt: Attempt) -> None:
        session = self.client()
        parser = OllamaStreamParser(acc, self.config.provider, self.config.secrets)
        async with session.post(
            self._url, data=orjson.dumps(request), allow_redirects=not self.config.strict, proxy=self._proxy
        ) as resp:
            if resp.status >= 400:
                attempt.retry_after = retry_after(resp.headers)
                await self._raise_status(resp, attempt.retry_after)
            attempt.opened = True
            decoder = NDJSONDecoder()
            async for chunk in resp.content.iter_any():
                for line in decoder.feed(chunk):
                    parser.feed(line)
            for line in decoder.close():
                try:
                    parser.feed(line)
                except orjson.JSONDecodeError:
                    break  # a line cut by EOF: end() reports the truncation
        parser.end()

    async def _raise_status(self, resp: Any, asked_delay: float | None) -> None:
        # Like the SDKs: a server asking for more than MAX_RETRY_AFTER is not retried.
        too_long = asked_delay is not None and asked_delay > MAX_RETRY_AFTER
        status = int(resp.status)
        raw = await resp.read()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", errors="replace")
        raise make_error(
            self.config.provider,
            f"HTTP {status}: {provider_message(body, resp.reason or '')}",
            hint=status_hint(status, self.config.spec),
            status=status,
            retryable=status in _RETRYABLE and not too_long,
            secrets=self.config.secrets,
        )
