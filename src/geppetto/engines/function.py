"""The function engine: any Python callable (sync or async) used as an engine.

The callable receives the turn (and the :class:`RunContext` when it accepts two arguments) and
returns the output turn, or ``None`` to keep the input turn as it is (the reference semantics).

Events: ``start`` and ``final`` (seed view); for the reference view also one text segment
holding the new assistant text as a single delta, and ``provider-call-finished``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from geppetto.engines.base import RunContext
from geppetto.engines.result import FinishClass, InferenceResult
from geppetto.errors import EngineError, GeppettoError
from geppetto.events.canonical import (
    ProviderCallFinishedEvent,
    TextDeltaEvent,
    TextSegmentFinishedEvent,
    TextSegmentStartedEvent,
    ToolCallRequestedEvent,
)
from geppetto.events.correlation import SEGMENT_TEXT, Correlation, segment_correlation, tool_correlation
from geppetto.events.types import EventMetadata, FinalEvent, StartEvent
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

_RESULT_KEY = TurnMetaKeys.INFERENCE_RESULT.id

EngineFunction = Callable[..., Turn | Awaitable[Turn | None] | None]


class FunctionEngine:
    """Wraps ``fn(turn)`` or ``fn(turn, ctx)``; exceptions become :class:`EngineError`."""

    def __init__(self, fn: EngineFunction, *, name: str = "function") -> None:
        if not callable(fn):
            raise TypeError(f"FunctionEngine requires a callable, got {type(fn).__name__}")
        self._fn = fn
        self._wants_ctx = positional_arity(fn) >= 2
        self.name = name
        self._summary: dict[str, Any] = {}

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        if ctx.sink is None:  # nobody listens (a tool loop's inner passes, batch): no event objects
            return await self._run_quiet(turn, ctx)
        meta = ctx.event_metadata(self.name)
        corr = ctx.next_provider_call("function", meta.message_id)
        ctx.publish(StartEvent(meta, corr))
        before = len(turn.blocks)
        try:
            produced: Any = self._fn(turn, ctx) if self._wants_ctx else self._fn(turn)
            if inspect.isawaitable(produced):
                produced = await produced
        except BaseException as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)
            outcome = FinishClass.INTERRUPTED if cancelled else FinishClass.ERROR
            reason = "cancelled" if cancelled else "error"
            ctx.publish(ProviderCallFinishedEvent(meta, corr, reason, outcome.value))
            if isinstance(exc, GeppettoError) or not isinstance(exc, Exception):
                raise
            raise EngineError(f"{self.name} engine: {exc}") from exc
        try:
            out = self._output(turn, produced)
        except EngineError:
            ctx.publish(ProviderCallFinishedEvent(meta, corr, "error", FinishClass.ERROR.value))
            raise
        new_blocks = out.blocks[before:] if out is turn else out.blocks
        text = "\n".join(b.text for b in new_blocks if b.kind is BlockKind.LLM_TEXT and b.text)
        if text and ctx.sink is not None:
            segment = segment_correlation(corr, "", 0, SEGMENT_TEXT)
            ctx.publish(TextSegmentStartedEvent(meta, segment, "assistant"))
            ctx.publish(TextDeltaEvent(meta, segment, text, text, 1))
            ctx.publish(TextSegmentFinishedEvent(meta, segment, text, "stop"))
        ctx.publish(FinalEvent(meta, text, corr=corr))
        if ctx.sink is not None:
            self._publish_tool_calls(ctx, meta, corr, new_blocks)
            summary = out.metadata.get(TurnMetaKeys.INFERENCE_RESULT.id)
            summary = summary if isinstance(summary, dict) else {}
            finish = str(summary.get("finish_class") or FinishClass.COMPLETED.value)
            stop = str(summary.get("stop_reason") or "")
            calls = any(b.kind is BlockKind.TOOL_CALL for b in new_blocks)
            ctx.publish(ProviderCallFinishedEvent(meta, corr, stop, finish, has_tool_calls=calls))
        ctx.output = out
        return out

    async def _run_quiet(self, turn: Turn, ctx: RunContext) -> Turn:
        """:meth:`run` without a sink: the same turn, errors and call count, no events."""
        ctx.provider_calls += 1  # what next_provider_call counts; its correlation has no reader
        try:
            produced: Any = self._fn(turn, ctx) if self._wants_ctx else self._fn(turn)
            if inspect.isawaitable(produced):
                produced = await produced
        except Exception as exc:
            if isinstance(exc, GeppettoError):
                raise
            raise EngineError(f"{self.name} engine: {exc}") from exc
        out = self._output(turn, produced)
        ctx.output = out
        return out

    def _output(self, turn: Turn, produced: Any) -> Turn:
        """The pass's turn (``None`` means ``turn`` changed in place), with a result recorded."""
        if produced is None:
            out = turn
        elif isinstance(produced, Turn):
            out = produced
        else:
            raise EngineError(f"{self.name} engine must return a Turn or None, got {type(produced).__name__}")
        if _RESULT_KEY not in out.metadata:
            out.metadata[_RESULT_KEY] = self._result()
        return out

    def _result(self) -> dict[str, Any]:
        """What a pass records when the function sets no result of its own: built once per
        name, copied per pass (scalars only, so a shallow copy is a private one)."""
        if self._summary.get("model") != self.name:
            result = InferenceResult(provider="function", model=self.name, finish_class=FinishClass.COMPLETED)
            self._summary = result.to_dict()
        return dict(self._summary)

    @staticmethod
    def _publish_tool_calls(
        ctx: RunContext, meta: EventMetadata, corr: Correlation, blocks: list[Block]
    ) -> None:
        """``tool-call-requested`` (reference view only) for each tool call the function added."""
        for block in blocks:
            if block.kind is not BlockKind.TOOL_CALL:
                continue
            payload = block.payload
            call_id, name = str(payload.get("id") or ""), str(payload.get("name") or "")
            args = payload.get("args")
            if not isinstance(args, str):
                args = orjson.dumps({} if args is None else args, default=str).decode()
            ctx.publish(ToolCallRequestedEvent(meta, tool_correlation(corr, call_id), call_id, name, args))


def positional_arity(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` takes (2 for ``*args``): decides whether a user
    callback also receives the :class:`RunContext`."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
