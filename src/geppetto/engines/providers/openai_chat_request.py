"""Blocks -> an OpenAI Chat Completions request (spec §2 mapping).

``system`` -> system message, ``user`` -> user (multi-part with ``image_url`` parts when it has
images), ``llm_text``/``other`` with text -> assistant, ``reasoning`` skipped, empty texts
skipped. Consecutive ``tool_call`` blocks become one assistant message with ``tool_calls``
(joined to the assistant text right before them); each ``tool_use`` becomes a ``tool`` message.
Chat messages found between a tool-call group and its results wait until every result is out,
because the API rejects anything between an assistant ``tool_calls`` message and its results.
"""

from __future__ import annotations

from typing import Any

from geppetto.engines.providers.common import (
    ProviderConfig,
    ToolSpec,
    args_json,
    block_images,
    block_text,
    structured_output,
    tool_result_text,
    unsupported_image,
)
from geppetto.settings.apitypes import is_reasoning_model
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn


def _user_message(block: Block) -> dict[str, Any] | None:
    text = block_text(block)
    images = block_images(block)
    if not images:
        return {"role": "user", "content": text} if text else None
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for image in images:
        if image.file_id or image.file_uri:
            raise unsupported_image("the chat completions API", image, "image URLs and inline images")
        image_url: dict[str, Any] = {"url": image.data_url}
        if image.detail:
            image_url["detail"] = image.detail
        parts.append({"type": "image_url", "image_url": image_url})
    return {"role": "user", "content": parts}


def _message(block: Block) -> dict[str, Any] | None:
    kind = block.kind
    if kind is BlockKind.USER:
        return _user_message(block)
    if kind not in (BlockKind.SYSTEM, BlockKind.LLM_TEXT, BlockKind.OTHER):
        return None
    text = block_text(block)
    if not text:
        return None
    return {"role": "system" if kind is BlockKind.SYSTEM else "assistant", "content": text}


def chat_messages(turn: Turn) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    delayed: list[dict[str, Any]] = []
    pending: set[str] = set()
    blocks = turn.blocks
    index = 0
    while index < len(blocks):
        block = blocks[index]
        index += 1
        if block.kind is BlockKind.TOOL_CALL:
            calls = [_tool_call(block)]
            while index < len(blocks) and blocks[index].kind is BlockKind.TOOL_CALL:
                calls.append(_tool_call(blocks[index]))
                index += 1
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" not in last and not pending:
                last["tool_calls"] = calls
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            pending.update(call["id"] for call in calls)
        elif block.kind is BlockKind.TOOL_USE:
            call_id = str(block.payload.get(PayloadKey.ID) or "")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": tool_result_text(block)})
            pending.discard(call_id)
            if not pending and delayed:
                messages.extend(delayed)
                delayed.clear()
        else:
            message = _message(block)
            if message is not None:
                (delayed if pending else messages).append(message)
    messages.extend(delayed)
    return messages


def _tool_call(block: Block) -> dict[str, Any]:
    payload = block.payload
    return {
        "id": str(payload.get(PayloadKey.ID) or block.id),
        "type": "function",
        "function": {
            "name": str(payload.get(PayloadKey.NAME) or ""),
            "arguments": args_json(payload.get("args")),
        },
    }


def chat_tools(specs: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": s.name, "description": s.description, "parameters": s.parameters},
        }
        for s in specs
    ]


def chat_request(
    config: ProviderConfig, turn: Turn, tools: list[ToolSpec], tool_choice: str | None
) -> dict[str, Any]:
    """The full request body (``stream: true``) for ``turn``."""
    settings = config.settings
    chat, openai = settings.chat, settings.openai
    model = config.model
    reasoning = is_reasoning_model(model)
    body: dict[str, Any] = {"model": model, "messages": chat_messages(turn), "stream": True}
    if chat.max_response_tokens:
        body["max_completion_tokens" if reasoning else "max_tokens"] = chat.max_response_tokens
    if not reasoning:
        if chat.temperature is not None:
            body["temperature"] = chat.temperature
        if chat.top_p is not None:
            body["top_p"] = chat.top_p
    elif openai.reasoning_effort and config.spec.name == "openai":
        body["reasoning_effort"] = openai.reasoning_effort
    if chat.stop:
        body["stop"] = list(chat.stop)
    if openai.n != 1:
        body["n"] = openai.n
    if openai.presence_penalty:
        body["presence_penalty"] = openai.presence_penalty
    if openai.frequency_penalty:
        body["frequency_penalty"] = openai.frequency_penalty
    if openai.seed is not None:
        body["seed"] = openai.seed
    if openai.logit_bias:
        body["logit_bias"] = dict(openai.logit_bias)
    if openai.stream_include_usage and "mistral" not in model.lower() and config.spec.name != "mistral":
        body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = chat_tools(tools)
        if tool_choice:
            body["tool_choice"] = tool_choice
        if openai.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = openai.parallel_tool_calls
    schema = structured_output(turn, settings)
    if schema is not None:
        json_schema: dict[str, Any] = {
            "name": schema["name"],
            "schema": schema["schema"],
            "strict": schema["strict"],
        }
        if schema["description"]:
            json_schema["description"] = schema["description"]
        body["response_format"] = {"type": "json_schema", "json_schema": json_schema}
    return body
