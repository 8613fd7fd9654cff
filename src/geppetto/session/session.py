"""``Session``: a conversation's history and its one active inference.

Invariants (the reference's, plus the deliberate fixes of DESIGN.md):

* at most one inference runs at a time; a second start raises :class:`SessionAlreadyActive`
  without touching history;
* history is append-only; an inference always targets the latest turn, and when it ends that
  turn holds the result, also when it failed or was cancelled (input kept, partial output
  recorded);
* nothing handed out aliases history: getters and results are deep copies.

Runs execute on an asyncio loop: the caller's for :meth:`Session.arun` (and :meth:`start` when
called from a coroutine), the runtime's background loop for :meth:`Session.run`.

Every run that starts executing publishes ``run-started`` (prompt: the last user text) first and
exactly one of ``run-finished`` (status ``completed``), ``run-stopped`` (reason ``cancelled``) or
``run-failed`` last, after history holds the outcome and before the handle settles. They are core
events outside the seed view (``geppetto.events.canonical``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

from geppetto.background import background_loop, in_loop_thread
from geppetto.engines.base import Engine, RunContext
from geppetto.errors import (
    GeppettoError,
    InferenceCancelled,
    SessionAlreadyActive,
    SessionBuilderMissing,
    SessionEmptyTurn,
    SessionError,
    SessionNotActive,
)
from geppetto.events.canonical import RunFailedEvent, RunFinishedEvent, RunStartedEvent, RunStoppedEvent
from geppetto.events.sinks import EventSink
from geppetto.events.types import Event, Usage
from geppetto.session.builder import EngineBuilder, InferenceRunner, engine_runner
from geppetto.session.persist import RunOutcome, TurnPersister
from geppetto.turns.keys import RunMetaKeys, TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn, new_id

if TYPE_CHECKING:
    from geppetto.store.store import TurnStore

log = logging.getLogger("geppetto.session")

_SESSION_ID = TurnMetaKeys.SESSION_ID.id
_INFERENCE_ID = TurnMetaKeys.INFERENCE_ID.id
_USAGE = TurnMetaKeys.USAGE.id
_RESULT = TurnMetaKeys.INFERENCE_RESULT.id
# Written on every run with values built here (an int, Usage.to_dict()): no JSON check needed.
_DURATION_MS = RunMetaKeys.DURATION_MS.id
_RUN_USAGE = RunMetaKeys.RUN_USAGE.id
_PROFILE = RunMetaKeys.PROFILE.id
_COST_USD = RunMetaKeys.COST_USD.id


# Guards the lazy creation of a handle's cross-thread future against its settlement (all handles
# share it: both sides hold it for a few attribute writes).
_SETTLE_LOCK = threading.Lock()


class ExecutionHandle:
    """One running inference: ``wait()``, ``await handle``, ``cancel()``, ``is_running``.

    The outcome is kept in plain attributes; a ``concurrent.futures.Future`` (a Condition, an
    RLock and two lists) is made only when another thread waits for it (``wait()``, or an
    ``await`` from another loop). Why: ``await session.arun()`` on the run's own loop never needs
    one, and with 1,000 live sessions those objects were a measurable part of the collector's work.
    """

    __slots__ = (
        "_callbacks",
        "_cancel_requested",
        "_done",
        "_error",
        "_future",
        "_inline",
        "_input",
        "_input_copy",
        "_loop",
        "_result",
        "_task",
        "_task_cancels",
        "_waiters",
        "inference_id",
        "session_id",
    )

    def __init__(self, session_id: str, inference_id: str, input_turn: Turn) -> None:
        self.session_id = session_id
        self.inference_id = inference_id
        self._input = input_turn  # a shallow snapshot; deep-copied on first access
        self._input_copy: Turn | None = None
        self._done = False
        self._result: Turn | None = None
        self._error: BaseException | None = None
        self._future: concurrent.futures.Future[Turn] | None = None  # only for other threads
        self._callbacks: list[Callable[[ExecutionHandle], object]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None  # awaiting tasks on the run's loop
        self._cancel_requested = False
        self._inline = False  # runs inside the caller's task (Session.arun), not a task of its own
        self._task_cancels = 0  # task.cancel() calls made for cancel() on that caller's task

    @property
    def input(self) -> Turn:
        """The turn the inference started from (a copy)."""
        if self._input_copy is None:
            self._input_copy = self._input.clone(deep=True)
        return self._input_copy

    @property
    def is_running(self) -> bool:
        return not self._done

    def done(self) -> bool:
        return self._done

    def add_done_callback(self, fn: Callable[[ExecutionHandle], object]) -> None:
        """Call ``fn(handle)`` once the inference has ended (at once if it already has), on the
        thread that ended it: layers above (agents, the JS host) chain their own results here."""
        with _SETTLE_LOCK:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        _call_back(fn, self)

    def cancel(self) -> None:
        """Ask the inference to stop; idempotent and a no-op once it has finished."""
        self._cancel_requested = True
        task, loop = self._task, self._loop
        if task is None or loop is None or self._done:
            return  # a task attached later sees the request in _attach()
        if self._inline:
            # The task is the caller's: cancel it only while it is suspended inside this run, never
            # from inside its own step (it could be past the run by the time it next awaits).
            if in_loop_thread(loop):
                loop.call_soon(self._cancel_inline)
            else:
                loop.call_soon_threadsafe(self._cancel_inline)
            return
        if in_loop_thread(loop):
            task.cancel()
        else:
            loop.call_soon_threadsafe(task.cancel)

    def wait(self, timeout: float | None = None) -> Turn:
        """Block until the inference ends; returns the output turn or raises its error."""
        if self._done:
            return self._outcome()
        if self._loop is not None and in_loop_thread(self._loop):
            raise SessionError("wait() would block the event loop running this inference; use 'await handle'")
        try:
            return self._thread_future().result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"inference {self.inference_id} still running after {timeout}s") from None

    def __await__(self) -> Generator[Any, None, Turn]:
        """Wait without blocking; cancelling the awaiting task does not cancel the inference."""
        loop = self._loop
        if not self._done:
            if loop is not None and in_loop_thread(loop):
                waiter: asyncio.Future[None] = loop.create_future()
                if self._waiters is None:
                    self._waiters = []
                self._waiters.append(waiter)
                yield from waiter.__await__()
            else:
                return (yield from asyncio.wrap_future(self._thread_future()).__await__())
        return self._outcome()

    def _outcome(self) -> Turn:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _thread_future(self) -> concurrent.futures.Future[Turn]:
        """The future another thread waits on, made on first use (settled at once if done)."""
        with _SETTLE_LOCK:
            future = self._future
            if future is None:
                future = self._future = concurrent.futures.Future()
                if self._done:
                    _complete(future, self._result, self._error)
            return future

    def _cancel_inline(self) -> None:
        if not self._done and self._task is not None:
            self._task_cancels += 1
            self._task.cancel()

    def _attach(self, task: asyncio.Task[Any]) -> None:
        """Called on the loop thread once the task exists; honours an earlier cancel()."""
        self._task = task
        if self._cancel_requested:
            task.cancel()

    def _settle(self, result: Turn | None, error: BaseException | None) -> None:
        with _SETTLE_LOCK:
            if self._done:
                return
            self._result, self._error = result, error
            self._done = True
            future, callbacks = self._future, self._callbacks
            self._callbacks = None
        if future is not None:
            _complete(future, result, error)
        for fn in callbacks or ():
            _call_back(fn, self)
        for waiter in self._waiters or ():
            if self._loop is not None and not in_loop_thread(self._loop):
                self._loop.call_soon_threadsafe(_wake, waiter)
            else:
                _wake(waiter)
        self._waiters = None


def _complete(
    future: concurrent.futures.Future[Turn], result: Turn | None, error: BaseException | None
) -> None:
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


def _call_back(fn: Callable[[ExecutionHandle], object], handle: ExecutionHandle) -> None:
    """Like ``concurrent.futures``: a failing done-callback is logged, never raised into the run."""
    try:
        fn(handle)
    except Exception:
        log.exception("done callback of inference %s failed", handle.inference_id)


def _prompt(turn: Turn) -> str:
    """The run's prompt as the reference's ``run-started`` carries it: the last user text."""
    for block in reversed(turn.blocks):
        if block.kind is BlockKind.USER and block.text:
            return block.text
    return ""


def _publish_outcome(ctx: RunContext, error: BaseException | None) -> None:
    """``run-finished``/``run-stopped``/``run-failed``; a failing sink never breaks settlement."""
    event: Event
    if error is None:
        if not ctx.wants(RunFinishedEvent):
            return
        event = RunFinishedEvent(ctx.run_metadata(), ctx.run_correlation(), "completed")
    elif isinstance(error, InferenceCancelled):
        if not ctx.wants(RunStoppedEvent):
            return
        event = RunStoppedEvent(ctx.run_metadata(), ctx.run_correlation(), "cancelled")
    else:
        if not ctx.wants(RunFailedEvent):
            return
        message = str(error) or type(error).__name__
        event = RunFailedEvent(ctx.run_metadata(), ctx.run_correlation(), message, error)
    try:
        ctx.publish(event)
    except Exception:
        log.exception("event sink failed on %s", event.type)


def _record_run(turn: Turn, ctx: RunContext, runner: InferenceRunner, started: float, stale: Any) -> None:
    """Write the run's facts on its final turn: wall time, profile, summed usage and its cost.

    The usage is what the run's model calls added to ``ctx``; an engine that does not report
    through it (a custom one) counts with the ``usage`` it wrote, unless that equals the one the
    turn already had from the previous run (``stale``: a copy that came back, e.g. through JS)."""
    meta = turn.metadata
    meta[_DURATION_MS] = int((time.monotonic() - started) * 1000)
    if runner.profile:
        RunMetaKeys.PROFILE.set(meta, runner.profile)
    else:
        meta.pop(_PROFILE, None)
    usage: Usage | None = ctx.usage
    written = meta.get(_USAGE)
    if usage is None and isinstance(written, dict) and written is not stale and written != stale:
        usage = Usage.from_dict(written)
    if usage is None:
        meta.pop(_RUN_USAGE, None)
        meta.pop(_COST_USD, None)
        return
    meta[_RUN_USAGE] = usage.to_dict()
    if runner.model_info is None or runner.model_info.cost is None:
        meta.pop(_COST_USD, None)
        return
    from geppetto.cost import usage_cost  # only priced runs pay for the import

    cost = usage_cost(usage, runner.model_info)
    if cost is None:
        RunMetaKeys.COST_USD.delete(meta)
        return
    RunMetaKeys.COST_USD.set(meta, cost)
    result = meta.get(_RESULT)
    if isinstance(result, dict) and isinstance(result.get("usage"), dict):
        # the reference's per-result cost: this (last) call's own usage, priced
        meta[_RESULT] = {**result, "cost": usage_cost(result["usage"], runner.model_info)}


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Session:
    """A conversation: an append-only list of turns and at most one running inference."""

    def __init__(
        self,
        builder: EngineBuilder | Engine | None = None,
        *,
        session_id: str | None = None,
        turns: Iterable[Turn] = (),
        store: TurnPersister | None = None,
    ) -> None:
        self.id = session_id or new_id()
        self.store = store
        self._builder: EngineBuilder | None = None
        self._engine: Engine | None = None  # a bare engine: run as EngineBuilder(engine) would
        self._runner: InferenceRunner | None = None
        self.builder = builder
        self._turns: list[Turn] = []
        self._lock = threading.Lock()
        self._active: ExecutionHandle | None = None
        for turn in turns:
            self.append(turn)

    @property
    def builder(self) -> EngineBuilder | None:
        """What this session runs (for a bare engine, an ``EngineBuilder`` made when asked for)."""
        if self._builder is None and self._engine is not None:
            self._builder = EngineBuilder(self._engine)
        return self._builder

    @builder.setter
    def builder(self, builder: EngineBuilder | Engine | None) -> None:
        self._runner = None
        if builder is None or isinstance(builder, EngineBuilder):
            self._builder, self._engine = builder, None
        else:
            self._builder, self._engine = None, builder

    @classmethod
    def resume(
        cls,
        store: TurnStore,
        builder: EngineBuilder | Engine | None = None,
        *,
        session_id: str | None = None,
        last: int | None = None,
    ) -> Session:
        """Continue a stored conversation: its turns (the ``last`` N, or all) become the history
        and new runs are stored under the same id. ``session_id`` may be a unique prefix;
        without one the most recently active session is resumed."""
        from geppetto.store.errors import SessionNotFound

        sid = store.resolve_session(session_id) if session_id else store.latest_session_id()
        if sid is None:
            raise SessionNotFound(f"{store.path} holds no session to resume yet")
        return cls(builder, session_id=sid, turns=store.load_turns(sid, last=last), store=store)

    # -- history ---------------------------------------------------------------------------

    def append(self, turn: Turn, *, copy: bool = True) -> Turn:
        """Add a copy of ``turn`` to history (stamped with the session id) and return a copy of it.

        ``copy=False`` hands the turn over instead: history keeps this very object and returns it,
        so the caller may read it but must not change it (the JS layer passes turns it has just
        decoded and only serializes the result).
        """
        stored = turn.clone(deep=True) if copy else turn
        stored.metadata.setdefault(_SESSION_ID, self.id)
        with self._lock:
            self._turns.append(stored)
        return stored.clone(deep=True) if copy else stored

    def latest(self) -> Turn | None:
        with self._lock:
            return self._turns[-1].clone(deep=True) if self._turns else None

    @property
    def turn_count(self) -> int:
        return len(self._turns)

    def turns(self) -> list[Turn]:
        with self._lock:
            return [turn.clone(deep=True) for turn in self._turns]

    def get_turn(self, index: int) -> Turn | None:
        """A copy of turn ``index`` (0-based) or ``None`` when out of range (negative included)."""
        with self._lock:
            if 0 <= index < len(self._turns):
                return self._turns[index].clone(deep=True)
            return None

    def turns_range(self, start: int = 0, end: int | None = None) -> list[Turn]:
        """Copies of turns ``start..end`` with the reference's clamping (never raises)."""
        with self._lock:
            count = len(self._turns)
            end = count if end is None else end
            start = min(max(start, 0), count)
            end = min(max(end, start), count)
            return [turn.clone(deep=True) for turn in self._turns[start:end]]

    def append_user_prompt(self, *prompts: str) -> Turn:
        """Start the next turn: the latest turn's blocks plus one user block per non-empty prompt."""
        with self._lock:
            if self._active is not None:
                raise SessionAlreadyActive()
            base = self._turns[-1].clone(deep=True) if self._turns else Turn()
            base.blocks.extend(Block.user(prompt) for prompt in prompts if prompt)
            base.id = new_id()
            base.metadata[_SESSION_ID] = self.id
            base.metadata.pop(_INFERENCE_ID, None)
            self._turns.append(base)
            return base.clone(deep=True)

    # -- running ---------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._active is not None

    def start(
        self,
        seed: Turn | None = None,
        *,
        sinks: Iterable[EventSink] = (),
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> ExecutionHandle:
        """Start an inference on the latest turn (``seed`` is appended first) and return its handle.

        The inference runs on ``loop`` when given; else, called from a coroutine, on that
        coroutine's loop; otherwise on the runtime's background loop.
        """
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = background_loop()
        return self._start(seed, sinks, loop)

    def run(
        self, seed: Turn | None = None, *, sinks: Iterable[EventSink] = (), timeout: float | None = None
    ) -> Turn:
        """Run an inference to completion from synchronous code (also safe inside a running loop)."""
        handle = self._start(seed, sinks, background_loop())
        try:
            return handle.wait(timeout)
        except KeyboardInterrupt:
            handle.cancel()
            with contextlib.suppress(InferenceCancelled):
                handle.wait()
            raise

    async def arun(self, seed: Turn | None = None, *, sinks: Iterable[EventSink] = ()) -> Turn:
        """Run an inference on the current loop; cancelling the awaiting task cancels the inference.

        The run executes inside the calling task (no task and waiter of its own: that was a
        fixed cost per run). ``cancel()`` on its handle cancels that task while it is inside the
        run, and arun then takes the cancellation back (``uncancel``) and raises
        :class:`InferenceCancelled`; a cancellation of the caller from elsewhere still ends the
        run (history records it) and propagates as ``CancelledError``.
        """
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:  # a coroutine driven by hand: no task to run in
            handle = self._start(seed, sinks, loop)
            try:
                return await handle
            except asyncio.CancelledError:
                handle.cancel()
                raise
        # The handle never leaves arun, so nobody can read its input: no snapshot for it.
        handle, target, work, ctx, runner = self._prepare(seed, sinks, loop, snapshot=False)
        handle._inline, handle._task = True, task
        if handle._cancel_requested:  # cancelled (from another thread) before it could start
            self._abandon(handle)
            return handle._outcome()
        try:
            interrupted = await self._execute(handle, target, work, ctx, runner)
        finally:
            for _ in range(handle._task_cancels):
                task.uncancel()
        if interrupted and (not handle._task_cancels or task.cancelling()):
            raise asyncio.CancelledError()
        return handle._outcome()

    def cancel_active(self) -> None:
        handle = self._active
        if handle is None:
            raise SessionNotActive()
        handle.cancel()

    def _start(
        self, seed: Turn | None, sinks: Iterable[EventSink], loop: asyncio.AbstractEventLoop
    ) -> ExecutionHandle:
        handle, latest, work, ctx, runner = self._prepare(seed, sinks, loop)

        def spawn() -> None:
            task = loop.create_task(self._execute(handle, latest, work, ctx, runner))
            task.add_done_callback(lambda _: self._abandon(handle))
            handle._attach(task)

        if in_loop_thread(loop):
            spawn()
        else:
            loop.call_soon_threadsafe(spawn)
        return handle

    def _prepare(
        self,
        seed: Turn | None,
        sinks: Iterable[EventSink],
        loop: asyncio.AbstractEventLoop,
        *,
        snapshot: bool = True,
    ) -> tuple[ExecutionHandle, Turn, Turn, RunContext, InferenceRunner]:
        """Claim the session and snapshot the turn a run starts from (no task yet)."""
        runner = self._runner
        if runner is None:
            if self._builder is not None:
                runner = self._builder.build()
            elif self._engine is not None:
                runner = engine_runner(self._engine)
            else:
                raise SessionBuilderMissing()
            self._runner = runner
        with self._lock:
            if self._active is not None:
                raise SessionAlreadyActive()
            if seed is not None:
                stored = seed.clone(deep=True)
                stored.metadata.setdefault(_SESSION_ID, self.id)
                self._turns.append(stored)
            if not self._turns or not self._turns[-1].blocks:
                raise SessionEmptyTurn()
            latest = self._turns[-1]
            latest.id = latest.id or new_id()
            inference_id = new_id()
            latest.metadata[_SESSION_ID] = self.id
            latest.metadata[_INFERENCE_ID] = inference_id
            # History is replaced, never mutated, when the run ends: shallow copies are enough here.
            work = latest.clone()
            handle = ExecutionHandle(self.id, inference_id, latest.clone() if snapshot else latest)
            self._active = handle
        sink, event_types = runner.route(sinks)
        ctx = RunContext(
            session_id=self.id,
            inference_id=inference_id,
            turn_id=latest.id,
            sink=sink,
            tools=runner.tools,
            event_types=event_types,
        )
        handle._loop = loop
        return handle, latest, work, ctx, runner

    async def _execute(
        self, handle: ExecutionHandle, target: Turn, work: Turn, ctx: RunContext, runner: InferenceRunner
    ) -> bool:
        """Run the pipeline and settle the handle; True when it ended on a ``CancelledError``."""
        started = time.monotonic()
        stale_usage = target.metadata.get(_USAGE)  # the previous run's, until _finish replaces it
        # The settlement is a method called with the run's state, not a closure over it: a closure
        # would keep seven cells and a function alive per in-flight run for the collector to walk.
        try:
            if ctx.wants(RunStartedEvent):
                ctx.publish(
                    RunStartedEvent(ctx.run_metadata(), ctx.run_correlation(), _prompt(work), turn=work)
                )
            out = await runner.run(work, ctx)
        except asyncio.CancelledError:
            stopped = InferenceCancelled()
            self._settle_run(handle, target, ctx, runner, started, stale_usage, ctx.output or work, stopped)
            return True
        except BaseException as exc:
            self._settle_run(handle, target, ctx, runner, started, stale_usage, ctx.output or work, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not isinstance(out, Turn):
                error = GeppettoError(f"pipeline returned {type(out).__name__}, expected a Turn")
                self._settle_run(handle, target, ctx, runner, started, stale_usage, work, error)
            else:
                self._settle_run(handle, target, ctx, runner, started, stale_usage, out, None)
        return False

    def _settle_run(
        self,
        handle: ExecutionHandle,
        target: Turn,
        ctx: RunContext,
        runner: InferenceRunner,
        started: float,
        stale_usage: Any,
        produced: Turn,
        error: BaseException | None,
    ) -> None:
        try:
            _record_run(produced, ctx, runner, started, stale_usage)
        except Exception:
            log.exception("could not record the usage of run %s", handle.inference_id)
        self._finish(handle, target, produced, error, ctx)

    def _finish(
        self,
        handle: ExecutionHandle,
        target: Turn,
        produced: Turn,
        error: BaseException | None,
        ctx: RunContext | None = None,
    ) -> None:
        """Commit what the run produced into the history turn, publish the run's outcome event,
        persist it, release the session, settle the handle (in that order: a woken waiter sees a
        stored, idle session, and listeners see the outcome before the handle settles)."""
        with self._lock:
            produced.id = produced.id or target.id
            produced.metadata[_SESSION_ID] = self.id
            produced.metadata[_INFERENCE_ID] = handle.inference_id
            target.replace_with(produced)
            result = None if error is not None else target.clone(deep=True)
        if ctx is not None and ctx.sink is not None:
            _publish_outcome(ctx, error)
        self._persist(target, error)
        self._release(handle)
        handle._settle(result, error)

    def _persist(self, turn: Turn, error: BaseException | None) -> None:
        if self.store is None:
            return
        if error is None:
            outcome = RunOutcome.COMPLETED
        elif isinstance(error, InferenceCancelled):
            outcome = RunOutcome.CANCELLED
        else:
            outcome = RunOutcome.FAILED
        try:
            self.store.persist_turn(
                self.id, turn, outcome=outcome, error=None if error is None else str(error)
            )
        except Exception:
            log.exception("could not persist turn %s of session %s", turn.id, self.id)

    def _release(self, handle: ExecutionHandle) -> None:
        with self._lock:
            if self._active is handle:
                self._active = None

    def _abandon(self, handle: ExecutionHandle) -> None:
        """The task is done; if it never settled the handle (cancelled before its first step),
        release the session now. Runs on the loop thread, so a task is never outlived by its handle."""
        if handle.done():
            return
        error = InferenceCancelled()
        with self._lock:
            latest = self._turns[-1]
        self._persist(latest, error)
        self._release(handle)
        handle._settle(None, error)
