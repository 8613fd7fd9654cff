"""Human-readable turn printers.

:func:`format_turn` is the reference ``FprintTurn`` (one line per block, used by
``geppetto infer``); :class:`PrettyPrinter` is the detailed view used by ``geppetto turns show``.
Both are for people: by default control characters in the text are shown, not obeyed
(:func:`geppetto.terminal_text.safe_text`), so a turn cannot drive the terminal it is printed on.
Pass ``safe=False`` for the raw text (JSON/YAML are the exact forms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TextIO

import orjson

from geppetto.terminal_text import safe_text
from geppetto.turns.kinds import BlockKind, PayloadKey, Role
from geppetto.turns.model import Block, Turn

_TEXT_LABELS = {
    BlockKind.SYSTEM: "system",
    BlockKind.USER: "user",
    BlockKind.LLM_TEXT: "assistant",
}


def compact_json(value: Any) -> str:
    """One-line JSON with sorted keys (the reference's ``json.Marshal`` form)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return repr(value)


def _text(block: Block) -> str | None:
    value = block.payload.get(PayloadKey.TEXT)
    if value is None:
        return None
    return value if isinstance(value, str) else compact_json(value)


def format_block_line(block: Block, *, safe: bool = True) -> str:
    """The reference one-line form of a block."""
    line = _block_line(block)
    return safe_text(line) if safe else line


def _block_line(block: Block) -> str:
    kind = block.kind
    if kind in _TEXT_LABELS:
        text = _text(block)
        line = f"{_TEXT_LABELS[kind]}: {text if text is not None else '<no text>'}"
        if kind is BlockKind.USER and PayloadKey.IMAGES in block.payload:
            from geppetto.turns.images import describe_images

            images = describe_images(block.payload[PayloadKey.IMAGES])
            return f"{line} {images}" if images else line
        return line
    if kind is BlockKind.REASONING:
        text = _text(block)
        if text:
            return f"reasoning: {text}"
        if block.payload.get(PayloadKey.ENCRYPTED_CONTENT):
            return "reasoning: <encrypted content>"
        return "reasoning: <no content>"
    if kind is BlockKind.TOOL_CALL:
        return f"tool_call: {block.payload.get(PayloadKey.NAME, '')}"
    if kind is BlockKind.TOOL_USE:
        line = f"tool_use: id={block.payload.get(PayloadKey.ID, '')}"
        error = block.payload.get(PayloadKey.ERROR)
        return f"{line} error={error}" if error else line
    return "other block kind"


def format_turn(turn: Turn, *, safe: bool = True) -> str:
    return "".join(format_block_line(block, safe=safe) + "\n" for block in turn.blocks)


def print_turn(turn: Turn, out: TextIO, *, safe: bool = True) -> None:
    out.write(format_turn(turn, safe=safe))


@dataclass
class PrettyPrinter:
    """Detailed, multi-line rendering of a turn, with optional ids, roles and tool details."""

    include_ids: bool = False
    include_roles: bool = True
    include_tool_detail: bool = True
    include_metadata: bool = False
    indent: int = 0
    max_text_lines: int = 0
    safe: bool = True

    def format(self, turn: Turn) -> str:
        pad = " " * self.indent
        lines: list[str] = []
        if self.include_ids and turn.id:
            lines.append(f"{pad}turn id={turn.id}")
        for index, block in enumerate(turn.blocks):
            prefix = f"{pad}[{index:02d}] "
            if self.include_ids and block.id:
                prefix += f"id={block.id} "
            lines.extend(self._block_lines(block, prefix, pad + "  "))
        if self.include_metadata:
            for title, mapping in (("metadata", turn.metadata), ("data", turn.data)):
                if mapping:
                    lines.append(f"{pad}{title}:")
                    lines.extend(f"{pad}  {key}: {compact_json(value)}" for key, value in mapping.items())
        text = "".join(line + "\n" for line in lines)
        return safe_text(text) if self.safe else text

    def print(self, turn: Turn, out: TextIO) -> None:
        out.write(self.format(turn))

    def _label(self, block: Block) -> str:
        if self.include_roles and block.role:
            return {Role.USER: "user", Role.ASSISTANT: "assistant", Role.SYSTEM: "system"}.get(
                block.role, block.role
            )
        return block.kind.value

    def _block_lines(self, block: Block, prefix: str, detail: str) -> list[str]:
        payload = block.payload
        if block.kind is BlockKind.TOOL_CALL:
            name, call_id = payload.get(PayloadKey.NAME, ""), payload.get(PayloadKey.ID, "")
            lines = [f"{prefix}tool_call: name={name} id={call_id}"]
            if self.include_tool_detail:
                lines.append(f"{detail}args: {compact_json(payload.get(PayloadKey.ARGS))}")
            return lines
        if block.kind is BlockKind.TOOL_USE:
            lines = [f"{prefix}tool_result: id={payload.get(PayloadKey.ID, '')}"]
            if self.include_tool_detail:
                if payload.get(PayloadKey.ERROR):
                    lines.append(f"{detail}error: {payload[PayloadKey.ERROR]}")
                result = payload.get(PayloadKey.RESULT)
                shown = result if isinstance(result, str) else compact_json(result)
                lines.append(f"{detail}result: {shown}")
            return lines
        if block.kind is BlockKind.REASONING and not _text(block):
            return [format_block_line(block).replace("reasoning:", f"{prefix}reasoning:", 1)]
        if block.kind is BlockKind.OTHER and _text(block) is None:
            return [f"{prefix}other: {compact_json(payload)}"]
        text = _text(block)
        body = self._clip("<no text>" if text is None else text).split("\n")
        lines = [f"{prefix}{self._label(block)}: {body[0]}"]
        lines.extend(f"{detail}{line}" for line in body[1:])
        if PayloadKey.IMAGES in payload:
            from geppetto.turns.images import describe_images

            if images := describe_images(payload[PayloadKey.IMAGES]):
                lines.append(f"{detail}{images}")
        if self.include_metadata and block.metadata:
            lines.append(f"{detail}metadata: {compact_json(block.metadata)}")
        return lines

    def _clip(self, text: str) -> str:
        if self.max_text_lines <= 0:
            return text
        lines = text.split("\n")
        if len(lines) <= self.max_text_lines:
            return text
        hidden = len(lines) - self.max_text_lines
        return "\n".join([*lines[: self.max_text_lines], f"... ({hidden} more lines)"])
