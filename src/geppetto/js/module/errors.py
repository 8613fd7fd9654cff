"""Errors the ``geppetto`` JS module raises, and how JS failures read in Python messages.

Python ``TypeError`` reaches JS as a ``TypeError``; every :class:`~geppetto.errors.GeppettoError`
reaches it as an ``Error`` whose ``.code`` is the exception's ``code`` (the host layer does the
mapping). This module only adds the few errors that have no home in the core packages.
"""

from __future__ import annotations

from geppetto.errors import GeppettoError, InferenceTimeout
from geppetto.js.errors import JSError

__all__ = ["InferenceTimeout", "ModuleUsageError", "js_message", "require_type"]


class ModuleUsageError(GeppettoError):
    """A module call that is well-typed but not allowed (reference ``GoError`` messages)."""

    code = "invalid_argument"


def js_message(exc: BaseException) -> str:
    """A JS failure as one line: the message of a plain ``Error`` (or a thrown non-Error value),
    ``Name: message`` for other error classes, ``str(exc)`` for Python exceptions."""
    if isinstance(exc, JSError):
        if exc.name in ("", "Error"):
            return exc.message
        return f"{exc.name}: {exc.message}"
    return str(exc) or type(exc).__name__


def require_type(value: object, expected: type | tuple[type, ...], where: str, what: str) -> None:
    """Raise ``TypeError("<where>: <what> must be ...")`` unless ``value`` has the expected type."""
    if isinstance(value, bool) and expected in (int, float, (int, float)):
        raise TypeError(f"{where}: {what} must be a number")
    if not isinstance(value, expected):
        names = expected if isinstance(expected, tuple) else (expected,)
        label = " or ".join(_JS_TYPE_NAMES.get(t, t.__name__) for t in names)
        raise TypeError(f"{where}: {what} must be {label}")


_JS_TYPE_NAMES = {str: "a string", int: "a number", float: "a number", bool: "a boolean", dict: "an object"}
