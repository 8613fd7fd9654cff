"""The owner thread of a JS runtime: a job queue that is the only way to reach the JS context.

quickjs aborts the process when two threads use one context, so every JS entry happens on this
thread. Other threads :meth:`OwnerLoop.submit` jobs and wait on futures. The loop is re-entrant:
:meth:`OwnerLoop.wait_for` called *on* the owner thread (from a host function that JS called)
keeps serving jobs and timers until its future is done, so work running elsewhere can still call
back into JS while the owner waits for it (no owner <-> worker deadlock).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from geppetto.js.errors import JSRuntimeClosed

T = TypeVar("T")


class LoopHooks(Protocol):
    """What the loop needs from the runtime; all called on the owner thread."""

    def after_job(self) -> None: ...  # drain microtasks, report rejections
    def timer_delay(self) -> float | None: ...  # seconds until the next timer, None if none
    def fire_timer(self) -> None: ...
    def on_job_error(self, exc: BaseException) -> None: ...


class _Job:
    """A queued callable; ``future`` is only failed if the loop closes before the job ran."""

    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[], Any], future: Future[Any] | None) -> None:
        self.fn = fn
        self.future = future

    def run(self) -> BaseException | None:
        """Run the job; returns an error the job did not hand to anyone."""
        try:
            self.fn()
        except BaseException as exc:
            return exc
        return None

    def fail(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_exception(JSRuntimeClosed())


_STOP = _Job(lambda: None, None)
_WAKE: Callable[[], None] = lambda: None  # noqa: E731 - a job that only wakes the loop


class OwnerLoop:
    """One thread, one queue; see the module docstring."""

    def __init__(self, name: str, hooks: LoopHooks) -> None:
        self._hooks = hooks
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._stopping = False
        self._closed = False
        self._interrupted: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ident: int | None = None
        self._init: Callable[[], None] | None = None
        self._teardown: Callable[[], None] | None = None
        self._started: Future[None] = Future()

    # ------------------------------------------------------------------ lifecycle
    def start(self, init: Callable[[], None], teardown: Callable[[], None]) -> None:
        """Run ``init`` on the new thread and wait for it (its errors are raised here)."""
        self._init, self._teardown = init, teardown
        self._thread.start()
        self._started.result()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    @property
    def closed(self) -> bool:
        return self._closed

    def is_owner(self) -> bool:
        return threading.get_ident() == self._ident

    def assert_owner(self) -> None:
        if threading.get_ident() != self._ident:
            raise RuntimeError("the JS context may only be used on its owner thread")

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop; queued jobs fail with :class:`JSRuntimeClosed`. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopping = True
        self._jobs.put(_STOP)
        if not self.is_owner() and self._thread.is_alive():
            self._thread.join(timeout)

    def _main(self) -> None:
        self._ident = threading.get_ident()
        try:
            assert self._init is not None
            self._init()
        except BaseException as exc:
            self._closed = self._stopping = True
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        try:
            self.serve_until(lambda: False, interruptible=False)
        finally:
            self._closed = self._stopping = True
            self._fail_pending()
            if self._teardown is not None:
                self._teardown()
            self._fail_pending()

    def _fail_pending(self) -> None:
        while True:
            try:
                self._jobs.get_nowait().fail()
            except queue.Empty:
                return

    # ------------------------------------------------------------------ posting work
    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the owner thread (from any thread); its result or error lands in the future."""
        fut: Future[T] = Future()

        def job() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                result = fn()
            except BaseException as exc:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        self.post(job, fut)
        return fut

    def post(self, fn: Callable[[], Any], future: Future[Any] | None = None) -> None:
        """Queue ``fn``; its errors go to ``on_job_error``; ``future`` fails if the loop closes first."""
        job = _Job(fn, future)
        if self._closed:
            job.fail()
            return
        self._jobs.put(job)

    def wake(self) -> None:
        if not self._closed:
            self._jobs.put(_Job(_WAKE, None))

    def interrupt(self, error: BaseException) -> None:
        """End every interruptible wait (a running script, ``wait_for`` on the owner) with
        ``error``; from any thread. Final: later interruptible waits end at once. The loop itself
        keeps serving jobs."""
        if self._interrupted is None:
            self._interrupted = error
        self.wake()

    @property
    def interrupted(self) -> BaseException | None:
        return self._interrupted

    # ------------------------------------------------------------------ serving
    def serve_until(self, done: Callable[[], bool], *, interruptible: bool = True) -> None:
        """Run jobs and due timers on the owner thread until ``done()``, the loop stops or (when
        ``interruptible``) :meth:`interrupt` is called.

        Whoever makes ``done()`` true must also post a job (or :meth:`wake`) so the wait ends.
        """
        self.assert_owner()
        hooks = self._hooks
        hooks.after_job()  # microtasks queued by the caller must run before anything waits
        while not self._stopping and not done() and not (interruptible and self._interrupted is not None):
            delay = hooks.timer_delay()
            if delay is not None and delay <= 0:
                hooks.fire_timer()
                hooks.after_job()
                continue
            try:
                job = self._jobs.get(timeout=delay)
            except queue.Empty:
                continue
            if job is _STOP:
                self._stopping = True
                break
            error = job.run()
            if error is not None:
                hooks.on_job_error(error)
            hooks.after_job()

    def wait_for(self, fut: Future[T], timeout: float | None = None) -> T:
        """Block until ``fut`` is done; on the owner thread keep serving the loop meanwhile."""
        if not self.is_owner():
            return fut.result(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        fut.add_done_callback(lambda _f: self.wake())
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), self.wake)
            timer.daemon = True
            timer.start()
        self.serve_until(lambda: fut.done() or (deadline is not None and time.monotonic() >= deadline))
        if not fut.done():
            if self._interrupted is not None:
                raise self._interrupted
            if self._stopping:
                raise JSRuntimeClosed()
            raise TimeoutError("timed out waiting on the JS owner loop")
        return fut.result()

    def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn`` off the owner thread while the owner keeps serving (see module doc)."""
        if not self.is_owner():
            return fn(*args)
        fut: Future[T] = Future()

        def work() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:
                fut.set_exception(exc)

        threading.Thread(target=work, name=f"{self._thread.name}-blocking", daemon=True).start()
        return self.wait_for(fut)

    def pending_jobs(self) -> bool:
        return not self._jobs.empty()
