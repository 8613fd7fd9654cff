"""What ``require`` and ``host.call`` resolve against: the host's module and function tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geppetto.js.errors import JSModuleNotFound


class HostFunctionNotFound(LookupError):
    """``host.call(name)`` for a name nobody registered (JS sees a ReferenceError)."""

    js_name = "ReferenceError"
    code = "host_function_not_found"


class HostModules:
    """Registered host functions and modules; read on the owner thread, filled from any thread."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}
        self.modules: dict[str, tuple[str, Any]] = {}

    def call(self, args: list[Any]) -> Any:
        """``host.call(name, ...args)`` from a JS module."""
        fn = self.functions.get(args[0])
        if fn is None:
            raise HostFunctionNotFound(f"host function {args[0]!r} is not registered")
        return fn(*args[1:])

    def require(self, args: list[Any]) -> dict[str, Any]:
        """What the bridge's ``require`` needs for a module not in its cache yet."""
        name = args[0]
        spec = self.modules.get(name)
        if spec is None:
            raise JSModuleNotFound(name)
        kind, payload = spec
        if kind == "js":
            return {"kind": "js", "source": payload}
        return {"kind": "value", "value": payload()}
