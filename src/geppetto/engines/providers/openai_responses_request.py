"""Blocks -> an OpenAI Responses request.

The runtime is stateless (``store: false``; the whole history is sent every time), so reasoning
items go back with their ``encrypted_content`` (requested with
``include: ["reasoning.encrypted_content"]``); reasoning blocks without it, or from other
providers, are not sent. ``system`` -> system message, ``user`` -> ``input_text`` and
``input_image`` parts, ``llm_text``/``other`` -> assistant ``output_text``, ``tool_call`` ->
``function_call``, ``tool_use`` -> ``function_call_output``.
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


def _item(block: Block) -> dict[str, Any] | None:
    kind = block.kind
    payload = block.payload
    if kind is BlockKind.USER:
        content: list[dict[str, Any]] = []
        text = block_text(block)
        if text:
            content.append({"type": "input_text", "text": text})
        for image in block_images(block):
            if image.file_uri:
                raise unsupported_image("the Responses API", image, "image URLs, file_id and inline images")
            part: dict[str, Any] = {"type": "input_image"}
            if image.file_id:
                part["file_id"] = image.file_id
            else:
                part["image_url"] = image.data_url
            part["detail"] = image.detail or "auto"
            content.append(part)
        return {"role": "user", "content": content} if content else None
    if kind is BlockKind.TOOL_CALL:
        return {
            "type": "function_call",
            "call_id": str(payload.get(PayloadKey.ID) or block.id),
            "name": str(payload.get(PayloadKey.NAME) or ""),
            "arguments": args_json(payload.get(PayloadKey.ARGS)),
        }
    if kind is BlockKind.TOOL_USE:
        return {
            "type": "function_call_output",
            "call_id": str(payload.get(PayloadKey.ID) or ""),
            "output": tool_result_text(block),
        }
    if kind is BlockKind.REASONING:
        encrypted = payload.get(PayloadKey.ENCRYPTED_CONTENT)
        item_id = payload.get(PayloadKey.ITEM_ID)
        if not encrypted or not isinstance(item_id, str) or not item_id.startswith("rs_"):
            return None
        text = block_text(block)
        summary = [{"type": "summary_text", "text": text}] if text else []
        return {"type": "reasoning", "id": item_id, "encrypted_content": encrypted, "summary": summary}
    text = block_text(block)
    if not text:
        return None
    if kind is BlockKind.SYSTEM:
        return {"role": "system", "content": [{"type": "input_text", "text": text}]}
    if kind in (BlockKind.LLM_TEXT, BlockKind.OTHER):
        return {"role": "assistant", "content": [{"type": "output_text", "text": text}]}
    return None


def responses_input(turn: Turn) -> list[dict[str, Any]]:
    return [item for item in (_item(block) for block in turn.blocks) if item is not None]


def responses_request(
    config: ProviderConfig, turn: Turn, tools: list[ToolSpec], tool_choice: str | None
) -> dict[str, Any]:
    settings = config.settings
    chat, openai = settings.chat, settings.openai
    reasoning = is_reasoning_model(config.model)
    body: dict[str, Any] = {
        "model": config.model,
        "input": responses_input(turn),
        "stream": True,
        "store": False,
    }
    if chat.max_response_tokens:
        body["max_output_tokens"] = chat.max_response_tokens
    if reasoning:
        effort: dict[str, Any] = {}
        if openai.reasoning_effort:
            effort["effort"] = openai.reasoning_effort
        if openai.reasoning_summary:
            effort["summary"] = openai.reasoning_summary
        if effort:
            body["reasoning"] = effort
    else:
        if chat.temperature is not None:
            body["temperature"] = chat.temperature
        if chat.top_p is not None:
            body["top_p"] = chat.top_p
    if reasoning or openai.include_reasoning_encrypted:
        body["include"] = ["reasoning.encrypted_content"]
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in tools
        ]
        if tool_choice:
            body["tool_choice"] = tool_choice
        if openai.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = openai.parallel_tool_calls
    schema = structured_output(turn, settings)
    if schema is not None:
        fmt: dict[str, Any] = {
            "type": "json_schema",
            "name": schema["name"],
            "schema": schema["schema"],
            "strict": schema["strict"],
        }
        if schema["description"]:
            fmt["description"] = schema["description"]
        body["text"] = {"format": fmt}
    return body
