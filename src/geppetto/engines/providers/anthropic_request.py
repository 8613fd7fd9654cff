"""Blocks -> an Anthropic Messages request (spec §2 mapping).

The first ``system`` block becomes the top-level ``system``; later ones become user text.
``user`` blocks carry text and images; ``llm_text``/``other`` become assistant text; ``tool_call``
-> assistant ``tool_use``; ``tool_use`` -> a user ``tool_result``. ``reasoning`` blocks this
engine produced carry the original thinking blocks (with their signatures) in
``claude_original_content`` and are echoed back verbatim, which Claude requires when a tool loop
continues after extended thinking; reasoning from other providers is dropped. Consecutive
blocks of one role are merged into one message, so thinking, text and tool use of one reply
stay together.
"""

from __future__ import annotations

from typing import Any

from geppetto.engines.providers.common import (
    ProviderConfig,
    ToolSpec,
    args_object,
    block_images,
    block_text,
    structured_output,
    tool_result_text,
    unsupported_image,
)
from geppetto.turns.keys import BlockMetaKeys
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn

DEFAULT_MAX_TOKENS = 1024
_TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}


def _original(block: Block) -> list[dict[str, Any]] | None:
    value = block.metadata.get(BlockMetaKeys.CLAUDE_ORIGINAL_CONTENT.id)
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    return None


def _user_content(block: Block) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    text = block_text(block)
    if text:
        content.append({"type": "text", "text": text})
    for image in block_images(block):
        if image.data:
            source = {"type": "base64", "media_type": image.media_type, "data": image.data}
        elif image.url:
            source = {"type": "url", "url": image.url}
        else:
            raise unsupported_image("the Messages API", image, "image URLs and inline images")
        content.append({"type": "image", "source": source})
    return content


def _content(block: Block) -> tuple[str, list[dict[str, Any]]]:
    """(role, content parts) for one block; empty parts mean 'skip'."""
    kind = block.kind
    original = _original(block)
    if kind is BlockKind.REASONING:
        return "assistant", original or []
    if original is not None and kind in (BlockKind.USER, BlockKind.LLM_TEXT, BlockKind.OTHER):
        return ("user" if kind is BlockKind.USER else "assistant"), original
    if kind is BlockKind.USER:
        return "user", _user_content(block)
    if kind is BlockKind.TOOL_CALL:
        payload = block.payload
        call = {
            "type": "tool_use",
            "id": str(payload.get(PayloadKey.ID) or block.id),
            "name": str(payload.get(PayloadKey.NAME) or ""),
            "input": args_object(payload.get(PayloadKey.ARGS)),
        }
        return "assistant", [call]
    if kind is BlockKind.TOOL_USE:
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": str(block.payload.get(PayloadKey.ID) or ""),
            "content": tool_result_text(block),
        }
        if block.payload.get(PayloadKey.ERROR):
            result["is_error"] = True
        return "user", [result]
    text = block_text(block)
    if not text:
        return "", []
    role = "user" if kind is BlockKind.SYSTEM else "assistant"
    return role, [{"type": "text", "text": text}]


def claude_messages(turn: Turn) -> tuple[str, list[dict[str, Any]]]:
    """``(system, messages)`` for ``turn``."""
    system = ""
    messages: list[dict[str, Any]] = []
    for block in turn.blocks:
        if block.kind is BlockKind.SYSTEM and not system:
            system = block_text(block)
            if system:
                continue
        role, content = _content(block)
        if not content:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": role, "content": list(content)})
    return system, messages


def claude_request(
    config: ProviderConfig, turn: Turn, tools: list[ToolSpec], tool_choice: str | None
) -> dict[str, Any]:
    settings = config.settings
    chat, claude = settings.chat, settings.claude
    system, messages = claude_messages(turn)
    body: dict[str, Any] = {
        "model": config.model,
        "max_tokens": chat.max_response_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
        "stream": True,
    }
    if system:
        body["system"] = system
    thinking = claude.thinking_budget > 0
    if thinking:
        body["thinking"] = {"type": "enabled", "budget_tokens": claude.thinking_budget}
    else:
        if chat.temperature is not None and chat.temperature != 1.0:
            body["temperature"] = chat.temperature
        if chat.top_p is not None and chat.top_p != 1.0:
            body["top_p"] = chat.top_p
        if claude.top_k is not None:
            body["top_k"] = claude.top_k
    if chat.stop:
        body["stop_sequences"] = list(chat.stop)
    if claude.user_id:
        body["metadata"] = {"user_id": claude.user_id}
    if tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
        ]
        if tool_choice in _TOOL_CHOICE:
            body["tool_choice"] = _TOOL_CHOICE[tool_choice]
    schema = structured_output(turn, settings)
    if schema is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema["schema"]}}
    return body
