"""JSON envelopes between Python and JS, and the handle tables behind their markers.

Everything crosses the quickjs boundary as JSON text because the binding truncates ints beyond
int32, cannot convert dicts/lists and corrupts JS ``try/catch`` when a Python exception escapes.
Non-JSON values travel as markers (see ``bridge.js``): Python callables become JS functions, host
objects become JS wrapper objects with stable identity, JS functions become :class:`JSCallback`,
promises map to :class:`HostPromise` / ``concurrent.futures.Future``. Only the owner thread uses a
codec.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import json
import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.js.errors import JSError
from geppetto.js.values import HostPromise, JSCallback

if TYPE_CHECKING:
    from geppetto.js.runtime import JSRuntime

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
_EXC_RING_MAX = 64
ANYWHERE = 1 << 30  # bridge.js: a marker outside the argument array's first 30 items
_JS_ERROR_NAMES = frozenset(
    {"Error", "TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError"}
)


def is_host_object(obj: object) -> bool:
    """Objects whose class declares ``__js_methods__``/``__js_props__``/``__js_class__`` cross as handles."""
    cls = type(obj)
    return hasattr(cls, "__js_methods__") or hasattr(cls, "__js_props__") or hasattr(cls, "__js_class__")


def default_error_code(exc: BaseException) -> str:
    if isinstance(exc, TypeError):
        return "type_error"
    if isinstance(exc, concurrent.futures.CancelledError):
        return "cancelled"
    asyncio = sys.modules.get("asyncio")  # not imported just for this: it costs ~25 ms at startup
    if asyncio is not None and isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "host_error"


class Codec:
    """Encodes host values for JS and decodes JS payloads; owns the id tables of one runtime."""

    def __init__(self, runtime: JSRuntime) -> None:
        self._rt = runtime
        self._ids = itertools.count(1)
        self._objects: dict[int, object] = {}
        self._object_ids: dict[int, int] = {}
        self._descriptors: dict[int, dict[str, Any]] = {}
        self._fns: dict[int, Callable[..., Any]] = {}
        self._fn_ids: dict[int, int] = {}
        self._callbacks: weakref.WeakValueDictionary[int, JSCallback] = weakref.WeakValueDictionary()
        self._js_futures: dict[int, Future[Any]] = {}
        self._exc_ring: OrderedDict[int, BaseException] = OrderedDict()
        self._exc_ids = itertools.count(1)

    # ------------------------------------------------------------------ Python -> JS
    def encode_ok(self, value: Any) -> str:
        """Envelope ``{"ok": value}`` (``{}`` for None, which JS sees as ``undefined``)."""
        return self._encode({} if value is None else {"ok": value})

    def encode_args(self, args: Sequence[Any]) -> str:
        return self._encode(list(args))

    def encode_err(self, exc: BaseException) -> str:
        try:
            return "P" + orjson.dumps({"err": self.error_info(exc)}).decode()
        except Exception:
            return 'P{"err":{"name":"Error","message":"unreportable host error","code":"host_error"}}'

    def _encode(self, obj: Any) -> str:
        special = [False]

        def default(o: Any) -> Any:
            special[0] = True
            return self._marker(o)

        try:
            body = orjson.dumps(obj, default=default, option=_OPTS).decode()
        except orjson.JSONEncodeError as exc:
            if isinstance(exc.__cause__, Exception):
                raise exc.__cause__ from None
            if "64-bit" not in str(exc):
                raise TypeError(f"cannot pass value to JS: {exc}") from None
            body = json.dumps(obj, default=default, separators=(",", ":"), allow_nan=False)
        return ("S" if special[0] else "P") + body

    def _marker(self, o: Any) -> Any:
        if isinstance(o, JSCallback):
            if o.runtime is not self._rt:
                raise TypeError("a JS function cannot move to another JS runtime")
            return {"__gcb": o.id}
        if isinstance(o, HostPromise):
            return self._promise_marker(o)
        if isinstance(o, Future):
            return self._promise_marker(self._rt._promise_from_future(o))
        if is_host_object(o):
            return self._handle_marker(o)
        if callable(o):
            return {"__gfn": self._fn_id(o)}
        if isinstance(o, set | frozenset):
            return list(o)
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        dump = getattr(o, "model_dump", None)
        if callable(dump):
            return dump(mode="json")
        raise TypeError(f"cannot pass a {type(o).__name__} to JS")

    def _promise_marker(self, p: HostPromise) -> dict[str, Any]:
        if p.runtime is not self._rt:
            raise TypeError("a HostPromise cannot move to another JS runtime")
        if p.state == "ok":
            return {"__gp": p.id, "state": "ok", "value": p.value}
        if p.state == "err" and p.error is not None:
            return {"__gp": p.id, "state": "err", "error": self.error_info(p.error)}
        return {"__gp": p.id}

    def _handle_marker(self, obj: object) -> dict[str, Any]:
        hid = self._object_ids.get(id(obj))
        if hid is None:
            hid = next(self._ids)
            cls = type(obj)
            props = {name: getattr(obj, name) for name in getattr(cls, "__js_props__", ())}
            self._objects[hid] = obj
            self._object_ids[id(obj)] = hid
            self._descriptors[hid] = {
                "__gh": hid,
                "m": list(getattr(cls, "__js_methods__", ())),
                "p": props,
                "c": getattr(cls, "__js_class__", None),
            }
        return self._descriptors[hid]

    def _fn_id(self, fn: Callable[..., Any]) -> int:
        fid = self._fn_ids.get(id(fn))
        if fid is None:
            fid = next(self._ids)
            self._fns[fid] = fn
            self._fn_ids[id(fn)] = fid
        return fid

    def error_info(self, exc: BaseException) -> dict[str, Any]:
        """What JS needs to throw a matching Error: name, message, code and ring ids."""
        if isinstance(exc, JSError):
            info: dict[str, Any] = {"name": exc.name or "Error", "message": exc.message, "code": exc.code}
            if exc.js_ref is not None:
                info["ref"] = exc.js_ref
        else:
            name = getattr(exc, "js_name", None)
            if name not in _JS_ERROR_NAMES:
                name = "TypeError" if isinstance(exc, TypeError) else "Error"
            code = getattr(exc, "code", None)
            if not isinstance(code, str | int) or isinstance(code, bool):
                code = default_error_code(exc)
            info = {"name": name, "message": str(exc) or type(exc).__name__, "code": code}
        info["exc"] = self._remember(exc)
        return info

    def _remember(self, exc: BaseException) -> int:
        exc_id = next(self._exc_ids)
        self._exc_ring[exc_id] = exc
        if len(self._exc_ring) > _EXC_RING_MAX:
            self._exc_ring.popitem(last=False)
        return exc_id

    # ------------------------------------------------------------------ JS -> Python
    def decode_args(self, payload: str, special: int) -> Any:
        """``special`` is bridge.js's marker mask: bit i for argument i, bit 30 for anywhere."""
        value = orjson.loads(payload)
        if not special:
            return value
        if special >= ANYWHERE or not isinstance(value, list):
            return self._revive(value)
        return [self._revive(item) if special >> index & 1 else item for index, item in enumerate(value)]

    def decode_envelope(self, payload: str) -> Any:
        """Value of an ``{ok}`` envelope; raises the error of an ``{err}`` one."""
        env = orjson.loads(payload)
        err = env.get("err")
        if err is not None:
            raise self.error_from_info(err)
        if "ok" not in env:
            return None
        return self._revive(env["ok"]) if env.get("s") else env["ok"]

    def error_from_info(self, info: dict[str, Any]) -> BaseException:
        original = self._exc_ring.get(info.get("exc") or 0)
        if original is not None:
            return original
        return JSError(
            str(info.get("message", "")),
            name=str(info.get("name", "Error")),
            stack=str(info.get("stack") or ""),
            code=info.get("code"),
            thrown=info.get("thrown"),
            js_ref=info.get("ref"),
        )

    def _revive(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self._revive(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            key = next(iter(v))
            if key == "__gcb":
                return self._callback(v[key])
            if key == "__gh":
                return self._objects.get(v[key])
            if key == "__gfn":
                return self._fns.get(v[key])
            if key == "__gjp":
                fut: Future[Any] = Future()
                self._js_futures[v[key]] = fut
                return fut
        return {k: self._revive(x) for k, x in v.items()}

    def _callback(self, cb_id: int) -> JSCallback:
        cb = self._callbacks.get(cb_id)
        if cb is None:
            cb = JSCallback(self._rt, cb_id)
            cb._finalizer = weakref.finalize(cb, self._rt._release_callback_later, cb_id, cb._count)
            cb._finalizer.atexit = False
            self._callbacks[cb_id] = cb
        cb._count[0] += 1
        return cb

    # ------------------------------------------------------------------ table upkeep
    def method_target(self, hid: int, method: str) -> Callable[..., Any]:
        obj = self._objects.get(hid)
        if obj is None:
            raise ReferenceError("host object was released")
        if method not in getattr(type(obj), "__js_methods__", ()):
            raise TypeError(f"{type(obj).__name__} has no JS method {method!r}")
        target: Callable[..., Any] = getattr(obj, method)
        return target

    def function(self, fid: int) -> Callable[..., Any]:
        fn = self._fns.get(fid)
        if fn is None:
            raise ReferenceError("host function was released")
        return fn

    def release_handle(self, hid: int) -> None:
        obj = self._objects.pop(hid, None)
        self._descriptors.pop(hid, None)
        if obj is not None:
            self._object_ids.pop(id(obj), None)

    def release_fn(self, fid: int) -> None:
        fn = self._fns.pop(fid, None)
        if fn is not None:
            self._fn_ids.pop(id(fn), None)

    def js_settled(self, pid: int, ok: bool, value: Any) -> None:
        fut = self._js_futures.pop(pid, None)
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(self.error_from_info(value))

    def table_sizes(self) -> dict[str, int]:
        """Live entries per table (tests and leak checks)."""
        return {
            "objects": len(self._objects),
            "functions": len(self._fns),
            "callbacks": len(self._callbacks),
            "js_promises": len(self._js_futures),
        }
