"""``ToolConfig``: how the tool loop and executor behave.

Defaults are the reference's ``DefaultToolConfig`` (parallelism 3, 5 iterations, 30 s timeout,
``continue`` on errors, 2 retries from 1 s doubling). Durations are milliseconds throughout,
the unit JS options already use (``executionTimeoutMs``, ``retryBackoffMs``).

JSON form (the ``geppetto.tool_config@v1`` value in ``Turn.data``)::

    {"enabled": true, "tool_choice": "auto", "max_iterations": 5, "execution_timeout_ms": 30000,
     "max_parallel_tools": 3, "tool_error_handling": "continue",
     "retry_config": {"max_retries": 2, "backoff_base_ms": 1000, "backoff_factor": 2.0}}

plus ``"allowed_tools": [...]`` when set. ``execution_timeout_ms`` is ``null`` when there is no
timeout. :meth:`ToolConfig.from_dict` also reads the reference Go form (``execution_timeout`` and
``retry_config.backoff_base`` as nanoseconds or ``"30s"``), the flat Python field names and the
JS option names (``maxIterations``, ``toolChoice``...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from geppetto.errors import ConfigError

TOOL_CHOICES = ("auto", "none", "required")
ERROR_HANDLING_MODES = ("continue", "abort", "retry")
DEFAULT_MAX_ITERATIONS = 5


@dataclass(slots=True)
class ToolConfig:
    """Tool-loop settings; construction validates (and normalises) them."""

    enabled: bool = True
    tool_choice: str = "auto"
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    execution_timeout_ms: float | None = 30_000
    max_parallel_tools: int = 3
    allowed_tools: list[str] | None = None
    tool_error_handling: str = "continue"
    retry_max_retries: int = 2
    retry_backoff_ms: float = 1_000
    retry_backoff_factor: float = 2.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> ToolConfig:
        """Check every field; raises :class:`ConfigError` naming the field and the bad value.

        Like the reference, ``max_iterations <= 0`` means the default and ``max_parallel_tools``
        is clamped to at least 1.
        """
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"invalid enabled {self.enabled!r}, expected true or false")
        self.tool_choice = _choice("tool_choice", self.tool_choice, TOOL_CHOICES)
        self.tool_error_handling = _choice(
            "tool_error_handling", self.tool_error_handling, ERROR_HANDLING_MODES
        )
        self.max_iterations = _integer("max_iterations", self.max_iterations)
        if self.max_iterations <= 0:
            self.max_iterations = DEFAULT_MAX_ITERATIONS
        self.max_parallel_tools = max(1, _integer("max_parallel_tools", self.max_parallel_tools))
        if self.execution_timeout_ms is not None:
            self.execution_timeout_ms = _number("execution_timeout_ms", self.execution_timeout_ms)
            if self.execution_timeout_ms <= 0:
                raise ConfigError(
                    f"invalid execution_timeout_ms {self.execution_timeout_ms!r}, expected a positive number "
                    "(or None for no timeout)"
                )
        self.retry_max_retries = _integer("retry_max_retries", self.retry_max_retries)
        if self.retry_max_retries < 0:
            raise ConfigError(f"invalid retry_max_retries {self.retry_max_retries}, expected 0 or more")
        self.retry_backoff_ms = _number("retry_backoff_ms", self.retry_backoff_ms)
        if self.retry_backoff_ms < 0:
            raise ConfigError(f"invalid retry_backoff_ms {self.retry_backoff_ms}, expected 0 or more")
        self.retry_backoff_factor = _number("retry_backoff_factor", self.retry_backoff_factor)
        if self.retry_backoff_factor <= 0:
            raise ConfigError(
                f"invalid retry_backoff_factor {self.retry_backoff_factor}, expected a positive number"
            )
        if self.allowed_tools is not None:
            if isinstance(self.allowed_tools, str) or not all(isinstance(n, str) for n in self.allowed_tools):
                raise ConfigError(
                    f"invalid allowed_tools {self.allowed_tools!r}, expected a list of tool names"
                )
            self.allowed_tools = list(self.allowed_tools)
        return self

    # -- derived values --------------------------------------------------------------------

    @property
    def execution_timeout(self) -> float | None:
        """The execution timeout in seconds (``None``: no timeout)."""
        return None if self.execution_timeout_ms is None else self.execution_timeout_ms / 1000

    def backoff_ms(self, attempt: int) -> float:
        """The default wait before retrying after failed attempt ``attempt`` (0-based)."""
        return float(self.retry_backoff_ms * self.retry_backoff_factor**attempt)

    def is_allowed(self, name: str) -> bool:
        return self.allowed_tools is None or name in self.allowed_tools

    # -- JSON form -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enabled": self.enabled,
            "tool_choice": self.tool_choice,
            "max_iterations": self.max_iterations,
            "execution_timeout_ms": _plain(self.execution_timeout_ms),
            "max_parallel_tools": self.max_parallel_tools,
            "tool_error_handling": self.tool_error_handling,
            "retry_config": {
                "max_retries": self.retry_max_retries,
                "backoff_base_ms": _plain(self.retry_backoff_ms),
                "backoff_factor": self.retry_backoff_factor,
            },
        }
        if self.allowed_tools is not None:
            out["allowed_tools"] = list(self.allowed_tools)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, strict: bool = False) -> ToolConfig:
        """Read any of the accepted forms (see the module docstring); ``strict`` rejects unknown keys."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"tool config must be an object, got {type(raw).__name__}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key in ("retry_config", "retry", "retryConfig"):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"invalid {key} {value!r}, expected an object")
                for sub_key, sub_value in value.items():
                    _assign(values, _RETRY_ALIASES.get(sub_key), sub_key, sub_value, strict)
                continue
            _assign(values, _ALIASES.get(key), key, value, strict)
        return cls(**values)


_FIELD_NAMES = {f.name for f in fields(ToolConfig)}
_ALIASES: dict[str, tuple[str, str]] = {name: (name, "") for name in _FIELD_NAMES} | {
    "maxIterations": ("max_iterations", ""),
    "maxParallelTools": ("max_parallel_tools", ""),
    "executionTimeoutMs": ("execution_timeout_ms", ""),
    "execution_timeout": ("execution_timeout_ms", "duration"),
    "toolChoice": ("tool_choice", ""),
    "toolErrorHandling": ("tool_error_handling", ""),
    "retryMaxRetries": ("retry_max_retries", ""),
    "retryBackoffMs": ("retry_backoff_ms", ""),
    "retryBackoffFactor": ("retry_backoff_factor", ""),
    "allowedTools": ("allowed_tools", ""),
}
_RETRY_ALIASES: dict[str, tuple[str, str]] = {
    "max_retries": ("retry_max_retries", ""),
    "backoff_base_ms": ("retry_backoff_ms", ""),
    "backoff_base": ("retry_backoff_ms", "duration"),
    "backoff_factor": ("retry_backoff_factor", ""),
    "maxRetries": ("retry_max_retries", ""),
    "backoffMs": ("retry_backoff_ms", ""),
    "backoffFactor": ("retry_backoff_factor", ""),
}


def _assign(
    values: dict[str, Any], alias: tuple[str, str] | None, key: str, value: Any, strict: bool
) -> None:
    if alias is None:
        if strict:
            raise ConfigError(f"unknown tool config key {key!r}")
        return
    name, kind = alias
    values[name] = duration_ms(value, key) if kind == "duration" and value is not None else value


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def duration_ms(value: Any, what: str = "duration") -> float:
    """A Go duration in milliseconds: integer nanoseconds or a string like ``"1m30s"``/``"500ms"``."""
    if isinstance(value, bool):
        raise ConfigError(f'invalid {what} {value!r}, expected nanoseconds or a duration like "30s"')
    if isinstance(value, int | float):
        return float(value) / 1e6
    if isinstance(value, str):
        text = value.strip()
        if text in ("0", ""):
            return 0.0
        parts = _DURATION_PART.findall(text)
        if parts and "".join(number + unit for number, unit in parts) == text:
            return sum(float(number) * _UNIT_MS[unit] for number, unit in parts)
    raise ConfigError(f'invalid {what} {value!r}, expected nanoseconds or a duration like "30s"')


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    normalised = value.strip().lower() if isinstance(value, str) else value
    if normalised not in allowed:
        raise ConfigError(f"invalid {field} {_quoted(value)}, expected one of: {', '.join(allowed)}")
    return str(normalised)


def _quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _integer(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise ConfigError(f"invalid {field} {value!r}, expected an integer")
    return int(value)


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"invalid {field} {value!r}, expected a number")
    return value


def _plain(value: float | None) -> float | int | None:
    """Whole numbers as ints in JSON (``30000``, not ``30000.0``)."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value
