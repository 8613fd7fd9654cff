"""Block kinds, roles and payload keys of the reference turn model."""

from __future__ import annotations

from enum import StrEnum


class BlockKind(StrEnum):
    """The seven block kinds; the string values are the wire names."""

    USER = "user"
    LLM_TEXT = "llm_text"
    TOOL_CALL = "tool_call"
    TOOL_USE = "tool_use"
    SYSTEM = "system"
    REASONING = "reasoning"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> BlockKind:
        """Lenient decode used by every codec: unknown, missing or non-string kinds become ``other``."""
        if isinstance(value, BlockKind):
            return value
        if isinstance(value, str):
            return _KIND_BY_NAME.get(value.strip().lower(), BlockKind.OTHER)
        return BlockKind.OTHER


_KIND_BY_NAME = {kind.value: kind for kind in BlockKind}


class Role:
    """Roles carried by blocks; tool blocks have the empty role."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    NONE = ""


class PayloadKey:
    """Keys used inside ``Block.payload``."""

    TEXT = "text"
    ID = "id"
    NAME = "name"
    ARGS = "args"
    RESULT = "result"
    ERROR = "error"
    IMAGES = "images"
    ENCRYPTED_CONTENT = "encrypted_content"
    ITEM_ID = "item_id"
    SUMMARY = "summary"
