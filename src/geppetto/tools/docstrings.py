"""Split a tool function's docstring into the tool description and per-parameter descriptions.

Only the text is parsed here; the JSON schema itself comes from pydantic. Google (``Args:``),
Sphinx (``:param x:``) and numpy (``Parameters`` + dashes) styles are understood, because those
are what users already write.
"""

from __future__ import annotations

import inspect
import re

_GOOGLE_PARAMS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_SECTIONS = _GOOGLE_PARAMS | {
    "returns",
    "return",
    "yields",
    "raises",
    "examples",
    "example",
    "notes",
    "note",
    "see also",
    "attributes",
    "references",
    "warnings",
    "warning",
}
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}[A-Za-z_]\w*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?([A-Za-z_]\w*)\s*:\s*(.*)$")
_SPHINX_FIELD = re.compile(r"^:\w+")
_NUMPY_RULE = re.compile(r"^-{3,}\s*$")
_NUMPY_ITEM = re.compile(r"^([A-Za-z_]\w*)\s*(?::.*)?$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Return ``(description, {parameter: description})``; missing parts are empty."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    summary: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        header = stripped.rstrip(":").lower()
        if stripped.endswith(":") and header in _GOOGLE_SECTIONS and not line.startswith(" "):
            index = _google_section(lines, index + 1, params if header in _GOOGLE_PARAMS else None)
            continue
        if index + 1 < len(lines) and _NUMPY_RULE.match(lines[index + 1].strip()) and stripped:
            wanted = params if header in ("parameters", "other parameters") else None
            index = _numpy_section(lines, index + 2, wanted)
            continue
        if _SPHINX_FIELD.match(stripped):
            index = _sphinx_field(lines, index, params)
            continue
        summary.append(line)
        index += 1
    return _join_paragraphs(summary), params


def _google_section(lines: list[str], index: int, params: dict[str, str] | None) -> int:
    current: str | None = None
    item_indent = -1
    while index < len(lines):
        line = lines[index]
        if line.strip() and not line.startswith((" ", "\t")):
            break  # dedent: the section is over
        if line.strip():
            indent = len(line) - len(line.lstrip())
            match = _GOOGLE_ITEM.match(line.strip())
            if match and (item_indent < 0 or indent <= item_indent):
                item_indent = indent
                current = match.group(1).lstrip("*")
                if params is not None:
                    params[current] = match.group(2).strip()
            elif current is not None and params is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
        index += 1
    return index


def _numpy_section(lines: list[str], index: int, params: dict[str, str] | None) -> int:
    current: str | None = None
    while index < len(lines):
        line = lines[index]
        if index + 1 < len(lines) and _NUMPY_RULE.match(lines[index + 1].strip()):
            break  # next numpy section header
        if line.strip():
            if not line.startswith((" ", "\t")):
                match = _NUMPY_ITEM.match(line.strip())
                current = match.group(1) if match else None
                if current is not None and params is not None:
                    params.setdefault(current, "")
            elif current is not None and params is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
        index += 1
    return index


def _sphinx_field(lines: list[str], index: int, params: dict[str, str]) -> int:
    match = _SPHINX_PARAM.match(lines[index].strip())
    name = match.group(1) if match else None
    if name is not None and match is not None:
        params[name] = match.group(2).strip()
    index += 1
    while index < len(lines) and lines[index].startswith((" ", "\t")) and lines[index].strip():
        if name is not None:
            params[name] = f"{params[name]} {lines[index].strip()}".strip()
        index += 1
    return index


def _join_paragraphs(lines: list[str]) -> str:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)
