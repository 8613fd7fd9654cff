"""Tool hooks: user callbacks around each tool call, with the reference contract (spec §1.10).

* ``before_tool_call(payload)`` may change the call's id, name or arguments, or abort it.
* ``after_tool_call(payload)`` sees the call as executed and its result; it may replace the
  result value or the error, or abort (turn the result into an error).
* ``on_tool_error(payload)`` is asked after each failed attempt whether to retry; its decision
  overrides the configured default, bounded only by ``max_hook_retries`` (default 10).

Hooks may be sync or async; they run on the event loop (keep sync hooks quick). They receive a
payload dataclass (``.to_dict()`` gives the reference JS form) and return ``None`` (the default),
a decision dataclass, or a plain dict in the reference shape (``{"action": "abort", "error": ...}``,
``{"retry": True, "backoffMs": 5}``...). Anything else is "junk" and is handled like a hook
that raised: fail-closed (the default) records ``"<hookName> hook: <error>"`` on the call;
fail-open logs it and proceeds as if the hook returned ``None``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from geppetto.errors import ConfigError
from geppetto.tools.call import ToolCall
from geppetto.tools.errors import HookError

log = logging.getLogger("geppetto.tools")

DEFAULT_MAX_HOOK_RETRIES = 10

Hook = Callable[[Any], Any]


class _Unset:
    """Marks a decision field the hook did not set (``None`` is a valid replacement value)."""

    _instance: ClassVar[_Unset | None] = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


# -- payloads ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Payload:
    call: ToolCall
    timestamp_ms: int
    session_id: str = ""
    inference_id: str = ""
    tags: dict[str, Any] = field(default_factory=dict)

    phase: ClassVar[str] = ""

    def _common(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "phase": self.phase,
            "call": self.call.to_dict(),
            "timestampMs": self.timestamp_ms,
        }
        if self.session_id:
            out["sessionId"] = self.session_id
        if self.inference_id:
            out["inferenceId"] = self.inference_id
        if self.tags:
            out["tags"] = dict(self.tags)
        return out


@dataclass(slots=True)
class BeforeToolCallPayload(_Payload):
    """Passed to ``before_tool_call``: the call about to run (arguments decoded, ``{}`` if unusable)."""

    phase: ClassVar[str] = "beforeToolCall"

    def to_dict(self) -> dict[str, Any]:
        return self._common()


@dataclass(slots=True)
class AfterToolCallPayload(_Payload):
    """Passed to ``after_tool_call``: the call as executed and its final result."""

    value: Any = None
    error: str = ""
    duration_ms: float = 0.0

    phase: ClassVar[str] = "afterToolCall"

    def to_dict(self) -> dict[str, Any]:
        out = self._common()
        out["result"] = {"value": self.value, "error": self.error, "durationMs": self.duration_ms}
        return out


@dataclass(slots=True)
class ToolErrorPayload(_Payload):
    """Passed to ``on_tool_error`` after failed attempt ``attempt`` (0-based)."""

    attempt: int = 0
    error: str = ""
    default_retry: bool = False
    default_backoff_ms: float = 0.0
    value: Any = None

    phase: ClassVar[str] = "onToolError"

    def to_dict(self) -> dict[str, Any]:
        out = self._common()
        out.update(
            attempt=self.attempt,
            error=self.error,
            defaultRetry=self.default_retry,
            defaultBackoffMs=self.default_backoff_ms,
            result={"value": self.value, "error": self.error},
        )
        return out


# -- decisions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeforeToolCallDecision:
    """``action`` is ``"proceed"`` or ``"abort"``; set ``id``/``name``/``args`` to change the call."""

    action: str = "proceed"
    error: str | None = None
    id: str | None = None
    name: str | None = None
    args: Any = UNSET

    @classmethod
    def parse(cls, value: Any) -> BeforeToolCallDecision:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        raw = _mapping(value)
        action = _action(raw, ("proceed", "continue", "abort"))
        error = _optional_str(raw, "error")
        changes: dict[str, Any] = {}
        for source in (_nested(raw, "call"), raw):
            for key in ("id", "name"):
                text = _optional_str(source, key)
                if text:
                    changes[key] = text
            if "args" in source:
                changes["args"] = source["args"]
            if "arguments" in source:
                changes["args"] = source["arguments"]
        return cls(action="abort" if action == "abort" else "proceed", error=error, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action}
        for key in ("error", "id", "name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.args is not UNSET:
            out["args"] = self.args
        return out


@dataclass(frozen=True, slots=True)
class AfterToolCallDecision:
    """``result`` replaces the value, ``error`` the error (``""`` clears it); ``"abort"`` fails the call."""

    action: str = "proceed"
    error: str | None = None
    result: Any = UNSET

    @classmethod
    def parse(cls, value: Any) -> AfterToolCallDecision:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        raw = _mapping(value)
        action = _action(raw, ("proceed", "continue", "abort"))
        return cls(
            action="abort" if action == "abort" else "proceed",
            error=_optional_str(raw, "error"),
            result=raw.get("result", UNSET),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action}
        if self.error is not None:
            out["error"] = self.error
        if self.result is not UNSET:
            out["result"] = self.result
        return out


@dataclass(frozen=True, slots=True)
class ToolErrorDecision:
    """``action``: ``"default"`` (the configured decision), ``"retry"``, ``"abort"`` or ``"continue"``
    (both stop retrying). ``backoff_ms`` overrides the wait before a retry (negative -> 0)."""

    action: str = "default"
    backoff_ms: float | None = None

    @classmethod
    def parse(cls, value: Any) -> ToolErrorDecision:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        raw = _mapping(value)
        backoff = raw.get("backoffMs", raw.get("backoff_ms"))
        if backoff is not None and (
            isinstance(backoff, bool) or not isinstance(backoff, int | float) or not math.isfinite(backoff)
        ):
            raise HookError(f"invalid backoffMs {backoff!r}, expected a number")
        backoff_ms = None if backoff is None else max(0.0, float(backoff))
        action = _action(raw, ("default", "retry", "abort", "continue"))
        if action is None:
            if _flag(raw, "abort"):
                action = "abort"
            elif "retry" in raw:
                action = "retry" if _flag(raw, "retry") else "continue"
            else:
                action = "default"
        return cls(action=action, backoff_ms=backoff_ms)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action}
        if self.backoff_ms is not None:
            out["backoffMs"] = self.backoff_ms
        return out


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise HookError(f"invalid return value {value!r}: expected None, a decision or an object")
    return value


def _nested(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise HookError(f"invalid {key} {value!r}: expected an object")
    return value


def _action(raw: Mapping[str, Any], allowed: tuple[str, ...]) -> str | None:
    action = raw.get("action")
    if action is None:
        return "abort" if _flag(raw, "abort") and "abort" in allowed else None
    normalised = action.strip().lower() if isinstance(action, str) else action
    if normalised not in allowed:
        raise HookError(f"invalid action {action!r}, expected one of: {', '.join(allowed)}")
    return str(normalised)


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise HookError(f"invalid {key} {value!r}, expected true or false")
    return value


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise HookError(f"invalid {key} {value!r}, expected a string")
    return value


# -- the hooks object -------------------------------------------------------------------------


@dataclass(slots=True)
class ToolHooks:
    """The three optional callbacks and the policy for hook failures.

    Fail policy (reference order): ``hook_error_policy`` (``"fail-open"``/``"open"`` -> open, any
    other non-empty value -> closed), then ``fail_open`` when it is not ``None`` overrides it.
    Default: fail-closed.
    """

    before_tool_call: Hook | None = None
    after_tool_call: Hook | None = None
    on_tool_error: Hook | None = None
    fail_open: bool | None = None
    hook_error_policy: str = ""
    max_hook_retries: int = DEFAULT_MAX_HOOK_RETRIES

    def __post_init__(self) -> None:
        for name in ("before_tool_call", "after_tool_call", "on_tool_error"):
            fn = getattr(self, name)
            if fn is not None and not callable(fn):
                raise ConfigError(f"tool hook {name} must be callable, got {type(fn).__name__}")
        if isinstance(self.max_hook_retries, bool) or not isinstance(self.max_hook_retries, int):
            raise ConfigError(f"invalid max_hook_retries {self.max_hook_retries!r}, expected an integer")
        if self.max_hook_retries <= 0:  # the reference only accepts positive values
            self.max_hook_retries = DEFAULT_MAX_HOOK_RETRIES

    @property
    def fails_open(self) -> bool:
        policy = (self.hook_error_policy or "").strip().lower()
        is_open = policy in ("fail-open", "open")
        if self.fail_open is not None:
            is_open = bool(self.fail_open)
        return is_open

    @property
    def is_empty(self) -> bool:
        return self.before_tool_call is None and self.after_tool_call is None and self.on_tool_error is None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ToolHooks:
        """Build from a mapping with snake_case or the reference camelCase names."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"tool hooks must be an object, got {type(raw).__name__}")

        def pick(*names: str) -> Any:
            return next((raw[name] for name in names if raw.get(name) is not None), None)

        policy = pick("hook_error_policy", "hookErrorPolicy", "on_hook_error", "onHookError")
        retries = pick("max_hook_retries", "maxHookRetries")
        return cls(
            before_tool_call=pick("before_tool_call", "beforeToolCall"),
            after_tool_call=pick("after_tool_call", "afterToolCall"),
            on_tool_error=pick("on_tool_error", "onToolError"),
            fail_open=pick("fail_open", "failOpen"),
            hook_error_policy=policy if isinstance(policy, str) else "",
            max_hook_retries=retries if retries is not None else DEFAULT_MAX_HOOK_RETRIES,
        )


async def call_hook(fn: Hook, payload: Any) -> Any:
    """Run a sync or async hook and return what it returned. A sync hook runs in a worker
    thread, like a sync tool, so one that blocks (an approval prompt, a slow lookup) does not
    stall the event loop and every other inference on it."""
    if _is_async(fn):
        produced = fn(payload)
    else:
        produced = await asyncio.to_thread(fn, payload)
    if inspect.isawaitable(produced):
        produced = await produced
    return produced


def _is_async(fn: Any) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one (the JS hook adapter)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)
