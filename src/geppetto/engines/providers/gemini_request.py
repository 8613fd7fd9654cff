"""Blocks -> a Gemini ``streamGenerateContent`` request (REST JSON, camelCase).

``system`` blocks -> ``systemInstruction``; ``user`` -> a user turn with text and images
(``inlineData`` or ``fileData``); ``llm_text``/``other`` -> model text; ``tool_call`` -> a model
``functionCall`` part; ``tool_use`` -> a user ``functionResponse`` part, named after its call.
Thought signatures the engine stored on blocks (``gemini_thought_signature`` block metadata) go
back on the same parts, as Gemini requires for the next turn; reasoning blocks are sent back only
when they carry one. Call ids the engine synthesised (Gemini sent none) are not sent back.
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
    unsupported_image,
)
from geppetto.turns.images import ImagePart
from geppetto.turns.keys import canonical_id
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Block, Turn

SIGNATURE_KEY = canonical_id("gemini_thought_signature")
SYNTHETIC_ID_PREFIX = "gemini-call-"
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def _signed(part: dict[str, Any], block: Block) -> dict[str, Any]:
    signature = block.metadata.get(SIGNATURE_KEY)
    if isinstance(signature, str) and signature:
        part["thoughtSignature"] = signature
    return part


def _user_parts(block: Block) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    text = block_text(block)
    if text:
        parts.append({"text": text})
    for image in block_images(block):
        if image.data:
            parts.append({"inlineData": {"mimeType": image.media_type, "data": image.data}})
        elif image.file_id:
            raise unsupported_image("the Gemini API", image, "image URLs, file_uri and inline images")
        else:
            uri = image.url or image.file_uri
            parts.append({"fileData": {"mimeType": _url_media_type(image), "fileUri": uri}})
    return parts


def _url_media_type(image: ImagePart) -> str:
    """Gemini needs the media type of an image it fetches; guess it from the URL's extension."""
    media_type = image.url_media_type
    if not media_type:
        raise ValueError(
            f"the Gemini API needs the media type of image {(image.url or image.file_uri)[:200]}: "
            'give it as media_type (e.g. {"url": ..., "media_type": "image/png"})'
        )
    return media_type


def _response_object(block: Block) -> dict[str, Any]:
    error = block.payload.get(PayloadKey.ERROR)
    result = block.payload.get(PayloadKey.RESULT)
    if error:
        return {"error": str(error), "result": result}
    return result if isinstance(result, dict) else {"result": result}


def _parts(block: Block, call_names: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    kind = block.kind
    if kind is BlockKind.USER:
        return "user", _user_parts(block)
    if kind is BlockKind.TOOL_CALL:
        call_id = str(block.payload.get(PayloadKey.ID) or "")
        call: dict[str, Any] = {
            "name": str(block.payload.get(PayloadKey.NAME) or ""),
            "args": args_object(block.payload.get(PayloadKey.ARGS)),
        }
        if call_id and not call_id.startswith(SYNTHETIC_ID_PREFIX):
            call["id"] = call_id
        return "model", [_signed({"functionCall": call}, block)]
    if kind is BlockKind.TOOL_USE:
        call_id = str(block.payload.get(PayloadKey.ID) or "")
        response: dict[str, Any] = {"name": call_names.get(call_id, ""), "response": _response_object(block)}
        if call_id and not call_id.startswith(SYNTHETIC_ID_PREFIX):
            response["id"] = call_id
        return "user", [{"functionResponse": response}]
    if kind is BlockKind.REASONING:
        if SIGNATURE_KEY not in block.metadata:
            return "", []
        return "model", [_signed({"text": block_text(block), "thought": True}, block)]
    if kind in (BlockKind.LLM_TEXT, BlockKind.OTHER):
        text = block_text(block)
        if not text and SIGNATURE_KEY not in block.metadata:
            return "", []
        return "model", [_signed({"text": text}, block)]
    return "", []


def gemini_contents(turn: Turn) -> tuple[list[str], list[dict[str, Any]]]:
    """``(system texts, contents)`` for ``turn``; consecutive parts of one role share a turn."""
    call_names = {
        str(b.payload.get(PayloadKey.ID)): str(b.payload.get(PayloadKey.NAME) or "")
        for b in turn.blocks
        if b.kind is BlockKind.TOOL_CALL
    }
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for block in turn.blocks:
        if block.kind is BlockKind.SYSTEM:
            text = block_text(block)
            if text:
                system.append(text)
            continue
        role, parts = _parts(block, call_names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": list(parts)})
    return system, contents


def gemini_request(
    config: ProviderConfig, turn: Turn, tools: list[ToolSpec], tool_choice: str | None
) -> dict[str, Any]:
    settings = config.settings
    chat, gemini = settings.chat, settings.gemini
    system, contents = gemini_contents(turn)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    generation: dict[str, Any] = {}
    if chat.temperature is not None:
        generation["temperature"] = chat.temperature
    if chat.top_p is not None:
        generation["topP"] = chat.top_p
    if chat.max_response_tokens:
        generation["maxOutputTokens"] = chat.max_response_tokens
    if chat.stop:
        generation["stopSequences"] = list(chat.stop)
    thinking: dict[str, Any] = {}
    if gemini.include_thoughts:
        thinking["includeThoughts"] = True
    if gemini.thinking_budget is not None:
        thinking["thinkingBudget"] = gemini.thinking_budget
    if thinking:
        generation["thinkingConfig"] = thinking
    schema = structured_output(turn, settings)
    if schema is not None:
        generation["responseMimeType"] = "application/json"
        generation["responseJsonSchema"] = schema["schema"]
    if generation:
        body["generationConfig"] = generation
    if tools:
        declarations = [
            {"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}
            for t in tools
        ]
        body["tools"] = [{"functionDeclarations": declarations}]
        if tool_choice in _MODES:
            body["toolConfig"] = {"functionCallingConfig": {"mode": _MODES[tool_choice]}}
    return body
