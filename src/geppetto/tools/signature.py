"""Bind a Python function's signature to a pydantic model: JSON schema out, validated call in.

Each parameter becomes one model field (type hint -> type, default -> default, docstring line ->
description). Fields get internal names and the parameter name as alias, so parameters called
``json``, ``copy`` or ``_private`` never collide with pydantic's own attributes. A parameter
annotated with :class:`~geppetto.engines.base.RunContext` is not part of the schema: the executor
passes the run's context to it. A function whose only parameter is a pydantic model uses that
model's schema directly (``def search(query: SearchArgs)``).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic.json_schema import GenerateJsonSchema

from geppetto.engines.base import RunContext
from geppetto.errors import ToolError
from geppetto.tools.errors import ToolArgumentsError

_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY


class _SchemaWithoutFieldTitles(GenerateJsonSchema):
    """pydantic's generator minus the auto-generated per-field titles (noise in a tool schema)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    field: str  # internal field name in the model ("" for context parameters)
    positional_only: bool
    is_context: bool


class FunctionSignature:
    """The schema and argument binding of one tool function."""

    __slots__ = ("_model", "_params", "_single_model", "tool_name")

    def __init__(
        self,
        fn: Callable[..., Any],
        tool_name: str,
        descriptions: dict[str, str],
        localns: Mapping[str, Any] | None = None,
    ) -> None:
        self.tool_name = tool_name
        try:
            signature = inspect.signature(fn)
            hints = typing.get_type_hints(fn, localns=dict(localns) if localns else None, include_extras=True)
        except (TypeError, ValueError, NameError) as exc:
            raise ToolError(f"tool {tool_name}: cannot read the function signature: {exc}") from exc
        params: list[_Param] = []
        fields: dict[str, Any] = {}
        for index, param in enumerate(signature.parameters.values()):
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ToolError(f"tool {tool_name}: *args and **kwargs parameters are not supported")
            annotation = hints.get(param.name, Any)
            if _is_context(annotation):
                params.append(_Param(param.name, "", param.kind is _POSITIONAL_ONLY, True))
                continue
            field_name = f"f{index}"
            default = ... if param.default is param.empty else param.default
            extra: dict[str, Any] = {}
            if descriptions.get(param.name):
                extra["description"] = descriptions[param.name]
            info = pydantic.Field(default, alias=param.name, **extra)
            fields[field_name] = (annotation, info)
            params.append(_Param(param.name, field_name, param.kind is _POSITIONAL_ONLY, False))
        self._params = tuple(params)
        data_params = [p for p in params if not p.is_context]
        only = fields[data_params[0].field][0] if len(data_params) == 1 else None
        self._single_model = isinstance(only, type) and issubclass(only, pydantic.BaseModel)
        try:
            if self._single_model:
                assert isinstance(only, type)
                self._model: type[pydantic.BaseModel] = only
            else:
                config = pydantic.ConfigDict(arbitrary_types_allowed=False)
                self._model = pydantic.create_model(f"{tool_name}_arguments", __config__=config, **fields)
        except (pydantic.PydanticUserError, pydantic.PydanticSchemaGenerationError, TypeError) as exc:
            raise ToolError(f"tool {tool_name}: unsupported parameter types: {exc}") from exc

    def json_schema(self) -> dict[str, Any]:
        try:
            schema = self._model.model_json_schema(by_alias=True, schema_generator=_SchemaWithoutFieldTitles)
        except pydantic.PydanticUserError as exc:
            raise ToolError(f"tool {self.tool_name}: cannot build a JSON schema: {exc}") from exc
        schema.pop("title", None)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        return schema

    def bind(self, args: dict[str, Any], ctx: RunContext) -> tuple[list[Any], dict[str, Any]]:
        """Validate ``args`` and return ``(positional, keyword)`` arguments for the function."""
        try:
            validated = self._model.model_validate(args)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.tool_name}: {describe(exc)}"
            ) from None
        positional: list[Any] = []
        keyword: dict[str, Any] = {}
        for param in self._params:
            if param.is_context:
                value: Any = ctx
            elif self._single_model:
                value = validated
            else:
                value = getattr(validated, param.field)
            if param.positional_only:
                positional.append(value)
            else:
                keyword[param.name] = value
        return positional, keyword


def describe(error: pydantic.ValidationError) -> str:
    """One line per problem, joined: ``"count: Input should be a valid integer; name: Field required"``."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "arguments"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def _is_context(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return isinstance(annotation, type) and issubclass(annotation, RunContext)
