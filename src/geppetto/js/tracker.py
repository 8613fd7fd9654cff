"""Unhandled-rejection tracking through quickjs-ng's C hook (the Python binding exposes none).

Without it a rejected promise nobody handles (``async function f() { throw e }; f()``) vanishes
silently. The binding's extension exports the quickjs C API, so we install a rejection tracker
with ctypes: rejected-without-handler promises are kept (one reference each) until a handler is
attached or the owner loop, after draining microtasks, hands them to JS to be reported.

The C pointers come from :mod:`geppetto.js.native`; on a binding version it has not verified
:meth:`RejectionTracker.install` returns None and the runtime falls back to catching rejections
of the main script and of timers only. Owner thread only.
"""

from __future__ import annotations

import ctypes
from typing import Any

from geppetto.js.native import JSValue, NativeContext, attach, library

_TRACKER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, JSValue, JSValue, ctypes.c_bool, ctypes.c_void_p)


class RejectionTracker:
    """Holds promises rejected without a handler until the owner loop reports them."""

    def __init__(self, native: NativeContext) -> None:
        self._native = native
        self._lib = library()
        self._rt = native.rt
        self._ctx = native.ctx
        self._pending: dict[int, JSValue] = {}
        self._callback = _TRACKER(self._on_rejection)  # must outlive the installation
        callback = ctypes.cast(self._callback, ctypes.c_void_p)
        self._lib.JS_SetHostPromiseRejectionTracker(self._rt, callback, None)

    @classmethod
    def install(cls, context: Any, native: NativeContext | None = None) -> RejectionTracker | None:
        """Install on a fresh ``quickjs.Context``; None when the binding is not a verified version."""
        native = native or attach(context)
        if native is None:
            return None
        return cls(native)

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
        with self._native.entered():  # setting and freeing may free Python-backed JS objects
            glob = self._lib.JS_GetGlobalObject(self._ctx)
            self._lib.JS_SetPropertyStr(self._ctx, glob, global_name, value)
            self._lib.JS_FreeValue(self._ctx, glob)
        return True

    def dispose(self) -> None:
        """Uninstall and free the kept promises; call before the context is destroyed."""
        self._lib.JS_SetHostPromiseRejectionTracker(self._rt, None, None)
        with self._native.entered():
            for value in self._pending.values():
                self._lib.JS_FreeValue(self._ctx, value)
        self._pending.clear()
