"""The worker pool that makes the local engine's blocking llama.cpp calls (no model needed)."""

from __future__ import annotations

import threading

import pytest

from geppetto.engines.local_workers import PoolClosedError, WorkerPool


def run_and_wait(pool: WorkerPool, job_thread: list[threading.Thread]) -> None:
    done = threading.Event()

    def job() -> None:
        job_thread.append(threading.current_thread())
        done.set()

    pool.submit(job)
    assert done.wait(10)


def wait_for_size(pool: WorkerPool, size: int) -> None:
    for _ in range(1000):
        if pool.size == size:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"pool size stayed {pool.size}, expected {size}")


def test_a_waiting_worker_takes_the_next_job_instead_of_a_new_thread() -> None:
    pool = WorkerPool("test-pool")
    seen: list[threading.Thread] = []
    try:
        for _ in range(5):
            run_and_wait(pool, seen)
            # the worker counts itself free again only after the job returned
            for _ in range(1000):
                if pool._idle == 1:
                    break
                threading.Event().wait(0.01)
        assert len({id(thread) for thread in seen}) == 1
        assert not seen[0].daemon  # a daemon could be killed inside llama.cpp at exit
        assert pool.size == 1
    finally:
        pool.close()
    seen[0].join(10)
    assert not seen[0].is_alive()


def test_jobs_run_in_parallel_when_every_worker_is_busy() -> None:
    pool = WorkerPool("test-pool")
    release = threading.Event()
    started = threading.Barrier(3, timeout=10)
    threads: list[threading.Thread] = []

    def blocking() -> None:
        threads.append(threading.current_thread())
        started.wait()
        release.wait(10)

    try:
        pool.submit(blocking)
        pool.submit(blocking)
        started.wait()  # both run at once: the second did not queue behind the first
        assert pool.size == 2
    finally:
        release.set()
        pool.close()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def test_idle_workers_end_by_themselves() -> None:
    pool = WorkerPool("test-pool", idle_seconds=0.05)
    seen: list[threading.Thread] = []
    run_and_wait(pool, seen)
    seen[0].join(10)
    assert not seen[0].is_alive()
    assert pool.size == 0
    run_and_wait(pool, seen)  # a later job starts a new worker
    assert seen[1] is not seen[0]
    pool.close()


def test_a_closed_pool_refuses_jobs_and_lets_running_ones_finish() -> None:
    pool = WorkerPool("test-pool")
    release = threading.Event()
    finished = threading.Event()
    threads: list[threading.Thread] = []

    def job() -> None:
        threads.append(threading.current_thread())
        release.wait(10)
        finished.set()

    pool.submit(job)
    wait_for_size(pool, 1)
    pool.close()
    with pytest.raises(PoolClosedError):
        pool.submit(job)
    release.set()
    assert finished.wait(10)
    for _ in range(1000):
        if threads:
            break
        threading.Event().wait(0.01)
    threads[0].join(10)
    assert not threads[0].is_alive()


EXIT_SCRIPT = """
import asyncio, sys
from geppetto.engines import local_workers
from geppetto.engines.base import RunContext
from geppetto.engines.local import create_local_engine
from geppetto.turns import Turn

local_workers.POOL.idle_seconds = 3600.0  # an idle worker would hold exit for an hour
engine = create_local_engine("", temperature=0.0, max_tokens=2)
out = asyncio.run(engine.run(Turn.builder().user("Hi").build(), RunContext()))
assert local_workers.POOL.size == 1, local_workers.POOL.size
print("ran", bool(out.assistant_text()))
"""


def test_the_process_exits_with_an_idle_worker_waiting() -> None:
    """The exit hook closes the pool, so interpreter shutdown does not wait on a waiting worker."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.local_model import require_local_model

    require_local_model()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ran True"
    assert "FATAL" not in done.stderr and "Fatal Python error" not in done.stderr
