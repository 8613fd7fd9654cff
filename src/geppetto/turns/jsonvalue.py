"""Validation and copying of the JSON-like values that payloads, metadata and data hold."""

from __future__ import annotations

import math
from typing import Any

from geppetto.errors import TurnError

JSONScalar = (str, int, float, bool, type(None))

# Nesting allowed inside one payload/metadata/data map. Every encoder must accept what a decoder
# accepted: orjson encodes at most 255 levels in all (a turn adds 4), and deeper values make the
# recursive walkers here and in PyYAML fail with RecursionError or a C stack overflow.
MAX_DEPTH = 100

# The integers JSON encoders here write exactly (orjson: signed and unsigned 64-bit).
INT_MIN, INT_MAX = -(2**63), 2**64 - 1


def ensure_json(value: Any, where: str) -> None:
    """Raise :class:`TurnError` naming the path of the first value JSON cannot represent
    (or that is nested more than :data:`MAX_DEPTH` levels deep)."""
    if not _is_json(value, 0):
        _check(value, where, 0)  # the slower walk that names the path


_PLAIN = frozenset((str, bool, type(None)))


def _is_json(value: Any, depth: int) -> bool:
    """The check of :func:`_check` without building paths (the common, valid case)."""
    kind = type(value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str:
                return _check_quietly(value, depth)
            if type(item) not in _PLAIN and not _is_json(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth >= MAX_DEPTH:
            return False
        return all(type(item) in _PLAIN or _is_json(item, depth + 1) for item in value)
    if kind in _PLAIN:
        return True
    if kind is int:
        return bool(INT_MIN <= value <= INT_MAX)
    if kind is float:
        return math.isfinite(value)
    return _check_quietly(value, depth)


def _check_quietly(value: Any, depth: int) -> bool:
    """Subclasses (StrEnum values, tuples, dict subclasses...) take the general walk."""
    try:
        _check(value, "", depth)
    except TurnError:
        return False
    return True


def _check(value: Any, path: str, depth: int) -> None:
    if isinstance(value, str | bool) or value is None:
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise TurnError(f"{path}: integer {value} is outside the 64-bit range JSON encoders accept")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TurnError(f"{path}: {value!r} is not a JSON number (NaN and infinity are not allowed)")
        return
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        raise TurnError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TurnError(f"{path}: object key {key!r} must be a string")
            _check(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]", depth + 1)
        return
    raise TurnError(f"{path}: value of type {type(value).__name__} is not JSON-serializable")


def copy_json(value: Any) -> Any:
    """Deep copy of dicts and lists (leaves are immutable scalars), much faster than ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:  # a C-level copy, then only nested containers copied (no comprehension frame)
        out = value.copy()
        for key, item in out.items():
            if type(item) not in _SCALARS:  # containers, their subclasses, anything else
                out[key] = copy_json(item)  # replacing a value while iterating is allowed
        return out
    if kind is list:
        copied = value.copy()
        for index, item in enumerate(copied):
            if type(item) not in _SCALARS:
                copied[index] = copy_json(item)
        return copied
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})
