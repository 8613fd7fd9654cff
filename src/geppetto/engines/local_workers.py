"""Long-lived threads that make the blocking llama.cpp calls for the local engine.

Starting a thread per generation put an OS thread creation and a start handshake (the caller
waits until the new thread runs) on the path to the first token, and that CPU competes with
llama.cpp's own threads on a small machine. A worker that is already waiting takes the next job
with one wake-up. Workers are not daemons: a daemon killed inside llama.cpp at exit aborts the
process. So the exit hook in :mod:`geppetto.engines.local` first lets running jobs leave
llama.cpp, then calls :meth:`WorkerPool.close`, after which interpreter shutdown joins the
workers. A worker idle for :data:`IDLE_SECONDS` ends by itself; a forked child starts afresh.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

IDLE_SECONDS = 30.0

Job = Callable[[], None]


class PoolClosedError(RuntimeError):
    """The pool was closed because the process is exiting."""


class WorkerPool:
    """Runs jobs on waiting threads, starting another only when none is free."""

    def __init__(self, name: str, idle_seconds: float = IDLE_SECONDS) -> None:
        self.name = name
        self.idle_seconds = idle_seconds
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # Workers waiting for a job minus jobs queued for them; changed only under the lock,
        # and a job is queued only against a waiting worker.
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(self, job: Job) -> None:
        """Run ``job`` on a free worker, or on a new one; raises :class:`PoolClosedError` after
        :meth:`close`."""
        with self._lock:
            if self._closed:
                raise PoolClosedError("the local model's worker threads have shut down")
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put(job)
                return
            thread = threading.Thread(target=self._serve, args=(job,), name=self.name)
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._threads.discard(thread)
            raise

    def close(self) -> None:
        """Ask every worker to end once its current job is done (no new jobs are accepted)."""
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._jobs.put(None)

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._threads)

    def _serve(self, first: Job) -> None:
        job: Job | None = first
        try:
            while job is not None:
                job()
                job = None  # drop the finished job (and what it holds) before waiting
                job = self._next_job()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _next_job(self) -> Job | None:
        with self._lock:
            if self._closed:
                return None
            self._idle += 1
        try:
            return self._jobs.get(timeout=self.idle_seconds)
        except queue.Empty:
            pass
        with self._lock:
            try:  # a job queued just as the wait timed out is still ours to run
                return self._jobs.get_nowait()
            except queue.Empty:
                self._idle -= 1
                return None


POOL = WorkerPool("geppetto-local")

if hasattr(os, "register_at_fork"):
    # The child has none of the parent's threads: forget them, or jobs would wait forever.
    os.register_at_fork(after_in_child=POOL._reset)
