"""``RunResult`` and ``AgentRun``: what one agent run returns and the handle of a started one."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from geppetto.background import in_loop_thread
from geppetto.errors import InferenceCancelled, InferenceTimeout, SessionError
from geppetto.session.session import ExecutionHandle
from geppetto.turns.codec import encode_turn
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.kinds import BlockKind, Role
from geppetto.turns.model import Turn


def turn_text(turn: Turn | None) -> str:
    """Every assistant text of ``turn`` joined by newlines (earlier replies carried in history too),
    the reference's ``RunResult.text()``."""
    if turn is None:
        return ""
    parts = [
        block.text
        for block in turn.blocks
        if (block.kind is BlockKind.LLM_TEXT or block.role == Role.ASSISTANT) and block.text
    ]
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class RunResult:
    """One finished run.

    ``input_turn`` is the turn as the caller built it, ``effective_turn`` the same after runtime
    stamping (what the pipeline started from), ``output_turn`` what the run produced. Treat them
    as read-only: they are the result's own copies.
    """

    input_turn: Turn
    effective_turn: Turn
    output_turn: Turn
    events: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        return turn_text(self.output_turn)

    @property
    def usage(self) -> dict[str, Any] | None:
        """Token usage the engine reported for this run, if any."""
        meta = self.output_turn.metadata
        usage = meta.get(TurnMetaKeys.USAGE.id)
        if isinstance(usage, dict):
            return usage
        result = meta.get(TurnMetaKeys.INFERENCE_RESULT.id)
        value = result.get("usage") if isinstance(result, dict) else None
        return value if isinstance(value, dict) else None

    @property
    def cost_usd(self) -> float | None:
        """What the run cost in USD as the session recorded it (``None``: not priced)."""
        from geppetto.cost import turn_cost

        return turn_cost(self.output_turn)

    @property
    def stop_reason(self) -> str | None:
        meta = self.output_turn.metadata
        reason = meta.get(TurnMetaKeys.STOP_REASON.id)
        if isinstance(reason, str) and reason:
            return reason
        result = meta.get(TurnMetaKeys.INFERENCE_RESULT.id)
        value = result.get("stop_reason") if isinstance(result, dict) else None
        return value if isinstance(value, str) and value else None

    def to_dict(self) -> dict[str, Any]:
        """The reference ``toJSON()``: the three turns in their plain form and the text."""
        return {
            "inputTurn": encode_turn(self.input_turn),
            "effectiveTurn": encode_turn(self.effective_turn),
            "outputTurn": encode_turn(self.output_turn),
            "text": self.text,
        }


class AgentRun:
    """A started agent run: ``wait()``, ``await run``, ``cancel()``, ``is_running``.

    ``future`` completes with the :class:`RunResult` (or the run's error) once the session is idle
    again; a run that exceeded its timeout fails with :class:`~geppetto.errors.InferenceTimeout`.
    """

    __slots__ = ("_deadline", "_timed_out", "effective_turn", "future", "handle", "input_turn", "timeout_ms")

    def __init__(
        self, handle: ExecutionHandle, input_turn: Turn, effective_turn: Turn, timeout_ms: float | None
    ) -> None:
        self.handle = handle
        self.input_turn = input_turn
        self.effective_turn = effective_turn
        self.timeout_ms = timeout_ms or None
        self.future: concurrent.futures.Future[RunResult] = concurrent.futures.Future()
        self._timed_out = False
        self._deadline: asyncio.TimerHandle | None = None
        loop = handle._loop
        if self.timeout_ms is not None and loop is not None:
            if in_loop_thread(loop):
                self._arm(loop)
            else:
                loop.call_soon_threadsafe(self._arm, loop)
        handle.add_done_callback(self._settle)

    @property
    def session_id(self) -> str:
        return self.handle.session_id

    @property
    def inference_id(self) -> str:
        return self.handle.inference_id

    @property
    def is_running(self) -> bool:
        return not self.future.done()

    def cancel(self) -> None:
        """Stop the run (idempotent; a no-op once it has ended)."""
        self.handle.cancel()

    def wait(self, timeout: float | None = None) -> RunResult:
        """Block until the run ends (not from the loop running it: ``await`` there)."""
        loop = self.handle._loop
        if not self.future.done() and loop is not None and in_loop_thread(loop):
            raise SessionError("wait() would block the event loop running this run; use 'await run'")
        try:
            return self.future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"run {self.inference_id} still running after {timeout}s") from None

    def __await__(self) -> Generator[Any, None, RunResult]:
        return asyncio.wrap_future(self.future).__await__()

    # -- internals ---------------------------------------------------------------------------

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.handle.done() and self.timeout_ms is not None:
            self._deadline = loop.call_later(self.timeout_ms / 1000, self._expire)

    def _expire(self) -> None:
        if not self.handle.done():
            self._timed_out = True
            self.handle.cancel()

    def _settle(self, handle: ExecutionHandle) -> None:
        deadline = self._deadline
        if deadline is not None:
            deadline.cancel()  # runs on the loop thread, where the deadline lives
        try:
            output = handle.wait(0)
        except BaseException as exc:
            if self._timed_out and isinstance(exc, InferenceCancelled) and self.timeout_ms is not None:
                exc = InferenceTimeout(self.timeout_ms)
            self.future.set_exception(exc)
            return
        self.future.set_result(RunResult(self.input_turn, self.effective_turn, output))
