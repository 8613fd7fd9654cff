"""``Turn`` and ``Block``: the conversation model every layer speaks.

A turn is an ordered list of blocks plus two maps: ``metadata`` (facts about the run, e.g.
usage) and ``data`` (configuration that travels with the turn, e.g. tool config). Both maps and
``Block.metadata`` are keyed by canonical ids; see :mod:`geppetto.turns.keys`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from geppetto.turns.jsonvalue import copy_json, ensure_json
from geppetto.turns.kinds import BlockKind, PayloadKey, Role

_BATCH = 256  # ids per os.urandom call
# The variant nibble: "10" in its top bits (RFC 4122), its two low bits kept from the random digit.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_ids: Iterator[str] = iter(())


def _refill() -> str:
    """Make the next ``_BATCH`` ids from one ``os.urandom`` call; return the first."""
    global _ids
    h = os.urandom(16 * _BATCH).hex()
    batch = [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-"
        f"{_VARIANT[h[i + 16]]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * _BATCH, 32)
    ]
    _ids = iter(batch)
    return next(_ids)


def _forget_pool() -> None:
    """A forked child must not hand out the ids its parent will also hand out."""
    global _ids
    _ids = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def new_id() -> str:
    """A random UUID (version 4) string, like ``str(uuid.uuid4())`` at a quarter of its cost:
    every run makes several (session, turn, inference, block and message ids).

    One ``os.urandom`` call (a system call was most of an id's cost) gives the hex digits of 256
    ids at once, formatted together; the version digit is set to 4 and the variant digit to
    8-b. Taking the next id is one ``next()`` on a list iterator, atomic under the GIL, so two
    threads never get the same id; a refill race only discards a batch. The pool is dropped in a
    forked child."""
    return next(_ids, None) or _refill()


@dataclass(slots=True)
class Block:
    """One element of a turn: a prompt, a reply, a tool call or result, reasoning..."""

    kind: BlockKind
    role: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def text(self) -> str | None:
        """``payload["text"]`` when it is a string, else ``None``."""
        value = self.payload.get(PayloadKey.TEXT)
        return value if isinstance(value, str) else None

    def clone(self, *, deep: bool = False) -> Block:
        """New payload and metadata maps; values are shared unless ``deep``."""
        metadata = self.metadata  # usually empty: no call to copy nothing
        if deep:
            return Block(
                self.kind,
                self.role,
                copy_json(self.payload),
                copy_json(metadata) if metadata else {},
                self.id,
            )
        return Block(self.kind, self.role, dict(self.payload), dict(metadata) if metadata else {}, self.id)

    def validate(self, where: str = "block") -> None:
        """Raise :class:`~geppetto.errors.TurnError` if payload or metadata hold non-JSON values."""
        ensure_json(self.payload, f"{where}.payload")
        ensure_json(self.metadata, f"{where}.metadata")

    # Constructors with the reference ids and roles.

    @classmethod
    def user(cls, text: str, images: Iterable[dict[str, Any]] | None = None) -> Block:
        """A user prompt; ``images`` are dicts from :mod:`geppetto.turns.images` (checked here,
        so a malformed one fails when the turn is built, not at the provider)."""
        payload: dict[str, Any] = {PayloadKey.TEXT: text}
        if images:
            from geppetto.turns.images import payload_images  # loaded only when images are used

            payload[PayloadKey.IMAGES] = payload_images(images)
        return cls(BlockKind.USER, Role.USER, payload, id=new_id())

    @classmethod
    def system(cls, text: str) -> Block:
        return cls(BlockKind.SYSTEM, Role.SYSTEM, {PayloadKey.TEXT: text}, id=new_id())

    @classmethod
    def assistant(cls, text: str) -> Block:
        return cls(BlockKind.LLM_TEXT, Role.ASSISTANT, {PayloadKey.TEXT: text}, id=new_id())

    @classmethod
    def reasoning(cls, text: str = "", *, encrypted_content: str | None = None, item_id: str = "") -> Block:
        payload: dict[str, Any] = {}
        if text:
            payload[PayloadKey.TEXT] = text
        if encrypted_content:
            payload[PayloadKey.ENCRYPTED_CONTENT] = encrypted_content
        if item_id:
            payload[PayloadKey.ITEM_ID] = item_id
        return cls(BlockKind.REASONING, Role.ASSISTANT, payload, id=new_id())

    @classmethod
    def tool_call(cls, call_id: str, name: str, args: Any) -> Block:
        """A model's request to run a tool; the block id is the call id, as in the reference."""
        payload = {PayloadKey.ID: call_id, PayloadKey.NAME: name, PayloadKey.ARGS: args}
        return cls(BlockKind.TOOL_CALL, Role.NONE, payload, id=call_id)

    @classmethod
    def tool_use(cls, call_id: str, result: Any, error: str = "") -> Block:
        """A tool's result; ``error`` is always present (``""`` on success)."""
        payload = {PayloadKey.ID: call_id, PayloadKey.RESULT: result, PayloadKey.ERROR: error}
        return cls(BlockKind.TOOL_USE, Role.NONE, payload, id=new_id())


@dataclass(slots=True)
class Turn:
    """An ordered list of blocks with turn-level metadata and data."""

    blocks: list[Block] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @staticmethod
    def builder() -> TurnBuilder:
        return TurnBuilder()

    def clone(self, *, deep: bool = False) -> Turn:
        """A copy whose block list and maps can change without touching this turn.

        Shallow by default (nested values shared, the reference semantics); ``deep`` also copies
        nested dicts and lists, which is what session snapshots use.
        """
        data = self.data  # usually empty: no call to copy nothing
        if deep:
            return Turn(
                [block.clone(deep=True) for block in self.blocks],
                copy_json(self.metadata),
                copy_json(data) if data else {},
                self.id,
            )
        return Turn(
            [block.clone() for block in self.blocks], dict(self.metadata), dict(data) if data else {}, self.id
        )

    def replace_with(self, other: Turn) -> None:
        """Make this object hold ``other``'s content (history keeps its identity across a run)."""
        self.id, self.blocks, self.metadata, self.data = other.id, other.blocks, other.metadata, other.data

    def validate(self) -> None:
        """Raise :class:`~geppetto.errors.TurnError` naming the first non-JSON value."""
        ensure_json(self.metadata, "turn.metadata")
        ensure_json(self.data, "turn.data")
        for index, block in enumerate(self.blocks):
            block.validate(f"blocks[{index}]")

    def append(self, *blocks: Block) -> Turn:
        self.blocks.extend(blocks)
        return self

    def prepend(self, block: Block) -> Turn:
        self.blocks.insert(0, block)
        return self

    def insert_before_last(self, block: Block) -> Turn:
        self.blocks.insert(max(len(self.blocks) - 1, 0), block)
        return self

    def blocks_of(self, *kinds: BlockKind) -> Iterator[Block]:
        return (block for block in self.blocks if block.kind in kinds)

    def assistant_text(self) -> str:
        """The texts of all ``llm_text`` blocks joined by newlines (what a reply 'says')."""
        return "\n".join(b.text for b in self.blocks_of(BlockKind.LLM_TEXT) if b.text)

    def __len__(self) -> int:
        return len(self.blocks)


class TurnBuilder:
    """Fluent construction: ``Turn.builder().system("be brief").user("hi").build()``.

    Empty strings are skipped, like the reference ``TurnBuilder``.
    """

    __slots__ = ("_blocks", "_data", "_id", "_metadata")

    def __init__(self) -> None:
        self._blocks: list[Block] = []
        self._metadata: dict[str, Any] = {}
        self._data: dict[str, Any] = {}
        self._id = ""

    def id(self, turn_id: str) -> TurnBuilder:
        self._id = turn_id
        return self

    def system(self, text: str) -> TurnBuilder:
        if text:
            self._blocks.append(Block.system(text))
        return self

    def user(self, text: str, images: Iterable[dict[str, Any]] | None = None) -> TurnBuilder:
        listed = list(images) if images else []
        if text or listed:
            self._blocks.append(Block.user(text, listed))
        return self

    def assistant(self, text: str) -> TurnBuilder:
        if text:
            self._blocks.append(Block.assistant(text))
        return self

    def blocks(self, blocks: Iterable[Block]) -> TurnBuilder:
        self._blocks.extend(blocks)
        return self

    def metadata(self, key_id: str, value: Any) -> TurnBuilder:
        ensure_json(value, key_id)
        self._metadata[key_id] = value
        return self

    def data(self, key_id: str, value: Any) -> TurnBuilder:
        ensure_json(value, key_id)
        self._data[key_id] = value
        return self

    def build(self) -> Turn:
        return Turn(list(self._blocks), dict(self._metadata), dict(self._data), self._id)
