"""Sandbox profile for model-written JS (the future ``js_eval`` tool).

Each evaluation gets a fresh quickjs context with a memory cap, a stack cap and a wall-clock
deadline, and nothing else: no ``require`` modules, no filesystem, network, process or
environment, no Python callables. The only ways out are the ``allowed_functions``, which the code
sees as Promise-returning globals (``await lookup("x")``); they run on helper threads and their
arguments/results cross as JSON.

Deadline enforcement has two parts: the loop checks the wall clock between JS entries and while
waiting on timers or allowed functions, and every entry runs under quickjs's time limit set to the
remaining budget. That limit counts *process* CPU time, so with other busy threads it fires early,
never late, for JS that spins. An allowed function that overruns cannot be killed; its thread is
abandoned and the evaluation fails with :class:`SandboxTimeout`.

The context lives on the calling thread for the duration of the call (one context, one thread),
so callers on an asyncio loop should use ``asyncio.to_thread(evaluate_untrusted, ...)``.
"""

from __future__ import annotations

import functools
import json
import keyword
import queue
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import quickjs  # type: ignore[import-untyped]

from geppetto.js.errors import SandboxError, SandboxMemoryError, SandboxScriptError, SandboxTimeout
from geppetto.js.sources import SANDBOX_ENTRIES, sandbox_boot

_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_RESERVED = {"require", "console", "globalThis", "setTimeout", "setInterval", "clearTimeout", "clearInterval"}


@dataclass(frozen=True)
class SandboxResult:
    """Outcome of a successful evaluation: the (awaited) completion value and console lines."""

    value: Any
    logs: list[tuple[str, str]] = field(default_factory=list)
    duration_s: float = 0.0
    logs_dropped: int = 0

    @property
    def output(self) -> str:
        plain = ("log", "info", "debug")
        return "\n".join(text if level in plain else f"[{level}] {text}" for level, text in self.logs)


class _Deadline(Exception):
    pass


class _Evaluation:
    """One sandboxed run; owns its context for its whole life on the calling thread."""

    def __init__(
        self,
        memory_limit_bytes: int,
        deadline_s: float,
        allowed: Mapping[str, Callable[..., Any]],
        max_stack_bytes: int,
    ) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + deadline_s
        self.deadline_s = deadline_s
        self.allowed = dict(allowed)
        self.ctx = quickjs.Context()
        self.ctx.eval(sandbox_boot())
        self.e = {name: self.ctx.eval(f"__geppetto_entries.{name}") for name in SANDBOX_ENTRIES}
        self.ctx.eval("delete globalThis.__geppetto_entries")
        self.ctx.set_memory_limit(memory_limit_bytes)
        self.ctx.set_max_stack_size(max_stack_bytes)
        self.done: queue.SimpleQueue[tuple[int, bool, str]] = queue.SimpleQueue()
        self.in_flight = 0
        self.pool: ThreadPoolExecutor | None = None
        self.logs: list[tuple[str, str]] = []
        self.dropped = 0

    def enter(self, fn: Any, *args: Any) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline()
        self.ctx.set_time_limit(remaining)
        try:
            return fn(*args)
        except quickjs.JSException as exc:
            text = str(exc)
            if "interrupted" in text.split("\n", 1)[0]:
                raise _Deadline() from None
            raise

    def drain(self) -> None:
        while self.enter(self.ctx.execute_pending_job):
            pass

    def run(self, code: str, max_log_chars: int) -> Any:
        config = json.dumps({"functions": sorted(self.allowed), "maxLogChars": max_log_chars})
        self.enter(self.e["start"], config, code)
        while True:
            self.drain()
            self.dispatch(self.enter(self.e["drainOutbox"]))
            outcome = json.loads(self.enter(self.e["result"]))
            if outcome["state"] != "pending":
                return outcome
            delay_ms = self.enter(self.e["nextTimer"])
            if delay_ms < 0 and self.in_flight == 0:
                return {"state": "stuck"}
            self.wait(None if delay_ms < 0 else delay_ms / 1000.0)

    def dispatch(self, outbox: str) -> None:
        if not outbox:
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="js-sandbox-call")
        for req_id, name, args_json in json.loads(outbox):
            self.in_flight += 1
            fut = self.pool.submit(_call_json, self.allowed[name], args_json)
            fut.add_done_callback(functools.partial(self._finished, req_id))

    def _finished(self, req_id: int, fut: Future[Any]) -> None:
        self.done.put(self._outcome(req_id, fut))

    @staticmethod
    def _outcome(req_id: int, fut: Future[Any]) -> tuple[int, bool, str]:
        exc = fut.exception()
        if exc is None:
            try:
                return req_id, True, orjson.dumps(fut.result()).decode()
            except TypeError as err:
                exc = err
        name = "TypeError" if isinstance(exc, TypeError) else "Error"
        code = getattr(exc, "code", None)
        message = str(exc) or type(exc).__name__
        info = {"name": name, "message": message, "code": code if isinstance(code, str) else None}
        return req_id, False, json.dumps(info)

    def wait(self, timer_delay: float | None) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline()
        timeout = remaining if timer_delay is None else min(timer_delay, remaining)
        try:
            req_id, ok, payload = self.done.get(timeout=timeout)
        except queue.Empty:
            if timer_delay is not None and timer_delay <= timeout:
                self.enter(self.e["fireTimer"])
            return
        self.in_flight -= 1
        self.enter(self.e["settle"], req_id, ok, payload)

    def collect_logs(self) -> None:
        try:
            self.ctx.set_time_limit(1.0)
            data = json.loads(self.e["takeLogs"]())
        except Exception:  # out of memory or interrupted while collecting: keep what we have
            return
        self.logs.extend((level, text) for level, text in data["logs"])
        self.dropped = data["dropped"]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.e = {}
        self.ctx = None


def evaluate_untrusted(
    code: str,
    *,
    memory_limit_bytes: int = 32 << 20,
    deadline_s: float = 2.0,
    allowed_functions: Mapping[str, Callable[..., Any]] | None = None,
    max_stack_bytes: int = 256 << 10,
    max_log_chars: int = 20_000,
) -> SandboxResult:
    """Evaluate untrusted ``code``; return its completion value (a returned Promise is awaited).

    Raises :class:`SandboxTimeout` past ``deadline_s``, :class:`SandboxMemoryError` at the memory
    cap, :class:`SandboxScriptError` when the code throws or its promise rejects (or can never
    settle). Every error carries the console lines written so far in ``.logs``.
    """
    allowed = dict(allowed_functions or {})
    for name in allowed:
        if not _IDENT.match(name) or keyword.iskeyword(name) or name in _RESERVED:
            raise ValueError(f"invalid sandbox function name {name!r}")
    run = _Evaluation(memory_limit_bytes, deadline_s, allowed, max_stack_bytes)
    try:
        try:
            outcome = run.run(code, max_log_chars)
        except _Deadline:
            run.collect_logs()
            message = f"evaluation exceeded its {deadline_s:g} s deadline"
            raise SandboxTimeout(message, logs=run.logs) from None
        except quickjs.JSException as exc:
            run.collect_logs()
            raise _classify_raw(str(exc), run.logs) from None
        run.collect_logs()
        if outcome["state"] == "ok":
            return SandboxResult(
                value=json.loads(outcome["json"]),
                logs=run.logs,
                duration_s=time.monotonic() - run.started,
                logs_dropped=run.dropped,
            )
        if outcome["state"] == "stuck":
            raise SandboxScriptError("the evaluation's promise can never settle", logs=run.logs)
        info = outcome["info"]
        if _is_out_of_memory(info):
            raise SandboxMemoryError("evaluation exceeded its memory limit", logs=run.logs)
        raise SandboxScriptError(
            str(info.get("message", "")),
            name=str(info.get("name", "")),
            stack=str(info.get("stack", "")),
            logs=run.logs,
        )
    finally:
        run.close()


def _call_json(fn: Callable[..., Any], args_json: str) -> Any:
    return fn(*json.loads(args_json))


def _is_out_of_memory(info: Mapping[str, Any]) -> bool:
    """quickjs throws InternalError "out of memory", or plain ``null`` when even that error object
    cannot be allocated (the usual case after many small allocations). Model-written code does not
    ``throw null``, so a thrown null counts as running out of memory."""
    message = str(info.get("message"))
    if info.get("name") == "InternalError" and "out of memory" in message:
        return True
    return bool(info.get("nonError")) and message == "null"


def _classify_raw(text: str, logs: list[tuple[str, str]]) -> SandboxError:
    first, _, stack = text.partition("\n")
    if "out of memory" in first or first.strip() == "null":
        return SandboxMemoryError("evaluation exceeded its memory limit", logs=logs)
    name, sep, message = first.partition(": ")
    if not sep:
        name, message = "Error", first
    return SandboxScriptError(message, name=name, stack=stack, logs=logs)
