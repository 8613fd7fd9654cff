"""Map an MCP ``CallToolResult`` onto a geppetto tool result value.

The tool_use payload stays plain JSON:

* ``isError`` -> :class:`MCPToolError` with the result's text (the tool loop records it as the
  call's error and applies its error policy);
* only text (and text resources) -> one string, parts joined by newlines;
* ``structuredContent`` -> that JSON value;
* any image (or audio, or binary resource) -> an object
  ``{"text": str, "images": [{"media_type": ..., "content": <base64>}], "audio": [...],
  "structured": ...}`` (keys only when present). The image entries use the same shape as the
  images of a user block (:mod:`geppetto.turns.images`), so a caller can attach them to a turn.
"""

from __future__ import annotations

from typing import Any

from geppetto.mcp.errors import MCPToolError


def result_value(server: str, result: Any) -> Any:
    """The JSON value for ``result`` (an ``mcp.types.CallToolResult``); raises on ``isError``."""
    texts: list[str] = []
    images: list[dict[str, str]] = []
    audio: list[dict[str, str]] = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        if kind == "text":
            texts.append(block.text)
        elif kind == "image":
            images.append({"media_type": block.mime_type, "content": block.data})
        elif kind == "audio":
            audio.append({"media_type": block.mime_type, "content": block.data})
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            if isinstance(text, str):
                texts.append(text)
            else:
                mime = getattr(resource, "mime_type", None) or "application/octet-stream"
                entry = {"media_type": mime, "content": str(getattr(resource, "blob", ""))}
                if mime.startswith("image/"):
                    images.append(entry)
                elif mime.startswith("audio/"):
                    audio.append(entry)
                else:
                    texts.append(f"resource: {resource.uri} ({mime}, binary)")
        elif kind == "resource_link":
            texts.append(f"resource: {block.uri}")
    text = "\n".join(texts)
    if result.is_error:
        raise MCPToolError(server, text or "tool reported an error without a message")
    structured = result.structured_content
    if not images and not audio:
        return structured if structured is not None else text
    out: dict[str, Any] = {"text": text}
    if images:
        out["images"] = images
    if audio:
        out["audio"] = audio
    if structured is not None:
        out["structured"] = structured
    return out
