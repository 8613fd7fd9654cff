"""Errors of the JS host layer (all under :class:`geppetto.errors.GeppettoError`)."""

from __future__ import annotations

from typing import Any

from geppetto.errors import GeppettoError


class JSError(GeppettoError):
    """A value thrown by JS code, seen from Python (e.g. a JS callback that threw).

    ``name``/``message``/``stack`` come from the JS error; ``code`` is the JS ``err.code`` when it
    has one. A non-Error throw (``throw "x"``) has ``name == ""`` and ``thrown`` holds its JSON
    value. If this exception travels back into JS, JS rethrows the original value.
    """

    code = "js_error"

    def __init__(
        self,
        message: str,
        *,
        name: str = "Error",
        stack: str = "",
        code: str | int | None = None,
        thrown: Any = None,
        js_ref: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.stack = stack
        if code is not None:
            self.code = str(code)
        self.thrown = thrown
        self.js_ref = js_ref

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.name else self.message


class JSScriptError(GeppettoError):
    """A script failed: an uncaught exception, an unhandled rejection or a syntax error.

    ``kind`` is ``"uncaughtException"``, ``"unhandledRejection"``, ``"syntaxError"`` or
    ``"unsettledAwait"`` (the top-level body waits on a promise nothing can settle); the subclasses
    below add ``"interrupted"``, ``"timeout"`` and ``"outOfMemory"``.
    :meth:`format` gives the text the CLI prints on stderr (message, then the JS stack).
    """

    code = "js_script_error"

    def __init__(
        self, message: str, *, name: str = "Error", stack: str = "", kind: str = "uncaughtException"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.stack = stack
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.name else self.message

    def format(self) -> str:
        head = str(self)
        if self.kind == "unhandledRejection":
            head = f"Unhandled promise rejection: {head}"
        stack = self.stack.rstrip()
        return f"{head}\n{stack}" if stack else head


class JSScriptInterrupted(JSScriptError):
    """The script was stopped from outside (:meth:`JSRuntime.interrupt`, e.g. on Ctrl-C).

    Busy JS is stopped by the engine's interrupt check, a script waiting on a promise or a
    synchronous host call by its owner loop. The runtime stays interrupted afterwards: every later
    entry into JS fails, so close it.
    """

    code = "js_interrupted"

    def __init__(self, message: str = "script interrupted", *, kind: str = "interrupted") -> None:
        super().__init__(message, name="", kind=kind)


class JSScriptTimeout(JSScriptInterrupted):
    """The script ran past the wall-clock deadline of ``run_script(timeout=...)`` (awaiting included)."""

    code = "js_timeout"

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"script exceeded its {timeout_s:g} s deadline", kind="timeout")
        self.timeout_s = timeout_s


class JSScriptMemoryError(JSScriptError):
    """The script hit the runtime's memory limit (``JSRuntime(memory_limit_bytes=...)``)."""

    code = "js_memory_limit"

    def __init__(self, limit_bytes: int, *, stack: str = "") -> None:
        super().__init__(
            f"script exceeded the JS memory limit of {format_bytes(limit_bytes)}",
            name="",
            stack=stack,
            kind="outOfMemory",
        )
        self.limit_bytes = limit_bytes


def format_bytes(n: int) -> str:
    """``512 MiB``, ``1.5 GiB``, ``64 KiB``: sizes as people write them."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


class JSRuntimeClosed(GeppettoError):
    """The JS runtime was closed; pending and later calls fail with this."""

    code = "js_runtime_closed"

    def __init__(self, message: str = "JS runtime is closed") -> None:
        super().__init__(message)


class JSModuleNotFound(GeppettoError):
    """``require(name)`` of a module the host did not define (JS sees ``MODULE_NOT_FOUND``)."""

    code = "MODULE_NOT_FOUND"

    def __init__(self, name: str) -> None:
        super().__init__(f"Cannot find module '{name}'")
        self.module = name


class SandboxError(GeppettoError):
    """An untrusted evaluation failed. ``logs`` holds the console lines written before the failure."""

    code = "js_sandbox_error"

    def __init__(self, message: str, *, logs: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.logs = list(logs or [])


class SandboxTimeout(SandboxError):
    """The evaluation ran past its wall-clock deadline (runaway loop, endless await)."""

    code = "js_timeout"


class SandboxMemoryError(SandboxError):
    """The evaluation hit the sandbox memory cap."""

    code = "js_memory_limit"


class SandboxScriptError(SandboxError):
    """The evaluated code threw (or its promise rejected); ``name``/``stack`` describe the JS error."""

    code = "js_eval_error"

    def __init__(
        self, message: str, *, name: str = "Error", stack: str = "", logs: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message, logs=logs)
        self.name = name
        self.stack = stack

    def __str__(self) -> str:
        return f"{self.name}: {self.args[0]}" if self.name else str(self.args[0])


def js_exception_to_error(exc: BaseException) -> JSError:
    """A raw binding ``JSException`` ("Name: message\\n stack") as a :class:`JSError`."""
    first, _, stack = str(exc).partition("\n")
    name, sep, message = first.partition(": ")
    if not sep or " " in name:
        name, message = "Error", first
    return JSError(message, name=name, stack=stack)


__all__ = [
    "JSError",
    "JSModuleNotFound",
    "JSRuntimeClosed",
    "JSScriptError",
    "JSScriptInterrupted",
    "JSScriptMemoryError",
    "JSScriptTimeout",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxScriptError",
    "SandboxTimeout",
]
