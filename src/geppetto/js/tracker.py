"""Unhandled-rejection tracking through quickjs-ng's C hook (the Python binding exposes none).

Without it a rejected promise nobody handles (``async function f() { throw e }; f()``) vanishes
silently. The binding's extension exports the quickjs C API, so we install a rejection tracker
with ctypes: rejected-without-handler promises are kept (one reference each) until a handler is
attached or the owner loop, after draining microtasks, hands them to JS to be reported.

This reads the ``JSRuntime*``/``JSContext*`` pointers out of the binding's ``Context`` object, a
layout we verified for the versions in ``_VERIFIED`` (and cross-check at runtime with
``JS_GetRuntime``). For any other version :meth:`RejectionTracker.install` returns None and the
runtime falls back to catching rejections of the main script and of timers only. Owner thread only.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import quickjs  # type: ignore[import-untyped]

_VERIFIED = {"0.17.0.2"}


class JSValue(ctypes.Structure):
    """quickjs-ng's 16-byte ``JSValue`` on 64-bit hosts (no NaN boxing): a union word and a tag."""

    _fields_ = [("ptr", ctypes.c_uint64), ("tag", ctypes.c_int64)]


_TRACKER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, JSValue, JSValue, ctypes.c_bool, ctypes.c_void_p)
_lib: Any = None


def _load() -> Any:
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(quickjs._quickjs.__file__)
        lib.JS_GetRuntime.restype = ctypes.c_void_p
        lib.JS_GetRuntime.argtypes = [ctypes.c_void_p]
        lib.JS_DupValue.restype = JSValue
        lib.JS_DupValue.argtypes = [ctypes.c_void_p, JSValue]
        lib.JS_FreeValue.restype = None
        lib.JS_FreeValue.argtypes = [ctypes.c_void_p, JSValue]
        lib.JS_GetGlobalObject.restype = JSValue
        lib.JS_GetGlobalObject.argtypes = [ctypes.c_void_p]
        lib.JS_SetPropertyStr.restype = ctypes.c_int
        lib.JS_SetPropertyStr.argtypes = [ctypes.c_void_p, JSValue, ctypes.c_char_p, JSValue]
        lib.JS_SetHostPromiseRejectionTracker.restype = None
        lib.JS_SetHostPromiseRejectionTracker.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        _lib = lib
    return _lib


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


class RejectionTracker:
    """Holds promises rejected without a handler until the owner loop reports them."""

    def __init__(self, lib: Any, rt_ptr: int, ctx_ptr: int) -> None:
        self._lib = lib
        self._rt = rt_ptr
        self._ctx = ctx_ptr
        self._pending: dict[int, JSValue] = {}
        self._callback = _TRACKER(self._on_rejection)  # must outlive the installation
        lib.JS_SetHostPromiseRejectionTracker(rt_ptr, ctypes.cast(self._callback, ctypes.c_void_p), None)

    @classmethod
    def install(cls, context: Any) -> RejectionTracker | None:
        """Install on a fresh ``quickjs.Context``; None when the binding is not a verified version."""
        if binding_version() not in _VERIFIED or type(context).__basicsize__ < 32:
            return None
        lib = _load()
        rt_ptr = ctypes.c_void_p.from_address(id(context) + 16).value
        ctx_ptr = ctypes.c_void_p.from_address(id(context) + 24).value
        if not rt_ptr or not ctx_ptr or lib.JS_GetRuntime(ctx_ptr) != rt_ptr:
            return None
        return cls(lib, rt_ptr, ctx_ptr)

    def _on_rejection(self, ctx: int, promise: JSValue, reason: JSValue, handled: bool, opaque: int) -> None:
        try:
            if not handled:
                if promise.ptr not in self._pending:
                    self._pending[promise.ptr] = self._lib.JS_DupValue(ctx, promise)
            else:
                kept = self._pending.pop(promise.ptr, None)
                if kept is not None:
                    self._lib.JS_FreeValue(ctx, kept)
        except Exception:  # a ctypes callback must never raise into C
            pass

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def expose_next(self, global_name: bytes) -> bool:
        """Move one unhandled promise to ``globalThis[global_name]`` (ownership passes to JS)."""
        if not self._pending:
            return False
        _, value = self._pending.popitem()
        glob = self._lib.JS_GetGlobalObject(self._ctx)
        self._lib.JS_SetPropertyStr(self._ctx, glob, global_name, value)
        self._lib.JS_FreeValue(self._ctx, glob)
        return True

    def dispose(self) -> None:
        """Uninstall and free the kept promises; call before the context is destroyed."""
        self._lib.JS_SetHostPromiseRejectionTracker(self._rt, None, None)
        for value in self._pending.values():
            self._lib.JS_FreeValue(self._ctx, value)
        self._pending.clear()
