"""Prompt and completion content in the GenAI conventions' message shapes (opt-in only).

``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions`` are JSON
strings (span attributes cannot hold nested structures): a list of ``{role, parts}`` with parts
``text``, ``tool_call`` (id, name, arguments), ``tool_call_response`` (id, result), ``reasoning``
and ``uri`` (image URLs; inline image bytes are left out, only their media type is kept).
Only block payloads are read: metadata and data (where settings could hide) never are.
"""

from __future__ import annotations

from typing import Any

import orjson

from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

MAX_CHARS = 65_536  # a cap per attribute: backends drop or truncate larger values anyway


def dumps(value: Any) -> str:
    """Compact JSON, capped at :data:`MAX_CHARS` (a cut value ends with ``...[truncated]``)."""
    text = orjson.dumps(value, default=str).decode()
    if len(text) > MAX_CHARS:
        return text[:MAX_CHARS] + "...[truncated]"
    return text


def input_messages(turn: Turn) -> tuple[str, str]:
    """``(system_instructions, input_messages)`` JSON for the blocks a model call is sent."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for block in turn.blocks:
        if block.kind is BlockKind.SYSTEM:
            if block.text:
                system.append({"type": "text", "content": block.text})
            continue
        role, parts = _parts(block)
        if not parts:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["parts"].extend(parts)
        else:
            messages.append({"role": role, "parts": parts})
    return (dumps(system) if system else ""), dumps(messages)


def output_messages(text: str, tool_calls: list[dict[str, Any]], finish_reason: str) -> str:
    """One assistant message: its text and the tool calls it asked for."""
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "text", "content": text})
    parts.extend(tool_calls)
    return dumps([{"role": "assistant", "parts": parts, "finish_reason": finish_reason or "stop"}])


def tool_call_part(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": decode(arguments)}


def decode(raw: str) -> Any:
    """Arguments or results arrive as JSON text; the conventions want the object when it is one."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def _parts(block: Block) -> tuple[str, list[dict[str, Any]]]:
    payload = block.payload
    kind = block.kind
    if kind is BlockKind.USER:
        parts = [{"type": "text", "content": block.text}] if block.text else []
        return "user", parts + _images(payload.get("images"))
    if kind is BlockKind.LLM_TEXT:
        return "assistant", [{"type": "text", "content": block.text}]
    if kind is BlockKind.REASONING:
        return "assistant", ([{"type": "reasoning", "content": block.text}] if block.text else [])
    if kind is BlockKind.TOOL_CALL:
        args = payload.get("args")
        call = {
            "type": "tool_call",
            "id": str(payload.get("id") or ""),
            "name": str(payload.get("name") or ""),
            "arguments": decode(args) if isinstance(args, str) else args,
        }
        return "assistant", [call]
    if kind is BlockKind.TOOL_USE:
        error = payload.get("error")
        result = payload.get("result")
        result = f"Error: {error}" if error else (decode(result) if isinstance(result, str) else result)
        return "tool", [{"type": "tool_call_response", "id": str(payload.get("id") or ""), "result": result}]
    return "user", []


def _images(images: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for image in images if isinstance(images, list) else ():
        if not isinstance(image, dict):
            continue
        url = str(image.get("url") or "")
        if url and not url.startswith("data:"):
            out.append({"type": "uri", "modality": "image", "uri": url})
        else:
            out.append({"type": "blob", "modality": "image", "mime_type": str(image.get("media_type") or "")})
    return out
