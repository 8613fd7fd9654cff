"""The quickjs-ng C API the Python binding does not expose, reached through ctypes.

The binding's extension exports the whole C API, and its ``Context`` object starts with the
``JSRuntime*`` and ``JSContext*`` pointers, followed by the thread state it saves while JS runs (a
layout verified for the versions in ``VERIFIED`` and cross-checked at runtime with
``JS_GetRuntime``, ``JS_GetRuntimeOpaque`` and the runtime's malloc counters). Three things need it:

* evaluating a source under its real file name and first line (``JS_Eval2``), so stack positions
  point into the user's file and host code is named as such instead of ``<input>``;
* an interrupt handler (``JS_SetInterruptHandler``): the binding's own time limit counts process
  CPU time and refuses every host call while set, so deadlines and Ctrl-C use this instead;
* the rejection tracker (:mod:`geppetto.js.tracker`).

On any other binding version :func:`attach` returns None and callers fall back to the binding's
plain API (``<input>`` file names, no interrupting busy JS).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import quickjs  # type: ignore[import-untyped]

VERIFIED = {"0.17.0.2"}
_EVAL_OPTIONS_VERSION = 1
_TAG_EXCEPTION = 6
_SLOT = "__geppetto_native_value"
# JSRuntime starts with JSMallocFunctions (5 pointers), then JSMallocState {count, size, limit, opaque}.
# The binding's Context object: PyObject_HEAD, runtime, context, has_time_limit, time_limit, then
# the thread state it saves while JS runs (NULL whenever Python code runs on the owner thread).
_THREAD_STATE_OFFSET = 48
_CONTEXT_SIZE = 80
_MALLOC_COUNT_OFFSET = 40
_MALLOC_SIZE_OFFSET = 48


class JSValue(ctypes.Structure):
    """quickjs-ng's 16-byte ``JSValue`` on 64-bit hosts (no NaN boxing): a union word and a tag."""

    _fields_ = [("ptr", ctypes.c_uint64), ("tag", ctypes.c_int64)]


class _EvalOptions(ctypes.Structure):
    _fields_ = [
        ("version", ctypes.c_int),
        ("eval_flags", ctypes.c_int),
        ("filename", ctypes.c_char_p),
        ("line_num", ctypes.c_int),
    ]


INTERRUPT_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_lib: Any = None
_eval_lib: Any = None


def library() -> Any:
    """The extension as a ctypes library (calls release the GIL)."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(quickjs._quickjs.__file__)
        lib.JS_GetRuntime.restype = ctypes.c_void_p
        lib.JS_GetRuntime.argtypes = [ctypes.c_void_p]
        lib.JS_GetRuntimeOpaque.restype = ctypes.c_void_p
        lib.JS_GetRuntimeOpaque.argtypes = [ctypes.c_void_p]
        lib.JS_DupValue.restype = JSValue
        lib.JS_DupValue.argtypes = [ctypes.c_void_p, JSValue]
        lib.JS_FreeValue.restype = None
        lib.JS_FreeValue.argtypes = [ctypes.c_void_p, JSValue]
        lib.JS_GetGlobalObject.restype = JSValue
        lib.JS_GetGlobalObject.argtypes = [ctypes.c_void_p]
        lib.JS_SetPropertyStr.restype = ctypes.c_int
        lib.JS_SetPropertyStr.argtypes = [ctypes.c_void_p, JSValue, ctypes.c_char_p, JSValue]
        lib.JS_GetException.restype = JSValue
        lib.JS_GetException.argtypes = [ctypes.c_void_p]
        lib.JS_SetHostPromiseRejectionTracker.restype = None
        lib.JS_SetHostPromiseRejectionTracker.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.JS_SetInterruptHandler.restype = None
        lib.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        _lib = lib
    return _lib


def _eval_library() -> Any:
    """``JS_Eval2`` and what an evaluation needs around it (see :meth:`NativeContext.evaluate`)."""
    global _eval_lib
    if _eval_lib is None:
        lib = library()
        options = ctypes.POINTER(_EvalOptions)
        lib.JS_Eval2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, options]
        lib.JS_Eval2.restype = JSValue
        lib.JS_UpdateStackTop.argtypes = [ctypes.c_void_p]
        lib.JS_UpdateStackTop.restype = None
        ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p
        _eval_lib = lib
    return _eval_lib


def binding_version() -> str | None:
    """Installed quickjs-ng version; read from the dist-info name first (importlib.metadata is slow)."""
    site = Path(quickjs.__file__).resolve().parent.parent
    for info in site.glob("quickjs_ng-*.dist-info"):
        return info.name[len("quickjs_ng-") : -len(".dist-info")]
    import importlib.metadata

    try:
        return importlib.metadata.version("quickjs-ng")
    except importlib.metadata.PackageNotFoundError:
        return None


class NativeContext:
    """The C pointers behind one ``quickjs.Context``; owner thread only unless a method says so."""

    def __init__(self, context: Any, rt_ptr: int, ctx_ptr: int) -> None:
        self.context = context
        self.rt = rt_ptr
        self.ctx = ctx_ptr
        self.lib = library()
        self._handler: Any = None  # the ctypes callback must outlive its installation

    def set_global(self, name: str, value: JSValue) -> None:
        """``globalThis[name] = value``; takes ownership of ``value``. Raises the binding's
        ``JSException`` when the global object refuses it (a script froze it)."""
        glob = self.lib.JS_GetGlobalObject(self.ctx)
        status = self.lib.JS_SetPropertyStr(self.ctx, glob, name.encode(), value)
        self.lib.JS_FreeValue(self.ctx, glob)
        if status < 0:
            self.lib.JS_FreeValue(self.ctx, self.lib.JS_GetException(self.ctx))
            raise quickjs.JSException(f"TypeError: cannot set globalThis.{name}")

    def evaluate(self, source: str, filename: str, first_line: int = 1) -> Any:
        """Evaluate ``source`` as a global script named ``filename`` whose first line is numbered
        ``first_line``; returns its completion value like ``Context.eval`` and raises the binding's
        ``JSException`` on a syntax error or a throw.

        Like the binding's own calls, the GIL is released meanwhile and the thread state is left
        where the binding's callables take it from, so the evaluated code may call into Python."""
        code = source.encode("utf-8")
        options = _EvalOptions(_EVAL_OPTIONS_VERSION, 0, filename.encode("utf-8"), first_line)
        lib = _eval_library()
        with self.entered():
            value = lib.JS_Eval2(self.ctx, code, len(code), ctypes.byref(options))  # releases the GIL
            if value.tag == _TAG_EXCEPTION:
                self.set_global(_SLOT, self.lib.JS_GetException(self.ctx))
            else:
                self.set_global(_SLOT, value)
        if value.tag == _TAG_EXCEPTION:
            self.context.eval(f"(() => {{ const e = {_SLOT}; delete globalThis.{_SLOT}; throw e; }})()")
            raise AssertionError("unreachable: the rethrow above raises")  # pragma: no cover
        return self.context.eval(f"(() => {{ const v = {_SLOT}; delete globalThis.{_SLOT}; return v; }})()")

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Around C calls that may run JS or free JS objects: what the binding does around each of
        its own calls. The code may then call Python callables and run finalizers of Python
        objects, which take the GIL back from the thread state saved here (the ctypes call has
        released it). Inside a binding call already (a ctypes callback from JS) there is nothing
        to do."""
        saved = ctypes.c_void_p.from_address(id(self.context) + _THREAD_STATE_OFFSET)
        if saved.value:
            yield
            return
        _eval_library().JS_UpdateStackTop(self.rt)
        saved.value = ctypes.pythonapi.PyThreadState_Get()
        try:
            yield
        finally:
            saved.value = None

    def heap_size(self) -> int:
        """Bytes the engine has allocated now (``malloc_size``), read straight from the runtime
        struct: cheap, and safe from any thread while the context lives (a torn read of one word
        cannot happen on the platforms the layout is verified for)."""
        return int(ctypes.c_size_t.from_address(self.rt + _MALLOC_SIZE_OFFSET).value)

    def arm_interrupt(self) -> None:
        """Make every running and later JS entry stop with an uncatchable ``InternalError:
        interrupted``. Safe from any thread: it only stores the handler in the runtime, which the
        engine reads at its interrupt checks (the binding never touches it without a time limit)."""
        if self._handler is None:
            self._handler = INTERRUPT_HANDLER(lambda _rt, _opaque: 1)
        self.lib.JS_SetInterruptHandler(self.rt, ctypes.cast(self._handler, ctypes.c_void_p), None)

    def disarm_interrupt(self) -> None:
        self.lib.JS_SetInterruptHandler(self.rt, None, None)


def attach(context: Any) -> NativeContext | None:
    """The native view of a fresh ``quickjs.Context``; None when the binding is not a verified
    version or its layout does not check out."""
    if binding_version() not in VERIFIED or type(context).__basicsize__ != _CONTEXT_SIZE:
        return None
    if ctypes.c_void_p.from_address(id(context) + _THREAD_STATE_OFFSET).value:
        return None
    lib = library()
    rt_ptr = ctypes.c_void_p.from_address(id(context) + 16).value
    ctx_ptr = ctypes.c_void_p.from_address(id(context) + 24).value
    if not rt_ptr or not ctx_ptr or lib.JS_GetRuntime(ctx_ptr) != rt_ptr:
        return None
    if lib.JS_GetRuntimeOpaque(rt_ptr) != id(context):
        return None
    usage = context.memory()
    count = ctypes.c_size_t.from_address(rt_ptr + _MALLOC_COUNT_OFFSET).value
    size = ctypes.c_size_t.from_address(rt_ptr + _MALLOC_SIZE_OFFSET).value
    if usage.get("malloc_count") != count or usage.get("malloc_size") != size:
        return None
    return NativeContext(context, rt_ptr, ctx_ptr)
