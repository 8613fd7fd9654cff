"""Batch input: rows from JSONL, CSV or Parquet become :class:`BatchItem` or a located problem.

An item has an ``id`` (string or integer) and either a ``prompt`` (with an optional ``system``), a
full ``turn`` (the turn JSON of :mod:`geppetto.turns.serde`), or, with a template, the fields the
template names. ``profile`` picks a profile for the item and ``settings`` (a mapping of settings
fields, e.g. ``{"ai-temperature": 0.2}``) overrides it; both are validated later, by the same
settings path every run uses. Every other field is kept for the template.

Problems carry their location (``FILE:LINE`` for JSONL and CSV, ``FILE:row N`` for Parquet) so the
CLI can report them and go on with the rest of the input. Input is streamed: JSONL and CSV line
by line, Parquet one row group at a time; :func:`scan_rows` keeps only the ids it has seen.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

_RESERVED = ("id", "prompt", "system", "turn", "profile", "settings")


@dataclass(slots=True)
class BatchItem:
    """One unit of work. ``where`` says where it came from (for messages only)."""

    id: str | int
    prompt: str = ""
    system: str = ""
    turn: dict[str, Any] | None = None
    profile: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    where: str = ""

    @property
    def key(self) -> str:
        """The id as the output and resume know it (``1`` and ``"1"`` are the same item)."""
        return str(self.id)

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping that :func:`parse_item` reads back (for executors that ship items)."""
        out: dict[str, Any] = {"id": self.id, **self.fields}
        if self.turn is not None:
            out["turn"] = self.turn
        else:
            out["prompt"] = self.prompt
        if self.system:
            out["system"] = self.system
        if self.profile is not None:
            out["profile"] = self.profile
        if self.settings:
            out["settings"] = self.settings
        if self.where:
            out["_where"] = self.where
        return out


@dataclass(slots=True)
class InputProblem:
    """A row that cannot run: where it is, its id if it had one, and what to fix."""

    where: str
    message: str
    id: str | int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class Template:
    """``--template 'Classify: {text}'``: :meth:`str.format` over the item's fields."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            raise ValueError(f"invalid --template {text!r}: {exc}") from None
        if any(not name or name.isdigit() for name in self.names):
            raise ValueError(f"invalid --template {text!r}: name each field, e.g. {{text}}")

    def render(self, values: Mapping[str, Any]) -> str:
        missing = [name.split(".")[0].split("[")[0] for name in self.names]
        missing = [name for name in missing if name not in values]
        if missing:
            raise ValueError(f"the template needs field {missing[0]!r}, which this item lacks")
        try:
            return self.text.format_map(dict(values))
        except (KeyError, IndexError, AttributeError, ValueError) as exc:
            raise ValueError(f"the template cannot be filled from this item: {exc}") from None


def _check_id(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"'id' must be a string or an integer, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise ValueError("'id' is empty")
    return value


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string, got {type(value).__name__}")
    return value


def _settings(value: Any) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # CSV and Parquet carry it as JSON text
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("'settings' is not a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError(f"'settings' must be an object of settings fields, got {type(value).__name__}")
    return dict(value)


def parse_item(row: Any, where: str = "", template: Template | None = None) -> BatchItem:
    """One row as an item; :class:`ValueError` says what is wrong with it."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    where = str(row.get("_where") or where)
    if "id" not in row or row["id"] is None or row["id"] == "":
        raise ValueError("missing 'id'")
    item = BatchItem(id=_check_id(row["id"]), where=where)
    item.system = _text(row, "system")
    profile = row.get("profile")
    if profile not in (None, ""):
        if not isinstance(profile, str):
            raise ValueError(f"'profile' must be a string, got {type(profile).__name__}")
        item.profile = profile
    item.settings = _settings(row.get("settings"))
    item.fields = {k: v for k, v in row.items() if k not in _RESERVED and k != "_where"}
    turn = row.get("turn")
    if turn not in (None, ""):
        if isinstance(turn, str):
            try:
                turn = orjson.loads(turn)
            except orjson.JSONDecodeError:
                raise ValueError("'turn' is not valid turn JSON") from None
        if not isinstance(turn, dict):
            raise ValueError(f"'turn' must be a turn object, got {type(turn).__name__}")
        from geppetto.errors import GeppettoError
        from geppetto.turns.serde import turn_from_dict

        try:  # validate now, so the problem is reported with its line
            decoded = turn_from_dict(turn)
        except GeppettoError as exc:
            raise ValueError(f"'turn' is not a valid turn: {exc}") from None
        if not decoded.blocks:
            raise ValueError("'turn' has no blocks: give it at least a user block")
        item.turn = turn
        return item
    if template is not None:
        item.prompt = template.render({k: v for k, v in row.items() if k != "_where"})
    else:
        item.prompt = _text(row, "prompt")
    if not item.prompt.strip():
        need = "a non-empty 'prompt' or a 'turn'"
        if template is not None:
            need = "a non-empty prompt from the template"
        raise ValueError(f"the item needs {need}")
    return item


@dataclass(slots=True)
class ParsedInput:
    """Every runnable item (ids unique) and every problem, in input order."""

    items: list[BatchItem] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def scan_rows(
    rows: Iterable[tuple[str, Any]], template: Template | None = None
) -> Iterator[BatchItem | InputProblem]:
    """Parse ``(where, row)`` pairs as they come: an item, or a problem for a row that is an
    exception (bad JSON), invalid, or a repeat of an earlier id. Only the ids seen are kept
    (for the duplicate check), never the rows."""
    first: dict[str, str] = {}
    for where, row in rows:
        if isinstance(row, Exception):
            yield InputProblem(where, str(row))
            continue
        try:
            item = parse_item(row, where, template)
        except ValueError as exc:
            raw_id = row.get("id") if isinstance(row, dict) else None
            ok_id = raw_id if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else None
            yield InputProblem(where, str(exc), ok_id)
            continue
        seen = first.get(item.key)
        if seen is not None:
            yield InputProblem(where, f"duplicate id {item.id!r} (first at {seen})", item.id)
            continue
        first[item.key] = where
        yield item


def parse_rows(rows: Iterable[tuple[str, Any]], template: Template | None = None) -> ParsedInput:
    """Every item and problem of ``rows`` in two lists (:func:`scan_rows` streams them)."""
    out = ParsedInput()
    for entry in scan_rows(rows, template):
        if isinstance(entry, InputProblem):
            out.problems.append(entry)
        else:
            out.items.append(entry)
    return out


# -- formats ---------------------------------------------------------------------------------


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                yield where, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield where, ValueError(f"invalid JSON: {exc}")


def _csv_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "id" not in reader.fieldnames:
            raise ValueError(f"{path}: the CSV header needs an 'id' column")
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if None in row:
                yield f"{path}:{start}", ValueError("more values than header columns")
                continue
            yield f"{path}:{start}", {k: v for k, v in row.items() if v is not None}


def _parquet_rows(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - pyarrow is a dependency of the batch extra
        raise ValueError("reading Parquet needs pyarrow: pip install 'geppetto[batch]'") from None
    source = pq.ParquetFile(path)
    number = 0
    for group in range(source.num_row_groups):  # one row group in memory at a time
        for row in source.read_row_group(group).to_pylist():
            number += 1
            yield f"{path}:row {number}", {k: v for k, v in row.items() if v is not None}


FORMATS = ("jsonl", "csv", "parquet")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "jsonl"


def input_rows(path: str | Path, fmt: str | None = None) -> Iterator[tuple[str, Any]]:
    """``(where, row)`` pairs of an input file; a bad JSONL line comes as ``(where, ValueError)``."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        return _csv_rows(path)
    if fmt == "parquet":
        return _parquet_rows(path)
    if fmt == "jsonl":
        return _jsonl_rows(path)
    raise ValueError(f"unknown input format {fmt!r}: use one of {', '.join(FORMATS)}")


def read_items(
    path: str | Path, *, fmt: str | None = None, template: str | Template | None = None
) -> ParsedInput:
    """Read and parse a whole input file (ids checked for duplicates)."""
    tpl = Template(template) if isinstance(template, str) else template
    return parse_rows(input_rows(path, fmt), tpl)
