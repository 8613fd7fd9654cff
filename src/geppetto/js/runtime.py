"""``JSRuntime``: one quickjs-ng context, its owner thread and the host surface scripts can reach.

See the package docstring (:mod:`geppetto.js`) for the contract the module layer builds on.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TextIO, TypeVar

import orjson
import quickjs  # type: ignore[import-untyped]

from geppetto.js.codec import Codec
from geppetto.js.errors import (
    JSError,
    JSRuntimeClosed,
    JSScriptError,
    JSScriptInterrupted,
    JSScriptMemoryError,
    JSScriptTimeout,
    js_exception_to_error,
)
from geppetto.js.modules import HostModules
from geppetto.js.native import NativeContext, attach
from geppetto.js.owner import OwnerLoop
from geppetto.js.sources import (
    BOOT_FILENAME,
    TRUSTED_ENTRIES,
    WRAPPED_FIRST_LINE,
    main_wrapper,
    main_wrapper_lines,
    module_filename,
    module_wrapper_lines,
    trusted_boot,
    trusted_boot_function,
)
from geppetto.js.tracker import RejectionTracker
from geppetto.js.values import HostPromise
from geppetto.js.watch import ScriptWatch, out_of_memory

T = TypeVar("T")
ConsoleHandler = Callable[[str, str], None]

# Host-call kinds; must match __gp_K in bridge.js.
K_CALL = 0
K_FN = 1
K_METHOD = 2
K_CONSOLE = 3
K_RELEASE_HANDLE = 4
K_RELEASE_FN = 5
K_JS_SETTLED = 6
K_UNCAUGHT = 7
K_REQUIRE = 8

# What a host call answers once the runtime is interrupted (the bridge's __gp_halt).
_HALT = "I"
# What the engine throws at an interrupt check once the runtime is interrupted.
_INTERRUPTED = "InternalError: interrupted"
# The global a compiled module body waits in for the bridge's require (see _require).
_COMPILED_SLOT = "__geppetto_compiled_module"


class _Hooks:
    """Adapts the runtime's private loop callbacks to :class:`~geppetto.js.owner.LoopHooks`."""

    def __init__(self, rt: JSRuntime) -> None:
        self.after_job = rt._after_job
        self.timer_delay = rt._timer_delay
        self.fire_timer = rt._fire_timer
        self.on_job_error = rt._on_job_error


class JSRuntime:
    """A trusted JS runtime; every method is safe to call from any thread unless noted."""

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        on_console: ConsoleHandler | None = None,
        memory_limit_bytes: int | None = None,
        max_stack_bytes: int | None = None,
        name: str = "geppetto-js",
    ) -> None:
        self._stdout, self._stderr, self._on_console = stdout, stderr, on_console
        self._memory_limit, self._max_stack = memory_limit_bytes or 0, max_stack_bytes
        self._watch: ScriptWatch | None = None
        self._host_modules = HostModules()
        self._codec = Codec(self)
        self._ctx: Any = None
        self._native: NativeContext | None = None
        self._interrupt: JSScriptInterrupted | None = None
        self._e: dict[str, Any] = {}
        self._tracker: RejectionTracker | None = None
        self._depth = 0  # JS frames the host entered on the owner thread (0 = at the loop's top level)
        self._promise_ids = itertools.count(1)
        self._unsettled: set[int] = set()
        self._lock = threading.Lock()
        self._future_promises: weakref.WeakKeyDictionary[Future[Any], HostPromise] = (
            weakref.WeakKeyDictionary()
        )
        self._script_running = False
        self._script_error: JSScriptError | None = None
        self._script_filename = "<script>"
        self.uncaught_errors: list[JSScriptError] = []
        self._close_hooks: list[Callable[[], object]] = []
        self._handlers: dict[int, Callable[[list[Any]], Any]] = {
            K_CALL: self._host_modules.call,
            K_FN: lambda a: self._codec.function(a[0])(*a[1:]),
            K_METHOD: lambda a: self._codec.method_target(a[0], a[1])(*a[2:]),
            K_CONSOLE: lambda a: self._console(a[0], a[1]),
            K_RELEASE_HANDLE: lambda a: self._codec.release_handle(a[0]),
            K_RELEASE_FN: lambda a: self._codec.release_fn(a[0]),
            K_JS_SETTLED: lambda a: self._codec.js_settled(a[0], a[1], a[2]),
            K_UNCAUGHT: lambda a: self._on_uncaught(a[0], a[1]),
            K_REQUIRE: self._require,
        }
        self._loop = OwnerLoop(name, _Hooks(self))
        self._loop.start(self._init_context, self._teardown_context)

    # ------------------------------------------------------------------ lifecycle
    def _init_context(self) -> None:
        ctx = quickjs.Context()
        native = attach(ctx)
        if self._max_stack:
            ctx.set_max_stack_size(self._max_stack)
        self._tracker = RejectionTracker.install(ctx, native)
        ctx.add_callable("__geppetto_host", self._host)
        if native is not None:
            native.evaluate(trusted_boot_function(), BOOT_FILENAME)()  # called through the binding
        else:
            ctx.eval(trusted_boot())
        self._e = {name: ctx.eval(f"__geppetto_entries.{name}") for name in TRUSTED_ENTRIES}
        ctx.eval("delete globalThis.__geppetto_entries")
        if self._memory_limit:  # after boot, so a limit too small fails the script, not the runtime's start
            ctx.set_memory_limit(self._memory_limit)
        self._ctx = ctx
        with self._lock:
            self._native = native

    def _teardown_context(self) -> None:
        for hook in self._close_hooks:
            try:
                hook()
            except Exception:  # closing goes on whatever a hook does
                logging.getLogger("geppetto.js").exception("JS runtime close hook failed")
        with self._lock:  # interrupt() arms the engine under this lock: never after this point
            if self._native is not None:
                self._native.disarm_interrupt()  # the handler object goes before the runtime does
            self._native = None
        if self._tracker is not None:
            self._tracker.dispose()
            self._tracker = None
        self._e = {}
        self._ctx = None
        for fut in list(self._codec._js_futures.values()):
            if not fut.done():
                fut.set_exception(JSRuntimeClosed())

    def add_close_hook(self, fn: Callable[[], object]) -> None:
        """Call ``fn()`` when the runtime closes (on the owner thread, before the context goes),
        e.g. to cancel work that would otherwise outlive the scripts that started it."""
        self._close_hooks.append(fn)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the owner thread and drop the context; pending calls fail. Idempotent."""
        self._loop.close(timeout)

    def __enter__(self) -> JSRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._loop.closed

    @property
    def owner_thread(self) -> threading.Thread:
        return self._loop.thread

    @property
    def native_rejection_tracking(self) -> bool:
        """True when unhandled rejections anywhere are detected (see :mod:`geppetto.js.tracker`)."""
        return self.call_on_owner(lambda: self._tracker is not None)

    def is_owner_thread(self) -> bool:
        return self._loop.is_owner()

    @property
    def memory_limit_bytes(self) -> int | None:
        return self._memory_limit or None

    @property
    def interrupted(self) -> JSScriptInterrupted | None:
        """The error :meth:`interrupt` was called with, once it was."""
        return self._interrupt

    def interrupt(self, error: JSScriptInterrupted | None = None) -> None:
        """Stop the running script with ``error`` (default :class:`JSScriptInterrupted`), e.g. on
        Ctrl-C; from any thread (not from inside a signal handler: it takes a lock).

        Busy JS stops at the engine's next interrupt check (uncatchable by the script), a script
        waiting on a promise or a synchronous host call stops at once. Final: every later entry
        into JS fails with ``InternalError: interrupted`` (JS callbacks raise :class:`JSError`), so
        close the runtime afterwards; cancelling host work still running (inference) is the
        caller's job. Without the native API (unverified binding) busy JS is not stopped.
        """
        with self._lock:
            if self._interrupt is None:
                self._interrupt = error or JSScriptInterrupted()
            if self._native is not None:
                self._native.arm_interrupt()
        self._loop.interrupt(self._interrupt)

    # ------------------------------------------------------------------ scheduling
    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the owner thread; it may use every owner-only method."""
        return self._loop.submit(fn)

    def call_on_owner(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """``fn()`` on the owner thread: directly when already there, else submit and wait."""
        if self._loop.is_owner():
            return fn()
        return self._loop.submit(fn).result(timeout)

    def wait_for(self, fut: Future[T], timeout: float | None = None) -> T:
        """Wait for ``fut``; on the owner thread the loop keeps running JS jobs and timers meanwhile."""
        return self._loop.wait_for(fut, timeout)

    def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """For synchronous host functions: run ``fn`` on a helper thread while the owner keeps serving."""
        return self._loop.run_blocking(fn, *args)

    def _post(self, fn: Callable[[], Any], future: Future[Any] | None) -> None:
        self._loop.post(fn, future)

    # ------------------------------------------------------------------ host surface
    def register_function(self, name: str, fn: Callable[..., Any]) -> None:
        """Make ``fn`` callable from JS modules as ``host.call(name, ...)`` / ``host.fn(name)``."""
        self._host_modules.functions[name] = fn

    def define_module(self, name: str, builder: Callable[[], Any]) -> None:
        """``require(name)`` returns ``builder()`` (called once, on first require, on the owner)."""
        self._host_modules.modules[name] = ("py", builder)

    def define_js_module(self, name: str, source: str) -> None:
        """``require(name)`` runs ``source`` as a CommonJS body ``(exports, require, module, host)``."""
        self._host_modules.modules[name] = ("js", source)

    def set_global(self, name: str, value: Any) -> None:
        """``globalThis[name] = value`` (encoded like any host value: callables become functions)."""

        def job() -> None:
            self._raise_interrupt()
            self._enter(self._e["setGlobal"], name, self._codec.encode_ok(value))

        self.call_on_owner(job)

    def create_promise(self) -> HostPromise:
        """A Promise the host settles later from any thread (see :class:`HostPromise`)."""
        hp = HostPromise(self, next(self._promise_ids))
        with self._lock:
            self._unsettled.add(hp.id)
        weakref.finalize(hp, self._promise_dropped, hp.id).atexit = False
        return hp

    def eval(self, code: str, *, await_promise: bool = True) -> Any:
        """Evaluate ``code`` globally and return its decoded value (a Promise is awaited)."""

        def job() -> Any:
            self._raise_interrupt()
            return self._codec.decode_envelope(self._enter(self._e["evaluate"], code))

        result = self.call_on_owner(job)
        if await_promise and isinstance(result, Future):
            return self.wait_for(result)
        return result

    def report_uncaught(self, error: BaseException) -> None:
        """Fail the running script with ``error`` (or record it in ``uncaught_errors``)."""
        if isinstance(error, JSScriptError):
            script_error = error
        elif isinstance(error, JSError):
            script_error = JSScriptError(error.message, name=error.name, stack=error.stack)
        else:
            script_error = JSScriptError(str(error) or type(error).__name__, name=type(error).__name__)
        if self._loop.is_owner():
            self._fail(script_error)
        else:
            self._loop.post(lambda: self._fail(script_error))

    # ------------------------------------------------------------------ scripts
    def run_script(self, source: str, filename: str = "<script>", *, timeout: float | None = None) -> Any:
        """Run a script until nothing is left to do: no jobs, timers or unsettled host promises.

        Returns what the script returned with a top-level ``return`` (``None`` without one).
        Raises :class:`JSScriptError` for a syntax error, an uncaught exception, an unhandled
        rejection (pending timers are then cleared) or a returned value JSON cannot hold;
        :class:`JSScriptMemoryError` when it hits ``memory_limit_bytes``; :class:`JSScriptTimeout`
        when it runs longer than ``timeout`` seconds of wall-clock time (awaiting included; the
        runtime is then interrupted, see :meth:`interrupt`). Not callable from the owner thread.
        """
        if self._loop.is_owner():
            raise RuntimeError("run_script cannot be called from the JS owner thread")
        with self._lock:
            if self._script_running:
                raise RuntimeError("a script is already running in this JS runtime")
            self._script_running = True
        watch = ScriptWatch(
            timeout=timeout,
            on_deadline=lambda: None if fut.done() else self.interrupt(JSScriptTimeout(timeout or 0.0)),
            read_heap=self._heap_size if self._memory_limit else None,
        )
        self._watch = watch
        fut = self._loop.submit(lambda: self._run_script_job(source, filename))

        def finished(_f: Future[Any]) -> None:
            # Runs twice: from the owner thread as a done callback, and in the caller once its wait
            # ends (a waiter can wake before done callbacks run, and would find the runtime still
            # busy on its next script). Only the first call for this script clears the state.
            watch.stop()
            with self._lock:
                if self._watch is watch:
                    self._watch = None
                    self._script_running = False

        fut.add_done_callback(finished)
        watch.start()
        try:
            return fut.result()
        finally:
            if fut.done():
                finished(fut)

    def run_file(self, path: str | os.PathLike[str], *, timeout: float | None = None) -> Any:
        p = Path(path)
        return self.run_script(p.read_text(encoding="utf-8"), str(p), timeout=timeout)

    def _run_script_job(self, source: str, filename: str) -> Any:
        self._script_error = None
        self._script_filename = filename
        try:
            if self._native is not None:
                main = self._enter(
                    self._native.evaluate, main_wrapper_lines(source), filename, WRAPPED_FIRST_LINE
                )
            else:
                main = self._enter(self._ctx.eval, main_wrapper(source))
        except quickjs.JSException as exc:
            self._raise_if_interrupted()
            raise self._raw_failure(exc, "syntaxError") from None
        dirname = os.path.dirname(filename) or "."
        try:
            # runMain catches what the script can catch: only the interrupt or an engine left
            # without memory to report with gets out.
            self._enter(self._e["runMain"], main, filename, dirname)
        except quickjs.JSException as exc:
            self._raise_if_interrupted()
            self._fail(self._raw_failure(exc, "uncaughtException"))
        del main
        self._loop.serve_until(lambda: self._script_error is not None or self._idle())
        self._raise_if_interrupted()
        if self._script_error is None and not self._main_settled():
            # Nothing is left that could ever resume the top-level await (Node: "unsettled top-level await").
            self._script_error = self._script_failure(
                "the script's top-level await never finished: it waits on a promise that nothing can settle",
                "Error",
                "",
                "unsettledAwait",
            )
        error = self._script_error
        if error is not None:
            self._script_error = None
            with contextlib.suppress(quickjs.JSException):  # an engine out of memory may refuse even this
                self._enter(self._e["clearAllTimers"])
            raise error
        try:
            return orjson.loads(self._enter(self._e["mainResult"]))
        except quickjs.JSException as exc:
            raise self._raw_failure(exc, "uncaughtException") from None

    def _main_settled(self) -> bool:
        try:
            return bool(self._enter(self._e["mainSettled"]))
        except quickjs.JSException:
            return False

    def _raw_failure(self, exc: BaseException, kind: str) -> JSScriptError:
        err = js_exception_to_error(exc)
        return self._script_failure(err.message, err.name, err.stack, kind)

    def _raise_if_interrupted(self) -> None:
        error = self._interrupt
        if error is not None:
            self._script_error = None
            raise error

    def _raise_interrupt(self) -> None:
        if self._interrupt is not None:
            raise self._interrupt

    def _idle(self) -> bool:
        if self._loop.pending_jobs() or self._timer_delay() is not None:
            return False
        with self._lock:
            return not self._unsettled

    def _script_failure(self, message: str, name: str, stack: str, kind: str) -> JSScriptError:
        if self._native is None:  # the script was evaluated as <input> (and so was host code)
            stack = stack.replace("<input>", self._script_filename)
        if self._out_of_memory(name, message, kind):
            return JSScriptMemoryError(self._memory_limit, stack=stack)
        return JSScriptError(message, name=name, stack=stack, kind=kind)

    def _out_of_memory(self, name: str, message: str, kind: str) -> bool:
        if not self._memory_limit:
            return False
        peak = max(self._watch.peak if self._watch is not None else 0, self._heap_size())
        return out_of_memory(name, message, kind, limit=self._memory_limit, peak=peak)

    def _heap_size(self) -> int:
        """Bytes the engine holds now (0 once the context is gone); from any thread."""
        with self._lock:
            return self._native.heap_size() if self._native is not None else 0

    def _fail(self, error: JSScriptError) -> None:
        if self._script_running and self._script_error is None:
            self._script_error = error
        else:
            self.uncaught_errors.append(error)
        self._loop.wake()

    def _on_uncaught(self, kind: str, info: dict[str, Any]) -> None:
        name = str(info.get("name") or "")
        message, stack = str(info.get("message", "")), str(info.get("stack") or "")
        self._fail(self._script_failure(message, name, stack, kind))

    # ------------------------------------------------------------------ owner-thread internals
    def _enter(self, fn: Any, *args: Any) -> Any:
        """Call into JS, counting the nesting depth (rejections are only checked at depth 0).

        Once interrupted, fails at once as the engine would at its next interrupt check.
        """
        if self._interrupt is not None:
            raise quickjs.JSException(_INTERRUPTED)
        self._depth += 1
        try:
            return fn(*args)
        finally:
            self._depth -= 1

    def _host(self, kind: int, special: int, payload: str) -> str:
        """The single Python callable JS can reach; no exception may escape into quickjs."""
        codec = self._codec
        try:
            out = codec.encode_ok(self._handlers[kind](codec.decode_args(payload, special)))
        except BaseException as exc:
            out = codec.encode_err(exc)
        if self._interrupt is not None and self._native is not None:
            return _HALT  # the engine's interrupt is armed: the bridge spins into it
        return out

    def _require(self, args: list[Any]) -> dict[str, Any]:
        """``require`` of a module not loaded yet; a JS body is compiled here under its own file
        name (``host:NAME.js``) and left in a global slot the bridge takes it from (a syntax error
        in the body is left for the bridge's own evaluation to report)."""
        spec = self._host_modules.require(args)
        if spec["kind"] == "js" and self._native is not None:
            source = module_wrapper_lines(spec["source"])
            try:
                body = self._native.evaluate(source, module_filename(args[0]), WRAPPED_FIRST_LINE)
                self._ctx.set(_COMPILED_SLOT, body)
            except quickjs.JSException:  # e.g. a frozen globalThis: the bridge evaluates it as <input>
                return spec
            spec["compiled"] = _COMPILED_SLOT
        return spec

    def _console(self, level: str, text: str) -> None:
        if self._on_console is not None:
            self._on_console(level, text)
            return
        to_stderr = level in ("warn", "error")
        stream = (self._stderr or sys.stderr) if to_stderr else (self._stdout or sys.stdout)
        stream.write(text + "\n")
        stream.flush()

    def _invoke_callback(self, cb_id: int, args: tuple[Any, ...]) -> Any:
        self._loop.assert_owner()
        payload = self._codec.encode_args(args)
        try:
            env = self._enter(self._e["invoke"], cb_id, payload)
        except quickjs.JSException as exc:
            raise js_exception_to_error(exc) from None
        return self._codec.decode_envelope(env)

    def _release_callback_later(self, cb_id: int, count: list[int]) -> None:
        if not self._loop.closed:
            self._loop.post(lambda: self._enter(self._e["release"], cb_id, count[0]))

    def _settle_promise(self, hp: HostPromise, ok: bool, value: Any, error: BaseException | None) -> None:
        with self._lock:
            self._unsettled.discard(hp.id)
        codec = self._codec
        try:
            payload = codec.encode_ok(value) if ok else codec.encode_err(error or RuntimeError("rejected"))
        except Exception as exc:
            ok, error, payload = False, exc, codec.encode_err(exc)
        hp.state, hp.value, hp.error = ("ok", value, None) if ok else ("err", None, error)
        self._enter(self._e["settle"], hp.id, payload)

    def _promise_dropped(self, pid: int) -> None:
        with self._lock:
            if pid not in self._unsettled:
                return
            self._unsettled.discard(pid)
        if not self._loop.closed:
            self._loop.post(lambda: self._enter(self._e["dropPromise"], pid))

    def _promise_from_future(self, fut: Future[Any]) -> HostPromise:
        hp = self._future_promises.get(fut)
        if hp is None:
            hp = self._future_promises[fut] = self.create_promise()
            fut.add_done_callback(hp.settle_from)
        return hp

    def _after_job(self) -> None:
        if self._interrupt is not None:
            return
        self._drain()
        tracker = self._tracker
        if self._depth == 0 and tracker is not None and tracker.pending:
            while tracker.expose_next(b"__geppetto_rejected"):
                try:
                    self._enter(self._e["collectRejection"])
                except quickjs.JSException as exc:  # interrupted, or no memory left to report with
                    if self._interrupt is not None:
                        return
                    self._fail(self._raw_failure(exc, "unhandledRejection"))
            self._drain()

    def _drain(self) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        self._depth += 1
        try:
            while self._interrupt is None:
                try:
                    if not ctx.execute_pending_job():
                        return
                except quickjs.JSException as exc:
                    if self._interrupt is not None:
                        return
                    err = js_exception_to_error(exc)
                    self._fail(self._script_failure(err.message, err.name, err.stack, "uncaughtException"))
        finally:
            self._depth -= 1

    def _timer_delay(self) -> float | None:
        if self._ctx is None or self._interrupt is not None:
            return None
        try:
            ms = self._enter(self._e["nextTimer"])
        except quickjs.JSException as exc:  # interrupted meanwhile, or an engine out of memory
            if self._interrupt is None:
                self._fail(self._raw_failure(exc, "uncaughtException"))
            return None
        return None if ms < 0 else ms / 1000.0

    def _fire_timer(self) -> None:
        try:
            self._enter(self._e["fireTimer"])
        except quickjs.JSException:
            if self._interrupt is None:  # fireTimer reports what the callback threw itself
                raise

    def _on_job_error(self, exc: BaseException) -> None:
        if isinstance(exc, quickjs.JSException):
            exc = js_exception_to_error(exc)
        self.report_uncaught(exc)

    def collect_garbage(self) -> None:
        """Run the JS garbage collector; wrappers JS dropped release their host objects."""

        def job() -> None:
            self._ctx.gc()
            self._after_job()

        self.call_on_owner(job)

    def debug_stats(self) -> dict[str, int]:
        """Sizes of the host-side tables (leak checks in tests)."""
        return self.call_on_owner(lambda: {**self._codec.table_sizes(), "unsettled": len(self._unsettled)})
