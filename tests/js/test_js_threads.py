"""The owner thread: callbacks from any thread, re-entrancy, blocking host calls, promises, close()."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from geppetto.errors import ToolError
from geppetto.js import HostPromise, JSCallback, JSRuntime, JSRuntimeClosed

pytestmark = pytest.mark.timeout(30)


def test_callbacks_from_other_threads_run_on_the_owner(rt: JSRuntime) -> None:
    rt.set_global("where", lambda: threading.current_thread().name)
    cb = rt.eval("(x) => [x * 2, where()]")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(cb, range(40)))
    assert [r[0] for r in results] == [x * 2 for x in range(40)]
    assert {r[1] for r in results} == {rt.owner_thread.name}


def test_owner_only_internals_refuse_other_threads(rt: JSRuntime) -> None:
    cb = rt.eval("() => 1")
    assert isinstance(cb, JSCallback)
    with pytest.raises(RuntimeError, match="owner thread"):
        rt._invoke_callback(cb.id, ())


def test_reentrant_nesting_on_the_owner(rt: JSRuntime) -> None:
    rt.set_global("viaHost", lambda cb, n: cb(n))
    result = rt.eval(
        """
        function down(n) { return n === 0 ? ['bottom'] : [n, ...viaHost(down, n - 1)] }
        down(8)
        """
    )
    assert result == [8, 7, 6, 5, 4, 3, 2, 1, "bottom"]


def test_run_blocking_serves_callbacks_from_the_helper_thread(rt: JSRuntime) -> None:
    helper_threads: list[str] = []

    def run_sync(cb: JSCallback, items: list[int]) -> list[Any]:
        def work() -> list[Any]:
            helper_threads.append(threading.current_thread().name)
            return [cb(i) for i in items]  # each call needs the owner, which is inside run_blocking

        return rt.run_blocking(work)

    rt.set_global("runSync", run_sync)
    rt.set_global("where", lambda: threading.current_thread().name)
    result = rt.eval("runSync((i) => [i, where()], [1, 2, 3])")
    assert result == [[i, rt.owner_thread.name] for i in (1, 2, 3)]
    assert helper_threads and helper_threads[0] != rt.owner_thread.name


def test_middleware_chain_across_threads(rt: JSRuntime) -> None:
    """worker -> JS mw1 -> host next -> JS mw2 -> host next -> engine, while the script blocks."""

    def run_chain(middlewares: list[JSCallback], turn: dict[str, Any]) -> dict[str, Any]:
        def engine(t: dict[str, Any]) -> dict[str, Any]:
            return {**t, "answer": t["text"].upper()}

        def build(i: int) -> Any:
            if i == len(middlewares):
                return engine
            inner = build(i + 1)
            return lambda t: middlewares[i](t, inner)

        return rt.run_blocking(build(0), turn)

    rt.set_global("runChain", run_chain)
    result = rt.eval(
        """
        const mw = (tag) => (turn, next) => {
          const out = next({...turn, trace: [...(turn.trace || []), tag + '-in']});
          return {...out, trace: [...out.trace, tag + '-out']};
        };
        runChain([mw('outer'), mw('inner')], {text: 'hi'})
        """
    )
    assert result == {
        "text": "hi",
        "answer": "HI",
        "trace": ["outer-in", "inner-in", "inner-out", "outer-out"],
    }


def test_wait_for_on_the_owner_keeps_serving(rt: JSRuntime) -> None:
    def wait_on_thread(cb: JSCallback) -> Any:
        fut: Future[Any] = Future()
        threading.Thread(target=lambda: fut.set_result(cb("from thread"))).start()
        return rt.wait_for(fut)

    rt.set_global("waitOnThread", wait_on_thread)
    assert rt.eval("waitOnThread((s) => s.toUpperCase())") == "FROM THREAD"


def test_host_promise_settled_from_a_worker_thread(rt: JSRuntime, console: Any) -> None:
    def start(x: int, fail: bool) -> HostPromise:
        hp = rt.create_promise()

        def work() -> None:
            if fail:
                hp.reject(ToolError("tool broke"))
            else:
                hp.resolve({"x": x, "big": 2**40})

        threading.Thread(target=work).start()
        return hp

    rt.set_global("startWork", start)
    rt.run_script(
        """
        const r = await startWork(7, false);
        console.log(r.x, r.big === 2 ** 40);
        try { await startWork(1, true) } catch (e) { console.log(e instanceof Error, e.message, e.code) }
        """
    )
    assert console.texts() == ["7 true", "true tool broke tool_error"]


def test_settled_host_promise_passed_again_keeps_its_outcome(rt: JSRuntime) -> None:
    hp = rt.create_promise()
    hp.resolve("done")
    assert hp.resolve("again") is False
    rt.set_global("getPromise", lambda: hp)
    assert rt.eval("getPromise()") == "done"
    assert rt.eval("getPromise().then((v) => v + '!')") == "done!"


def test_futures_become_promises(rt: JSRuntime) -> None:
    def later(value: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        threading.Timer(0.01, lambda: fut.set_result(value)).start()
        return fut

    rt.set_global("later", later)
    assert rt.eval("later([1, 2]).then((v) => v.length)") == 2
    assert rt.eval("(async () => (await later('a')) + (await later('b')))()") == "ab"


def test_js_promises_are_awaited_by_callbacks(rt: JSRuntime) -> None:
    cb = rt.eval("async (x) => { await new Promise((r) => setTimeout(r, 5)); return x + 1 }")
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(cb, [1, 2, 3])) == [2, 3, 4]
    rt.set_global("callNow", lambda f: f(41))  # owner thread: waits by serving the loop
    assert rt.eval("callNow(async (x) => { await null; return x + 1 })") == 42
    failing = rt.eval("async () => { throw new RangeError('async no') }")
    with pytest.raises(Exception, match="async no"):
        failing()


async def test_acall_from_asyncio(rt: JSRuntime) -> None:
    cb = rt.eval("(a, b) => a + b")
    results = await asyncio.gather(*(cb.acall(i, i) for i in range(10)))
    assert results == [2 * i for i in range(10)]


def test_parallel_inferences_overlap(rt: JSRuntime, console: Any) -> None:
    """Ten 'runAsync' workers must all be in flight at once: a barrier would time out if they queued."""
    barrier = threading.Barrier(10, timeout=10)

    def run_async(i: int, middleware: JSCallback) -> HostPromise:
        hp = rt.create_promise()

        def work() -> None:
            try:
                barrier.wait()
                hp.resolve(middleware(i))
            except BaseException as exc:
                hp.reject(exc)

        threading.Thread(target=work).start()
        return hp

    rt.set_global("runAsync", run_async)
    rt.run_script(
        """
        const results = await Promise.all(Array.from({length: 10}, (_, i) => runAsync(i, (n) => n * n)));
        console.log(JSON.stringify(results));
        """
    )
    assert console.texts() == [str([i * i for i in range(10)]).replace(" ", "")]


def test_close_stops_the_owner_and_fails_later_calls() -> None:
    before = {t.ident for t in threading.enumerate()}
    rt = JSRuntime()
    cb = rt.eval("(x) => x")
    owner = rt.owner_thread
    rt.close()
    rt.close()  # idempotent
    assert not owner.is_alive()
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(JSRuntimeClosed):
        cb(1)
    with pytest.raises(JSRuntimeClosed):
        rt.eval("1")
    assert rt.closed


def test_close_from_the_owner_thread() -> None:
    rt = JSRuntime()
    rt.set_global("shutdown", rt.close)
    rt.run_script("shutdown(); setTimeout(() => { throw new Error('never runs') }, 0)")
    rt.owner_thread.join(5)
    assert not rt.owner_thread.is_alive()


def test_pending_callers_fail_when_the_runtime_closes() -> None:
    rt = JSRuntime()
    started = threading.Event()

    def block() -> None:
        started.set()
        threading.Event().wait(0.2)

    rt.set_global("block", block)
    cb = rt.eval("(x) => x")
    rt.submit(lambda: rt.eval("block()"))
    started.wait(5)
    fut = cb.call_future(1)  # queued behind the blocking job
    rt.close()
    with pytest.raises(JSRuntimeClosed):
        fut.result(5)


async def test_cancelled_calls_do_not_fail_the_runtime(rt: JSRuntime) -> None:
    cb = rt.eval("async (x) => { await new Promise((r) => setTimeout(r, 20)); return x }")
    assert isinstance(cb, JSCallback)
    sync_cb = rt.eval("(x) => x")
    assert isinstance(sync_cb, JSCallback)
    task = asyncio.ensure_future(cb.acall(1))
    await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release = threading.Event()
    rt.submit(lambda: release.wait(5))  # hold the owner so the next calls are still queued
    queued = [sync_cb.call_future(i) for i in range(5)]
    assert all(fut.cancel() for fut in queued)
    release.set()
    assert await asyncio.to_thread(rt.eval, "new Promise((r) => setTimeout(() => r(2), 40))") == 2
    assert rt.uncaught_errors == []


def test_cancelled_future_rejects_with_a_cancellation_error(rt: JSRuntime) -> None:
    fut: Future[Any] = Future()
    rt.set_global("inference", lambda: fut)
    threading.Timer(0.01, fut.cancel).start()
    result = rt.eval("inference().then(() => 'resolved', (e) => [e instanceof Error, e.code, e.message])")
    assert result == [True, "cancelled", "inference cancelled"]
