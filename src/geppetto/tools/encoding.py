"""JSON forms of tool arguments and results.

Results are stored in ``tool_use`` blocks as compact JSON (no spaces, sorted keys), the reference's
``json.Marshal`` form, because scripts and tests search them for substrings like ``"attempts":2``.
Non-ASCII text is kept as it is (as Go does) rather than ``\\u`` escaped.

Encoding runs several times per tool call, so it uses orjson; the stdlib writes what orjson
cannot (integers beyond 64 bits, non-string keys, lone surrogates), and checks output holding a
``null``, which may be a NaN or infinity orjson wrote as null (we refuse those, as the stdlib
does). Floats are written in orjson's form (``1e+16``, ``0.00001``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pydantic_core

from geppetto.errors import ToolError


def to_json_value(value: Any, what: str = "value") -> Any:
    """Plain JSON data for ``value`` (pydantic models, dataclasses, dates... are converted).

    Raises :class:`ToolError` naming ``what`` when the value has no JSON form.
    """
    if value is None or type(value) in _PLAIN:  # the usual tool result: nothing to convert
        return value
    try:
        plain = pydantic_core.to_jsonable_python(value)
        _encode(plain, sort=False)
    except (pydantic_core.PydanticSerializationError, TypeError, ValueError) as exc:
        raise ToolError(f"{what} is not JSON-serializable: {exc}") from exc
    return plain


_PLAIN = (str, int, bool)


def compact_json(value: Any) -> str:
    """``value`` as compact JSON with sorted keys (``{"a":1,"b":[true]}``)."""
    return _encode(value, sort=True)


def _encode(value: Any, *, sort: bool) -> str:
    """Compact JSON; raises ``TypeError``/``ValueError`` exactly where the stdlib would."""
    try:
        out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort else 0)
    except orjson.JSONEncodeError:
        out = b""  # beyond orjson (big integers, int keys, surrogates): the stdlib decides
    if out:
        if b"null" in out:  # maybe a NaN or infinity that orjson wrote as null: the stdlib refuses those
            json.dumps(value, allow_nan=False)
        return out.decode()
    return json.dumps(value, separators=(",", ":"), sort_keys=sort, ensure_ascii=False, allow_nan=False)


def decode_arguments(raw: Any) -> tuple[Any, str]:
    """Decode a tool call's arguments as a model sent them: ``(value, error)``.

    A dict is used as is; a string is parsed as JSON (empty -> ``{}``); ``None`` -> ``{}``. The
    error is ``""`` on success, otherwise it says why the arguments are unusable.
    """
    if raw is None:
        return {}, ""
    if isinstance(raw, str | bytes | bytearray):
        text = raw.decode() if isinstance(raw, bytes | bytearray) else raw
        if not text.strip():
            return {}, ""
        try:
            raw = json.loads(text)
        except ValueError as exc:
            return None, f"invalid JSON arguments: {exc}"
    if not isinstance(raw, dict):
        return None, f"arguments must be a JSON object, got {_json_type(raw)}"
    return raw, ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if value is None:
        return "null"
    return type(value).__name__
