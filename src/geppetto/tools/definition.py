"""``ToolDefinition`` and the ``@tool`` decorator.

A tool is a name, a description, a JSON schema for its arguments and something to run. Two ways
to make one:

* ``@tool`` on a function (sync or async): the schema comes from the type hints and docstring via
  pydantic, and arguments are validated (and coerced) by the same model before the call.
* ``ToolDefinition(name, handler, parameters={...})``: an explicit JSON schema; ``handler(args)``
  (or ``handler(args, ctx)``) receives the decoded argument object. Only the object shape and the
  schema's ``required`` keys are checked, the rest is the handler's business.

Sync functions run in a worker thread (``asyncio.to_thread``) so they never block the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, overload

from geppetto.engines.base import RunContext
from geppetto.engines.function import positional_arity
from geppetto.errors import ToolError
from geppetto.tools.docstrings import parse_docstring
from geppetto.tools.errors import ToolArgumentsError
from geppetto.tools.signature import FunctionSignature

ToolFunction = Callable[..., Any]


def _empty_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


class ToolDefinition:
    """One tool: what providers are told about it and how to run it.

    Attributes read by provider engines: ``name``, ``description``, ``parameters`` (a JSON
    schema of type object). Calling the definition like a function calls the wrapped function.
    """

    __slots__ = (
        "_is_async",
        "_signature",
        "_wants_ctx",
        "description",
        "examples",
        "function",
        "name",
        "parameters",
        "tags",
        "version",
    )

    def __init__(
        self,
        name: str,
        function: ToolFunction | None = None,
        *,
        description: str = "",
        parameters: dict[str, Any] | None = None,
        tags: Iterable[str] = (),
        version: str = "",
        examples: Iterable[Any] = (),
    ) -> None:
        if not isinstance(name, str):
            raise ToolError(f"tool name must be a string, got {type(name).__name__}")
        if function is not None and not callable(function):
            raise ToolError(f"tool {name} handler must be a function")
        if parameters is not None and not isinstance(parameters, dict):
            raise ToolError(f"tool {name} parameters must be a JSON schema object")
        self.name = name
        self.function = function
        self.description = description
        self.parameters: dict[str, Any] = dict(parameters) if parameters is not None else _empty_schema()
        self.tags = list(tags)
        self.version = version
        self.examples = list(examples)
        self._signature: FunctionSignature | None = None
        self._wants_ctx = function is not None and positional_arity(function) >= 2
        self._is_async = function is not None and _is_async(function)

    @classmethod
    def from_function(
        cls,
        fn: ToolFunction,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        version: str = "",
        examples: Iterable[Any] = (),
        localns: Mapping[str, Any] | None = None,
    ) -> ToolDefinition:
        """A tool whose schema and validation come from ``fn``'s signature and docstring.

        ``localns`` resolves string annotations naming local classes (``@tool`` passes the
        namespace it was used in, so tools defined inside functions work with postponed
        annotations).
        """
        if not callable(fn):
            raise ToolError(f"tool requires a function, got {type(fn).__name__}")
        tool_name = name if name is not None else getattr(fn, "__name__", "")
        summary, param_docs = parse_docstring(inspect.getdoc(fn))
        signature = FunctionSignature(fn, tool_name, param_docs, localns)
        definition = cls(
            tool_name,
            fn,
            description=description if description is not None else summary,
            parameters=signature.json_schema(),
            tags=tags,
            version=version,
            examples=examples,
        )
        definition._signature = signature
        definition._wants_ctx = False
        return definition

    async def invoke(self, args: dict[str, Any], ctx: RunContext | None = None) -> Any:
        """Validate ``args`` and run the tool; returns whatever the function returns."""
        produced = await self._start(args, ctx if ctx is not None else RunContext())
        if not self._is_async and inspect.isawaitable(produced):
            produced = await produced
        return produced

    def _start(self, args: dict[str, Any], ctx: RunContext) -> Awaitable[Any]:
        """Validate ``args`` and start the tool: the awaitable of its first step (a sync function
        in a worker thread). For a sync function, what it yields may itself be awaitable (one that
        returned a coroutine: await it too). The executor awaits it directly: no frame of ours in
        between."""
        fn = self.function
        if fn is None:
            raise ToolError(f"tool {self.name} has no function to run")
        if not isinstance(args, dict):
            raise ToolArgumentsError(f"invalid arguments for tool {self.name}: expected a JSON object")
        if self._signature is not None:
            positional, keyword = self._signature.bind(args, ctx)
        else:
            self._check_required(args)
            positional, keyword = ([args, ctx] if self._wants_ctx else [args]), {}
        if not self._is_async:
            return asyncio.to_thread(fn, *positional, **keyword)
        produced = fn(*positional, **keyword)
        return produced if inspect.isawaitable(produced) else _ready(produced)

    def _check_required(self, args: dict[str, Any]) -> None:
        required = self.parameters.get("required")
        if isinstance(required, list):
            missing = [key for key in required if isinstance(key, str) and key not in args]
            if missing:
                names = ", ".join(missing)
                raise ToolArgumentsError(f"invalid arguments for tool {self.name}: missing required {names}")

    def to_dict(self) -> dict[str, Any]:
        """The provider-facing form stored under ``tool_definitions``: name, description, parameters."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def info(self) -> dict[str, Any]:
        """The listing form (the reference's ``tools.list()`` entries)."""
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "tags": list(self.tags),
        }

    def renamed(self, name: str) -> ToolDefinition:
        """A copy registered under another name (same function, schema and validation)."""
        copy = ToolDefinition(
            name,
            self.function,
            description=self.description,
            parameters=self.parameters,
            tags=self.tags,
            version=self.version,
            examples=self.examples,
        )
        copy._signature, copy._wants_ctx, copy._is_async = self._signature, self._wants_ctx, self._is_async
        return copy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.function is None:
            raise ToolError(f"tool {self.name} has no function to run")
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"ToolDefinition(name={self.name!r}, description={self.description!r})"


@overload
def tool(fn: ToolFunction, /) -> ToolDefinition: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Iterable[str] = (),
    version: str = "",
    examples: Iterable[Any] = (),
) -> Callable[[ToolFunction], ToolDefinition]: ...


def tool(
    fn: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Iterable[str] = (),
    version: str = "",
    examples: Iterable[Any] = (),
) -> ToolDefinition | Callable[[ToolFunction], ToolDefinition]:
    """Turn a function into a :class:`ToolDefinition` (``@tool`` or ``@tool(name=..., tags=[...])``).

    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two numbers.'''
    ...     return a + b
    """

    localns = sys._getframe(1).f_locals

    def decorate(target: ToolFunction) -> ToolDefinition:
        return ToolDefinition.from_function(
            target,
            name=name,
            description=description,
            tags=tags,
            version=version,
            examples=examples,
            localns=localns,
        )

    if fn is not None:
        return decorate(fn)
    return decorate


async def _ready(value: Any) -> Any:
    """An async-declared callable that returned a plain value (an object whose ``__call__``
    is async, wrapped): the value, awaitable."""
    return value


def _is_async(fn: Callable[..., Any]) -> bool:
    target = inspect.unwrap(fn)
    call = getattr(target, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(call)
