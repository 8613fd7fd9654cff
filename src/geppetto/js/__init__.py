"""JS host layer: quickjs-ng behind an adapter we own (DESIGN.md, "JavaScript host").

Host API (for the module layer that exposes ``require("geppetto")``)
-------------------------------------------------------------------

``JSRuntime(stdout=, stderr=, on_console=, memory_limit_bytes=, max_stack_bytes=)`` owns one
quickjs context and one **owner thread**; only that thread touches the context. Every method is
safe from any thread. Scheduling: ``submit(fn) -> Future`` runs ``fn`` on the owner,
``call_on_owner(fn)`` runs it and waits (directly when already on the owner), ``wait_for(future)``
waits and, on the owner, keeps serving jobs and timers meanwhile, ``run_blocking(fn, *args)``
runs blocking work on a helper thread while the owner keeps serving. Host functions that block
(``session.run()``) must wait through ``wait_for``/``run_blocking``; then inference running
elsewhere can still call JS callbacks (no deadlock). ``close()`` stops the owner; idempotent.

Surface: ``register_function(name, fn)`` (JS modules call it as ``host.call(name, ...)`` or
``host.fn(name)``), ``define_module(name, builder)`` (``require(name)`` returns ``builder()``,
built once, lazily, on the owner), ``define_js_module(name, source)`` (a CommonJS body
``(exports, require, module, host)``; ``host`` also has ``setPrototype(className, proto)``,
``refOf(v)``, ``isHostObject(v)``, ``isHostFunction(v)``), ``set_global(name, value)``,
``eval(code)``, ``run_script(source, filename)`` / ``run_file(path)``, ``create_promise()``,
``report_uncaught(exc)``. Unknown modules throw ``Cannot find module '<name>'`` (code
``MODULE_NOT_FOUND``); there is no ``fs``, ``process``, network or environment.

Values cross as JSON envelopes (ints exact to 2**53, nested dicts/lists; tuples and sets become
arrays, dataclasses and pydantic models become objects; JS ``undefined`` becomes ``None``; a host
function returning ``None`` gives JS ``undefined``). Non-JSON values map as follows:

* Python callable -> JS function calling back into the host (same callable, same function), e.g.
  a middleware's ``next``; passed back to Python it is the original callable.
* Host object (class declares ``__js_methods__``, ``__js_props__`` and/or ``__js_class__``) -> a
  JS object with those methods (non-enumerable), a snapshot of those props, the prototype the JS
  module registered for ``__js_class__`` and a non-enumerable, read-only ``__geppetto_ref``. The
  same Python object is always the same JS object; passed back, it is the Python object again.
* JS function -> :class:`JSCallback`, callable from any thread (runs on the owner; a returned
  Promise is awaited), ``call_future``, ``acall`` (asyncio), ``call_soon`` (fire and forget).
* :class:`HostPromise` (``create_promise()``; ``resolve``/``reject`` from any thread) or a
  ``concurrent.futures.Future`` -> a JS Promise; a JS Promise -> a ``Future``. ``run_script``
  stays alive until every HostPromise is settled or dropped, so hold one for work in flight.
* A Python exception -> a JS ``Error`` (``TypeError`` for ``TypeError``, or the name in the
  exception's ``js_name``) with ``.message`` and ``.code`` (the exception's ``code`` attribute,
  else ``type_error``/``cancelled``/``timeout``/``host_error``). A JS throw -> :class:`JSError`
  (``name``, ``message``, ``stack``, ``code``). Errors keep their identity across round trips: a
  host exception rethrown by JS arrives in Python as the original exception object, and a
  ``JSError`` raised back into JS rethrows the original JS value.

Scripts run as ``async function (exports, require, module, __filename, __dirname)`` bodies, so
top-level ``await`` and ``return`` work; they are compiled under their own file name with every
line and column where it is in the file, and host code shows as ``host:NAME.js`` in stacks.
``run_script`` pumps until no jobs, timers or unsettled host promises remain and raises
:class:`JSScriptError` (message, name, stack, ``kind``; ``format()`` for stderr) on a syntax error,
an uncaught exception (including in a timer) or an unhandled rejection;
:class:`JSScriptTimeout` past ``run_script(timeout=)`` (wall clock, awaiting included) and
:class:`JSScriptMemoryError` at ``JSRuntime(memory_limit_bytes=)``. ``interrupt()`` (from any
thread, e.g. on Ctrl-C) stops busy JS at the engine's next interrupt check and a waiting script at
once (:class:`JSScriptInterrupted`); the runtime refuses JS from then on. Timers and microtasks
keep Node's order (microtasks first, timers by due time then creation). ``console.log/info/debug``
write to stdout and ``warn/error`` to stderr: strings as-is, other values JSON.

:func:`evaluate_untrusted` is the sandbox profile for model-written code (see
:mod:`geppetto.js.sandbox`).
"""

from geppetto.js.errors import (
    JSError,
    JSModuleNotFound,
    JSRuntimeClosed,
    JSScriptError,
    JSScriptInterrupted,
    JSScriptMemoryError,
    JSScriptTimeout,
    SandboxError,
    SandboxMemoryError,
    SandboxScriptError,
    SandboxTimeout,
)
from geppetto.js.runtime import JSRuntime
from geppetto.js.sandbox import SandboxResult, evaluate_untrusted
from geppetto.js.values import HostPromise, JSCallback

__all__ = [
    "HostPromise",
    "JSCallback",
    "JSError",
    "JSModuleNotFound",
    "JSRuntime",
    "JSRuntimeClosed",
    "JSScriptError",
    "JSScriptInterrupted",
    "JSScriptMemoryError",
    "JSScriptTimeout",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxResult",
    "SandboxScriptError",
    "SandboxTimeout",
    "evaluate_untrusted",
]
