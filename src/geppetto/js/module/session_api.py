"""The JS ``Session`` object: history getters, ``run``, ``runAsync`` and ``start`` (spec §1.8, §9).

Runs execute on the runtime's background asyncio loop; JS callbacks they need run on the JS owner
thread. A synchronous ``run()`` waits with :meth:`JSRuntime.wait_for`, so the owner keeps serving
those callbacks meanwhile. ``runAsync``/``start`` register the inference before returning (a
second call fails at once, without appending its seed) and settle their promise on the owner after
the session is idle again and after every event of the run was delivered.

A ``start()`` handle's listeners get the seed view for the seed's names and ``"*"``, and the
reference view (``geppetto.events.reference_view`` payloads) for the reference's other names
(``run-started``, ``text-delta``, ``tool-result-ready``...). Which reference names are wanted is
decided on the owner thread when the event is delivered, so a listener added in the same tick as
``start()`` sees the run's first events; events nobody listens to are never rendered.

To JS such a run stays active until its promise settles, not until the inference ends on the asyncio
thread: otherwise whether ``s.runAsync(a); s.runAsync(b)`` fails, or what ``isRunning()`` says
between two statements, would depend on thread timing. The owner job that settles the promise is
the one that ends the run for JS (:meth:`HostPromise.resolve`'s ``before``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geppetto.background import background_loop
from geppetto.errors import InferenceCancelled, SessionAlreadyActive
from geppetto.events.sinks import CallbackSink, EventSink
from geppetto.events.types import Event
from geppetto.events.views import seed_view
from geppetto.js.module.errors import InferenceTimeout
from geppetto.js.module.events_api import SEED_NAMES, reference_payloads
from geppetto.js.module.turns_api import to_turn
from geppetto.js.values import HostPromise, JSCallback
from geppetto.middleware.run_tags import RunTags
from geppetto.session.session import ExecutionHandle, Session
from geppetto.turns.codec import encode_turn
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime


@dataclass(slots=True)
class RunOptions:
    timeout_ms: float | None = None
    tags: dict[str, Any] | None = None


def parse_run_options(opts: Mapping[str, Any] | None, where: str) -> RunOptions:
    """``{timeoutMs, tags}`` (``timeoutMs`` 0 means no timeout)."""
    if opts is None:
        return RunOptions()
    if not isinstance(opts, Mapping):
        raise TypeError(f"{where}: options must be an object")
    timeout = opts.get("timeoutMs")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
            raise TypeError(f"{where}: timeoutMs must be a number")
        if timeout < 0:
            raise TypeError(f"{where}: timeoutMs must be >= 0")
    tags = opts.get("tags")
    if tags is not None and not isinstance(tags, dict):
        raise TypeError(f"{where}: tags must be an object")
    return RunOptions(float(timeout) if timeout else None, dict(tags) if tags else None)


class RunControl:
    """What ``handle.cancel()`` of a ``start()`` handle reaches (no-op once the run is over), and
    the reference-vocabulary names its listeners want (owner thread only)."""

    __js_class__ = "RunControl"
    __slots__ = ("__weakref__", "delivered", "handle", "seed_wanted", "wanted")

    def __init__(self, handle: ExecutionHandle | None) -> None:
        self.handle = handle
        self.wanted: set[str] = set()  # reference-only names listened to
        self.seed_wanted: set[str] = set()  # seed names (and "*") listened to
        self.delivered: dict[str, int] = {}  # segment id -> last delta sequence JS received

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def subscribe(self, name: str) -> None:
        """A listener for ``name``: seed names keep the seed view; others get reference payloads."""
        if name in SEED_NAMES or name == "*":
            self.seed_wanted.add(name)
        else:
            self.wanted.add(name)

    def seed_payload(self, event: Event) -> dict[str, Any] | None:
        """The seed payload when a listener wants it (``"*"`` or its type), else ``None``."""
        wanted = self.seed_wanted
        if not event.seed or not wanted or ("*" not in wanted and event.type.value not in wanted):
            return None
        return seed_view(event)


async def _outcome(handle: ExecutionHandle) -> Turn:
    return await handle


class _Run:
    """One started inference: its handle, optional deadline, and the future of its outcome."""

    __slots__ = ("deadline", "future", "handle", "timed_out", "timeout_ms")

    def __init__(self, handle: ExecutionHandle, timeout_ms: float | None) -> None:
        self.handle = handle
        self.timeout_ms = timeout_ms
        self.timed_out = False
        self.deadline: asyncio.TimerHandle | None = None
        loop = background_loop()
        self.future: concurrent.futures.Future[Turn] = asyncio.run_coroutine_threadsafe(
            _outcome(handle), loop
        )
        if timeout_ms is not None:
            loop.call_soon_threadsafe(self._arm, loop, timeout_ms)
            self.future.add_done_callback(lambda _f: loop.call_soon_threadsafe(self._disarm))

    def _arm(self, loop: asyncio.AbstractEventLoop, timeout_ms: float) -> None:
        if not self.handle.done():
            self.deadline = loop.call_later(timeout_ms / 1000, self._expire)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()

    def _expire(self) -> None:
        if not self.handle.done():
            self.timed_out = True
            self.handle.cancel()

    def error(self, exc: BaseException) -> BaseException:
        if self.timed_out and isinstance(exc, InferenceCancelled) and self.timeout_ms is not None:
            return InferenceTimeout(self.timeout_ms)
        return exc


class JSSession:
    """The JS ``Session`` object (``id`` is its only visible property)."""

    __js_class__ = "Session"
    __js_props__ = ("id",)
    __slots__ = ("__weakref__", "_unsettled_run", "runtime", "session", "tags")

    def __init__(self, runtime: JSRuntime, session: Session, tags: RunTags) -> None:
        self.runtime = runtime
        self.session = session
        self.tags = tags
        # The runAsync/start run whose promise JS has not seen settled yet (owner thread only).
        self._unsettled_run: _Run | None = None

    @property
    def id(self) -> str:
        return self.session.id

    # -- history -----------------------------------------------------------------------------

    def append(self, turn: Any) -> dict[str, Any]:
        if not isinstance(turn, dict):
            raise TypeError("append requires a turn object")
        return encode_turn(self.session.append(to_turn(turn, "append"), copy=False), copy=False)

    def latest(self) -> dict[str, Any]:
        return encode_turn(self.session.latest())

    def turn_count(self) -> int:
        return self.session.turn_count

    def turns(self) -> list[dict[str, Any]]:
        return [encode_turn(turn) for turn in self.session.turns()]

    def get_turn(self, index: Any) -> dict[str, Any] | None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("getTurn requires index")
        turn = self.session.get_turn(index)
        return None if turn is None else encode_turn(turn)

    def turns_range(self, start: int | None, end: int | None) -> list[dict[str, Any]]:
        return [encode_turn(turn) for turn in self.session.turns_range(start or 0, end)]

    def is_running(self) -> bool:
        return self._unsettled_run is not None or self.session.is_running

    def cancel_active(self) -> None:
        if self._unsettled_run is not None and not self.session.is_running:
            return  # the run already ended; its promise settles with the outcome on the owner next
        self.session.cancel_active()

    # -- running -----------------------------------------------------------------------------

    def _start(self, seed: Any, opts: Any, where: str, sinks: tuple[EventSink, ...] = ()) -> _Run:
        options = parse_run_options(opts, where)
        turn = None if seed is None else to_turn(seed, where)
        if self.is_running():
            raise SessionAlreadyActive()  # before touching the running inference's tags
        self.tags.tags = options.tags or {}
        handle = self.session.start(turn, sinks=sinks)
        return _Run(handle, options.timeout_ms)

    def run(self, seed: Any, opts: Any) -> dict[str, Any]:
        """Synchronous run; the owner thread keeps serving JS callbacks while it waits."""
        run = self._start(seed, opts, "run")
        try:
            turn = self.runtime.wait_for(run.future)
        except BaseException as exc:
            raise run.error(exc) from None
        return encode_turn(turn)

    def run_async(self, seed: Any, opts: Any) -> HostPromise:
        try:
            run = self._start(seed, opts, "runAsync")
        except TypeError:
            raise
        except Exception as exc:
            return self._rejected(exc)
        return self._promise_for(run)

    def start(self, seed: Any, opts: Any, dispatch: Any) -> dict[str, Any]:
        """``{promise, run}``: events go to ``dispatch`` (the JS handle's listener fan-out)."""
        if not isinstance(dispatch, JSCallback):
            raise TypeError("start: internal dispatch must be a function")
        control = RunControl(None)
        sink = CallbackSink(_forwarder(self.runtime, dispatch, control), view="core")
        try:
            run = self._start(seed, opts, "start", (sink,))
        except TypeError:
            raise
        except Exception as exc:
            return {"promise": self._rejected(exc), "run": control}
        control.handle = run.handle
        return {"promise": self._promise_for(run), "run": control}

    def _promise_for(self, run: _Run) -> HostPromise:
        """The run's promise; the run counts as active for JS until the promise settles."""
        promise = self.runtime.create_promise()
        self._unsettled_run = run

        def end_run() -> None:
            if self._unsettled_run is run:
                self._unsettled_run = None

        _settle_when_done(run, promise, end_run)
        return promise

    def _rejected(self, exc: BaseException) -> HostPromise:
        """A promise rejected at once (promises are only created once nothing can raise before
        they are settled: an unsettled one would keep the script alive)."""
        promise = self.runtime.create_promise()
        promise.reject(exc)
        return promise


def _forwarder(runtime: JSRuntime, dispatch: JSCallback, control: RunControl) -> Any:
    """Queues each event for the owner thread (FIFO with the promise settlement): there the seed
    payload and the reference payloads are made for the names listeners asked for by then (so a
    listener added in the same tick as ``start()`` sees the first event) and go to JS."""

    def forward(event: Event) -> None:
        def deliver() -> None:
            payload = control.seed_payload(event)
            extra = reference_payloads(event, control.wanted, control.delivered)
            if payload is None and not extra:
                return
            try:
                if extra:
                    dispatch(payload, extra)
                else:
                    dispatch(payload)
            except Exception as exc:
                runtime.report_uncaught(exc)

        runtime.submit(deliver)

    return forward


def _settle_when_done(run: _Run, promise: HostPromise, end_run: Callable[[], None]) -> None:
    """Settle ``promise`` from the run's outcome; queued after every event of the run (FIFO).

    ``end_run`` runs on the owner in the settling job, right before JS sees the outcome.
    """

    def done(fut: concurrent.futures.Future[Turn]) -> None:
        if fut.cancelled():
            promise.reject(InferenceCancelled(), before=end_run)
            return
        exc = fut.exception()
        if exc is not None:
            promise.reject(run.error(exc), before=end_run)
        else:
            promise.resolve(encode_turn(fut.result()), before=end_run)

    run.future.add_done_callback(done)
