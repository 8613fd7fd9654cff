"""Allowed ranges of the numeric settings, checked once where a value enters :class:`Settings`.

Flags, profile files, config files, ``PINOCCHIO_*`` variables and JS options all reach settings
through :func:`geppetto.settings.fields.coerce`, which calls :func:`number`; a value out of range
fails there, with the range in the message, before any request is built. Messages show the
value only when it is a number: a key pasted into a numeric field must not be echoed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from geppetto.errors import ConfigError

_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^[+-]?(?:nan|inf|infinity)$", re.I)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class NumberRule:
    """The values a numeric setting accepts."""

    low: float | None = None
    high: float | None = None
    whole: bool = False  # an integer
    duration: bool = False  # seconds above 0, or a Go duration string ("30s", "1m30s", "500ms")

    def describe(self) -> str:
        if self.duration:
            return "a duration above 0 (seconds, or like 30s or 2m)"
        kind = "a whole number" if self.whole else "a number"
        if self.low is not None and self.high is not None:
            prefix = f"{kind} " if self.whole else ""
            return f"{prefix}between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"{kind} of at least {self.low:g}"
        return kind


RULES: dict[str, NumberRule] = {
    "ai-max-response-tokens": NumberRule(low=1, whole=True),
    "ai-temperature": NumberRule(low=0, high=2),
    "ai-top-p": NumberRule(low=0, high=1),
    "timeout": NumberRule(duration=True),
    "connect-timeout": NumberRule(duration=True),
    "max-retries": NumberRule(low=0, high=100, whole=True),
    "openai-n": NumberRule(low=1, whole=True),
    "openai-presence-penalty": NumberRule(low=-2, high=2),
    "openai-frequency-penalty": NumberRule(low=-2, high=2),
    "openai-seed": NumberRule(whole=True),
    "claude-top-k": NumberRule(low=1, whole=True),
    "claude-thinking-budget": NumberRule(low=0, whole=True),
    "gemini-thinking-budget": NumberRule(low=-1, whole=True),  # -1: dynamic, 0: off
    "ollama-num-ctx": NumberRule(low=1, whole=True),
}


def _shown(value: Any) -> str:
    """The value for an error message: numbers as written, anything else only by its kind."""
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_TEXT.match(text) or (_DURATION_PART.match(text) and len(text) <= 32):
            return text
        return "a string that is not a number" if text else "an empty string"
    return f"a {type(value).__name__}"


def _duration_seconds(text: str) -> float | None:
    """Seconds of a Go duration (``1h2m3.5s``, ``500ms``); ``None`` when ``text`` is not one."""
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return total if position == len(text) and position > 0 else None


def _as_float(value: Any, rule: NumberRule) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_TEXT.match(text):
            return float(text)
        if rule.duration:
            return _duration_seconds(text)
    return None


def number(name: str, value: Any, kind: type[int] | type[float]) -> int | float:
    """``value`` as field ``name``'s number, or :class:`ConfigError` naming the allowed range."""
    rule = RULES.get(name, NumberRule(whole=kind is int))
    parsed = _as_float(value, rule)
    ok = parsed is not None and math.isfinite(parsed)
    if ok and parsed is not None:
        if rule.whole or kind is int:
            ok = parsed == int(parsed)
        if rule.duration:
            ok = ok and parsed > 0
        if rule.low is not None:
            ok = ok and parsed >= rule.low
        if rule.high is not None:
            ok = ok and parsed <= rule.high
    if not ok or parsed is None:
        raise ConfigError(f"{name} must be {rule.describe()}, got {_shown(value)}")
    return int(parsed) if kind is int else parsed
