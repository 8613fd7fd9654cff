"""JS functions plugged into the Python pipeline: engines, middlewares, tool handlers and hooks.

Each adapter is awaited on the inference's asyncio loop and runs its JS function on the runtime's
owner thread (:meth:`JSCallback.acall`), so JS code never runs anywhere else. A JS throw becomes
the reference error (``js engine callback: ...``, ``<middleware>: ...``, ``js tool X: ...``,
``<hook> hook: ...``); a Python exception that JS let through keeps its identity. Turns coming
back from JS were parsed from JSON for this call alone, so they are decoded without copying.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import TYPE_CHECKING, Any

from geppetto.engines.base import Handler, RunContext
from geppetto.errors import EngineError, InferenceCancelled, ToolError, TurnError
from geppetto.js.errors import JSError
from geppetto.js.module.errors import js_message
from geppetto.js.values import JSCallback
from geppetto.tools.scope import current_tool_call
from geppetto.turns.codec import decode_turn, encode_turn
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime
    from geppetto.middleware.chain import Middleware


def _now_ms() -> int:
    return int(time.time() * 1000)


def run_context_fields(ctx: RunContext | None) -> dict[str, Any]:
    """``sessionId``/``inferenceId`` of a run when set, and ``tags`` always (``{}`` when the run has
    none, so ``ctx.tags.x`` never throws in a script)."""
    out: dict[str, Any] = {}
    if ctx is None:
        return out
    for key, value in (("sessionId", ctx.session_id), ("inferenceId", ctx.inference_id)):
        if value:
            out[key] = value
    out["tags"] = dict(ctx.tags)
    return out


class JSEngineFunction:
    """``engines.fromFunction(fn)``: ``fn(turn)`` returns the output turn, or nothing to keep the input."""

    __slots__ = ("_cb",)

    def __init__(self, cb: JSCallback) -> None:
        self._cb = cb

    async def __call__(self, turn: Turn) -> Turn | None:
        try:
            produced = await self._cb.acall(encode_turn(turn))
        except JSError as exc:
            raise EngineError(f"js engine callback: {js_message(exc)}") from exc
        if produced is None:
            return None
        try:
            return decode_turn(produced, copy=False)
        except TurnError as exc:
            raise EngineError(f"js engine callback: {exc}") from exc


def js_middleware(cb: JSCallback, name: str, runtime: JSRuntime) -> Middleware:
    """``fn(turn, next, ctx)``; ``next(t?)`` runs the inner chain (on the inference's loop) and
    returns its encoded output; ``undefined`` from ``fn`` keeps the input turn."""

    def middleware(inner: Handler) -> Handler:
        async def handler(turn: Turn, ctx: RunContext) -> Turn:
            loop = asyncio.get_running_loop()
            spawned: list[concurrent.futures.Future[Turn]] = []
            cancelled: list[bool] = []
            # next() runs on the owner while cancellation is handled on the loop: the check and the
            # spawn are one step, else an inner run started just after the cancel would be missed.
            lock = threading.Lock()

            def next_fn(given: Any = None) -> dict[str, Any]:  # called by JS, on the owner thread
                target = turn if given is None else decode_turn(given, copy=False)
                with lock:
                    if cancelled:  # a JS retry after cancellation must not start a detached inner run
                        raise InferenceCancelled()
                    fut = asyncio.run_coroutine_threadsafe(_call(inner, target, ctx), loop)
                    spawned.append(fut)
                return encode_turn(runtime.wait_for(fut))

            info: dict[str, Any] = {"middlewareName": name, "timestampMs": _now_ms()}
            if turn.id:
                info["turnId"] = turn.id
            info.update(run_context_fields(ctx))
            trace = TurnMetaKeys.TRACE_ID.get(turn.metadata)
            if trace:
                info["traceId"] = trace
            try:
                produced = await cb.acall(encode_turn(turn), next_fn, info)
            except asyncio.CancelledError:
                with lock:
                    cancelled.append(True)
                    started = list(spawned)
                for fut in started:
                    fut.cancel()
                raise
            except JSError as exc:
                raise EngineError(f"{name}: {js_message(exc)}") from exc
            if produced is None:
                return turn
            try:
                return decode_turn(produced, copy=False)
            except TurnError as exc:
                raise EngineError(f"{name}: {exc}") from exc

        return handler

    return middleware


async def _call(handler: Handler, turn: Turn, ctx: RunContext) -> Turn:
    return await handler(turn, ctx)


class JSToolHandler:
    """A JS tool: ``handler(args, ctx)``; its (awaited) return value is the tool result."""

    __slots__ = ("_cb", "name")

    def __init__(self, name: str, cb: JSCallback) -> None:
        self.name = name
        self._cb = cb

    async def __call__(self, args: dict[str, Any], ctx: RunContext) -> Any:
        info: dict[str, Any] = {"toolName": self.name, "timestampMs": _now_ms()}
        info.update(run_context_fields(ctx))
        call = current_tool_call()
        if call is not None:
            info["callId"], info["callName"] = call.call_id, call.name
            if call.deadline_ms is not None:
                info["deadlineMs"] = call.deadline_ms
        try:
            return await self._cb.acall(args, info)
        except JSError as exc:
            raise ToolError(f"js tool {self.name}: {js_message(exc)}") from exc


class JSHook:
    """A tool hook written in JS: receives the reference payload object, returns a decision object.

    A return value that is not an object means "no decision" (the reference reads it as one
    without properties); a throw is a hook failure handled by the fail policy.
    """

    __slots__ = ("_cb",)

    def __init__(self, cb: JSCallback) -> None:
        self._cb = cb

    async def __call__(self, payload: Any) -> Any:
        try:
            decision = await self._cb.acall(payload.to_dict())
        except JSError as exc:
            raise ToolError(js_message(exc)) from exc
        return decision if isinstance(decision, dict) else None
