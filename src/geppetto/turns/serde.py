"""YAML and JSON serde in the reference format.

Format (both encodings)::

    id: t1                      # omitted when empty
    blocks:                     # always present
      - id: b1                  # omitted when empty
        kind: system            # one of the seven kinds; unknown or missing -> other
        role: system            # omitted when empty
        payload: {text: hi}     # omitted when empty
        metadata: {geppetto.middleware@v1: systemprompt}
    metadata: {geppetto.session_id@v1: s-1}   # canonical ids; omitted when empty
    data: {geppetto.agent_mode@v1: research}

Decoding is strict about structure (a clear :class:`TurnError` naming the offending path) and
lenient only where the reference is (kinds). Normalisation on read and write: a missing payload
becomes ``{}`` and an ``llm_text`` block without a role gets ``assistant``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
import yaml

from geppetto.errors import TurnError
from geppetto.inputs import LIMITS, read_file_text
from geppetto.turns.jsonvalue import MAX_DEPTH, ensure_json
from geppetto.turns.kinds import BlockKind, Role
from geppetto.turns.model import Block, Turn

Format = Literal["yaml", "json"]

_YamlLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _YamlDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Writes shared values out in full: turn files never contain anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def normalize_block(block: Block) -> Block:
    if block.kind is BlockKind.LLM_TEXT and not block.role:
        block.role = Role.ASSISTANT
    return block


def block_to_dict(block: Block) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if block.id:
        out["id"] = block.id
    out["kind"] = block.kind.value
    role = block.role or (Role.ASSISTANT if block.kind is BlockKind.LLM_TEXT else "")
    if role:
        out["role"] = role
    if block.payload:
        out["payload"] = block.payload
    if block.metadata:
        out["metadata"] = block.metadata
    return out


def turn_to_dict(turn: Turn, *, omit_data: bool = False) -> dict[str, Any]:
    """The reference mapping of a turn; values are shared with the turn, not copied."""
    out: dict[str, Any] = {}
    if turn.id:
        out["id"] = turn.id
    out["blocks"] = [block_to_dict(block) for block in turn.blocks]
    if turn.metadata:
        out["metadata"] = turn.metadata
    if turn.data and not omit_data:
        out["data"] = turn.data
    return out


def _expect_mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TurnError(f"{path} must be a mapping (object), got {_type_of(value)}")
    for key in value:
        if not isinstance(key, str):
            raise TurnError(f"{path}: key {key!r} must be a string")
    return value


def _optional_str(mapping: dict[str, Any], key: str, path: str) -> str:
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TurnError(f"{path}.{key} must be a string, got {_type_of(value)}")
    return value


def _type_of(value: Any) -> str:
    names = {dict: "mapping", list: "list", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def block_from_dict(raw: Any, path: str = "block") -> Block:
    mapping = _expect_mapping(raw, path)
    payload = _expect_mapping(mapping.get("payload") or {}, f"{path}.payload")
    metadata = _expect_mapping(mapping.get("metadata") or {}, f"{path}.metadata")
    ensure_json(payload, f"{path}.payload")
    ensure_json(metadata, f"{path}.metadata")
    block = Block(
        kind=BlockKind.parse(mapping.get("kind")),
        role=_optional_str(mapping, "role", path),
        payload=dict(payload),
        metadata=dict(metadata),
        id=_optional_str(mapping, "id", path),
    )
    return normalize_block(block)


def turn_from_dict(raw: Any) -> Turn:
    """Decode the reference mapping; raises :class:`TurnError` naming the offending path."""
    if raw is None:
        return Turn()
    mapping = _expect_mapping(raw, "turn")
    raw_blocks = mapping.get("blocks")
    if raw_blocks is None:
        raw_blocks = []
    if not isinstance(raw_blocks, list):
        raise TurnError(f"turn.blocks must be a list, got {_type_of(raw_blocks)}")
    metadata = _expect_mapping(mapping.get("metadata") or {}, "turn.metadata")
    data = _expect_mapping(mapping.get("data") or {}, "turn.data")
    ensure_json(metadata, "turn.metadata")
    ensure_json(data, "turn.data")
    blocks = [block_from_dict(item, f"blocks[{index}]") for index, item in enumerate(raw_blocks)]
    return Turn(blocks, dict(metadata), dict(data), _optional_str(mapping, "id", "turn"))


def to_yaml(turn: Turn | None, *, omit_data: bool = False) -> str:
    if turn is None:
        return "{}\n"
    turn.validate()
    text: str = yaml.dump(
        turn_to_dict(turn, omit_data=omit_data),
        Dumper=_YamlDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
    return text


def from_yaml(text: str | bytes) -> Turn:
    return turn_from_dict(_yaml_document(text))


def _yaml_document(text: str | bytes) -> Any:
    try:
        _check_yaml_shape(text)
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise TurnError(f"invalid YAML turn: {_yaml_problem(exc)}") from None


_YAML_MAX_DEPTH = MAX_DEPTH + 4  # turn -> blocks -> block -> payload -> value
_YAML_MAX_NODES = 1_000_000  # after expanding aliases


def _check_yaml_shape(text: str | bytes) -> None:
    """Refuse nesting bombs and alias bombs from the event stream, before anything is built.

    libyaml's loader recurses in C without a limit (deep nesting kills the process) and aliases
    let a few lines expand to billions of nodes ("billion laughs"); the event parser is iterative.
    """
    depth = nodes = 0
    sizes: dict[str, int] = {}  # anchor -> expanded node count
    open_nodes: list[tuple[str | None, int]] = []
    for event in yaml.parse(text, Loader=_YamlLoader):
        if isinstance(event, yaml.AliasEvent):
            nodes += sizes.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _YAML_MAX_DEPTH:
                raise TurnError(f"invalid YAML turn: nested more than {_YAML_MAX_DEPTH} levels deep")
            open_nodes.append((event.anchor, nodes))
            nodes += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = open_nodes.pop()
            if anchor:
                sizes[anchor] = nodes - start
        if nodes > _YAML_MAX_NODES:
            raise TurnError(f"invalid YAML turn: more than {_YAML_MAX_NODES:,} values with aliases expanded")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


def to_json(turn: Turn, *, indent: bool = True, omit_data: bool = False) -> str:
    turn.validate()
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(turn_to_dict(turn, omit_data=omit_data), option=option).decode()


def from_json(text: str | bytes) -> Turn:
    return turn_from_dict(_json_document(text))


def _json_document(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TurnError(f"invalid JSON turn: {exc}") from None


def parse_turn(text: str, fmt: Format, *, strict: bool = False) -> Turn:
    """Decode a turn document. ``strict`` (``geppetto turns show``) also refuses what the lenient
    reference reading takes for an empty turn: an empty document and a missing or null ``blocks``."""
    if strict and not text.strip():
        raise TurnError("the turn is empty: expected a turn with a blocks list")
    raw = _json_document(text) if fmt == "json" else _yaml_document(text)
    if strict:
        if raw is None:
            raise TurnError("the turn is empty: expected a turn with a blocks list")
        if isinstance(raw, dict) and "blocks" not in raw:
            raise TurnError("the turn has no blocks: expected a list of blocks (blocks: [] for none)")
        if isinstance(raw, dict) and raw["blocks"] is None:
            raise TurnError("turn.blocks is null: expected a list of blocks (blocks: [] for none)")
    return turn_from_dict(raw)


def detect_format(path: str | Path, text: str | None = None) -> Format:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text is not None and text.lstrip().startswith(("{", "[")) else "yaml"


def load_turn(path: str | Path, *, strict: bool = False) -> Turn:
    """Read a YAML or JSON turn file (format from the extension, else sniffed from the content).

    Files larger than ``LIMITS.turn_file`` are refused (:class:`~geppetto.inputs.InputTooLarge`)."""
    try:
        text = read_file_text(path, LIMITS.turn_file, "turn file")
    except OSError as exc:
        raise TurnError(f"cannot read turn file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TurnError(f"turn file {path} is not UTF-8 text") from None
    try:
        return parse_turn(text, detect_format(path, text), strict=strict)
    except TurnError as exc:
        raise TurnError(f"{path}: {exc}") from None


def save_turn(path: str | Path, turn: Turn, fmt: Format | None = None) -> None:
    fmt = fmt or detect_format(path)
    text = to_json(turn) + "\n" if fmt == "json" else to_yaml(turn)
    Path(path).write_text(text, encoding="utf-8")
