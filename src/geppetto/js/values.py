"""Host-side handles on JS things: callbacks (JS functions) and host-settled promises.

Both are safe to use from any thread: work that touches JS is posted to the runtime's owner thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import TYPE_CHECKING, Any

from geppetto.errors import InferenceCancelled

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime


class JSCallback:
    """A JS function held by the host.

    Calling it runs the function on the owner thread: directly when already there (re-entrant
    nesting is fine), otherwise by posting a job and waiting. If the function returns a Promise,
    the call waits for it and returns its value. A JS throw raises :class:`~geppetto.js.JSError`
    (or the original Python exception if the JS error came from the host in the first place).
    The same JS function decodes to the same ``JSCallback`` object while the host keeps it alive;
    when the object is garbage-collected the JS side forgets the function.
    """

    __slots__ = ("__weakref__", "_count", "_finalizer", "id", "runtime")

    def __init__(self, runtime: JSRuntime, cb_id: int) -> None:
        self.runtime = runtime
        self.id = cb_id
        self._count = [0]  # references the JS side handed over (released together on finalize)
        self._finalizer: Any = None

    def __repr__(self) -> str:
        return f"<JSCallback {self.id}>"

    def __call__(self, *args: Any, timeout: float | None = None) -> Any:
        if self.runtime.is_owner_thread():
            result = self.runtime._invoke_callback(self.id, args)
            if isinstance(result, Future):
                return self.runtime.wait_for(result)
            return result
        return self.call_future(*args).result(timeout)

    def call_future(self, *args: Any) -> Future[Any]:
        """Start the call from any thread; the future completes with the final (awaited) value."""
        outer: Future[Any] = Future()

        def job() -> None:
            if not outer.set_running_or_notify_cancel():
                return  # the caller gave up before the call started
            try:
                result = self.runtime._invoke_callback(self.id, args)
            except BaseException as exc:
                outer.set_exception(exc)
                return
            if isinstance(result, Future):
                chain_future(result, outer)
            else:
                outer.set_result(result)

        self.runtime._post(job, outer)
        return outer

    async def acall(self, *args: Any) -> Any:
        """Await the call from an asyncio loop (which must not be the owner thread)."""
        import asyncio

        return await asyncio.wrap_future(self.call_future(*args))

    def call_soon(self, *args: Any, on_error: Callable[[BaseException], None] | None = None) -> None:
        """Fire and forget (e.g. event listeners). Errors go to ``on_error``, else they fail the script."""
        report = on_error or self.runtime.report_uncaught
        fut = self.call_future(*args)

        def done(f: Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                report(exc)

        fut.add_done_callback(done)


class HostPromise:
    """A JS Promise that the host settles later, from any thread (first settlement wins).

    Pass the object to JS (return it from a host function, put it in a value) and JS sees a real
    Promise. Until it is settled (or dropped) :meth:`JSRuntime.run_script` keeps the script alive.
    """

    __slots__ = ("__weakref__", "_lock", "_requested", "error", "id", "runtime", "state", "value")

    def __init__(self, runtime: JSRuntime, pid: int) -> None:
        self.runtime = runtime
        self.id = pid
        self.state = "pending"  # "ok" / "err" once the settle job ran on the owner thread
        self.value: Any = None
        self.error: BaseException | None = None
        self._requested = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<HostPromise {self.id} {self.state}>"

    @property
    def settled(self) -> bool:
        return self._requested

    def resolve(self, value: Any = None, *, before: Callable[[], None] | None = None) -> bool:
        """Fulfil with ``value`` (encoded on the owner thread). False if already settled.

        ``before`` runs on the owner thread in the same job, just before JS sees the settlement:
        state JS may read in its reactions (``isRunning()``) changes atomically with the promise.
        """
        return self._settle(True, value, None, before)

    def reject(self, error: BaseException, *, before: Callable[[], None] | None = None) -> bool:
        """Reject with ``error`` (JS sees an Error with ``.message`` and ``.code``); ``before`` as above."""
        return self._settle(False, None, error, before)

    def settle_from(self, fut: Future[Any]) -> None:
        """Settle like a finished future (a cancelled one rejects with ``InferenceCancelled``)."""
        if fut.cancelled():
            self.reject(InferenceCancelled())
            return
        exc = fut.exception()
        if exc is not None:
            self.reject(exc)
        else:
            self.resolve(fut.result())

    def _settle(
        self, ok: bool, value: Any, error: BaseException | None, before: Callable[[], None] | None
    ) -> bool:
        with self._lock:
            if self._requested:
                return False
            self._requested = True
        runtime = self.runtime

        def job() -> None:
            try:
                if before is not None:
                    before()
            finally:
                runtime._settle_promise(self, ok, value, error)

        runtime._post(job, None)
        return True


def chain_future(source: Future[Any], target: Future[Any]) -> None:
    """Copy ``source``'s outcome into ``target`` when it completes (unless target already is)."""

    def copy(f: Future[Any]) -> None:
        if target.done():
            return
        if f.cancelled():
            target.set_exception(CancelledError())
            return
        exc = f.exception()
        if exc is not None:
            target.set_exception(exc)
        else:
            target.set_result(f.result())

    source.add_done_callback(copy)
