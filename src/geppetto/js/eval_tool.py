"""The ``js_eval`` tool: model-written JavaScript run in the sandbox profile (issue 4, item 5).

Models are better at computing things by writing a few lines of code than by "thinking" the
answer. This tool gives them that scratchpad without giving them the host: every call is one
:func:`~geppetto.js.sandbox.evaluate_untrusted` evaluation (fresh context, memory cap, wall-clock
deadline, no ``require``/filesystem/network/process, only the ``allowed_functions``).

A call returns ``{"value": <completion value>, "logs": [<console lines>]}``. Every failure (timeout,
memory cap, a throw or rejection in the code) raises :class:`JSEvalError`, a :class:`ToolError`
whose message says what happened and repeats the console output written before it, so the tool
loop records it as the ``error`` of the ``tool_use`` block and the model can fix its code.

The handler is synchronous: the tool executor runs it on a worker thread, where the sandbox
context lives for the call. A cancelled inference cannot interrupt that thread; the evaluation
still ends at its own deadline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from geppetto.errors import ToolError
from geppetto.js.errors import SandboxError, SandboxMemoryError, SandboxScriptError, SandboxTimeout
from geppetto.js.sandbox import SandboxResult, evaluate_untrusted
from geppetto.tools.definition import ToolDefinition
from geppetto.tools.errors import ToolArgumentsError

DEFAULT_MEMORY_LIMIT_BYTES = 32 << 20
DEFAULT_DEADLINE_S = 2.0
MAX_LOG_CHARS = 20_000
_ERROR_LOG_CHARS = 2_000  # console output repeated in an error message (the tail is the useful part)

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {
            "type": "string",
            "description": (
                "JavaScript to evaluate. The value of the last expression is returned (a Promise is "
                "awaited); console.log output is returned too."
            ),
        }
    },
    "required": ["code"],
    "additionalProperties": False,
}


class JSEvalError(ToolError):
    """A ``js_eval`` call failed; ``code`` is the sandbox error's (``js_timeout``,
    ``js_memory_limit``, ``js_eval_error``) and ``logs`` the console lines written before."""

    code = "js_eval_error"

    def __init__(self, message: str, *, code: str, logs: list[str]) -> None:
        super().__init__(message)
        self.code = code
        self.logs = logs


def js_eval_tool(
    *,
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    deadline_s: float = DEFAULT_DEADLINE_S,
    allowed_functions: Mapping[str, Callable[..., Any]] | None = None,
    name: str = "js_eval",
) -> ToolDefinition:
    """A tool that evaluates ``{"code": "..."}`` in the JS sandbox.

    ``allowed_functions`` become async globals inside the sandbox (``await lookup("x")``; JSON
    arguments and results, run on helper threads); their names are listed in the description.
    Bad limits or function names raise ``ValueError`` here, not on the model's first call.
    """
    if not _positive(memory_limit_bytes, int):
        raise ValueError(f"memory_limit_bytes must be a positive integer, got {memory_limit_bytes!r}")
    if not _positive(deadline_s, int | float) or not math.isfinite(deadline_s):
        raise ValueError(f"deadline_s must be a positive number of seconds, got {deadline_s!r}")
    allowed = dict(allowed_functions or {})
    if allowed:
        # Validates the names with the sandbox's own rules (a tiny evaluation; cheap, once).
        evaluate_untrusted("undefined", allowed_functions=allowed, deadline_s=max(deadline_s, 1.0))

    def run(args: dict[str, Any]) -> dict[str, Any]:
        code = args.get("code")
        if not isinstance(code, str):
            raise ToolArgumentsError(f"invalid arguments for tool {name}: code must be a string")
        try:
            result = evaluate_untrusted(
                code,
                memory_limit_bytes=memory_limit_bytes,
                deadline_s=deadline_s,
                allowed_functions=allowed,
                max_log_chars=MAX_LOG_CHARS,
            )
        except SandboxError as exc:
            raise _tool_error(exc, memory_limit_bytes, deadline_s) from None
        return _tool_result(result)

    return ToolDefinition(
        name,
        run,
        description=_description(memory_limit_bytes, deadline_s, allowed),
        parameters=PARAMETERS,
        tags=["js", "sandbox"],
    )


def _positive(value: object, kind: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, kind) and value > 0


def _description(memory_limit_bytes: int, deadline_s: float, allowed: Mapping[str, Any]) -> str:
    text = (
        "Evaluate JavaScript in an isolated sandbox and return the value of the last expression "
        "(a returned Promise is awaited) together with the console output. There is no require, "
        "filesystem, network, process or environment; setTimeout and Promises work. Limits: "
        f"{_size(memory_limit_bytes)} of memory, {deadline_s:g} s of wall-clock time."
    )
    if allowed:
        names = ", ".join(f"{fn}()" for fn in sorted(allowed))
        text += f" Async functions available (await them; JSON arguments and results): {names}."
    return text


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def _log_lines(logs: list[tuple[str, str]]) -> list[str]:
    plain = ("log", "info", "debug")
    return [text if level in plain else f"[{level}] {text}" for level, text in logs]


def _tool_result(result: SandboxResult) -> dict[str, Any]:
    out: dict[str, Any] = {"value": result.value, "logs": _log_lines(result.logs)}
    if result.logs_dropped:
        out["logs_dropped"] = result.logs_dropped
    return out


def _tool_error(exc: SandboxError, memory_limit_bytes: int, deadline_s: float) -> JSEvalError:
    if isinstance(exc, SandboxTimeout):
        what = (
            f"js_eval timed out: the code ran past its {deadline_s:g} s deadline "
            "(an endless loop, or a promise that never settles)"
        )
    elif isinstance(exc, SandboxMemoryError):
        what = f"js_eval ran out of memory: the code exceeded its {_size(memory_limit_bytes)} limit"
    elif isinstance(exc, SandboxScriptError):
        what = f"js_eval script error: {exc}"
    else:
        what = f"js_eval failed: {exc}"
    lines = _log_lines(exc.logs)
    if lines:
        output = "\n".join(lines)
        if len(output) > _ERROR_LOG_CHARS:
            output = "..." + output[-_ERROR_LOG_CHARS:]
        what += f"\nconsole output before the failure:\n{output}"
    return JSEvalError(what, code=exc.code, logs=lines)
