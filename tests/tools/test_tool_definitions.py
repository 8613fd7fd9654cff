"""Tool definitions: schema from hints and docstrings, validation, explicit schemas."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any, Literal

import pydantic
import pytest

from geppetto.engines.base import RunContext
from geppetto.errors import ToolError
from geppetto.tools import ToolArgumentsError, ToolDefinition, tool
from geppetto.tools.docstrings import parse_docstring


def test_schema_comes_from_hints_defaults_and_google_docstring() -> None:
    @tool
    def forecast(city: str, days: int = 3, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
        """Weather forecast for a city.

        Uses the cached data when it is fresh.

        Args:
            city: Name of the city,
                as the user wrote it.
            days (int): How many days.

        Returns:
            The forecast.
        """
        return {}

    assert forecast.name == "forecast"
    assert forecast.description == "Weather forecast for a city.\n\nUses the cached data when it is fresh."
    assert forecast.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "Name of the city, as the user wrote it."},
            "days": {"type": "integer", "default": 3, "description": "How many days."},
            "unit": {"enum": ["c", "f"], "type": "string", "default": "c"},
        },
        "required": ["city"],
    }


def test_decorator_options_and_annotated_field_descriptions() -> None:
    @tool(name="lookup", description="Find a thing.", tags=["search", "db"], version="2")
    def find(key: Annotated[str, pydantic.Field(description="the key", min_length=2)]) -> str:
        """Ignored because description= wins."""
        return key.upper()

    assert (find.name, find.description, find.tags, find.version) == (
        "lookup",
        "Find a thing.",
        ["search", "db"],
        "2",
    )
    assert find.parameters["properties"]["key"] == {
        "type": "string",
        "description": "the key",
        "minLength": 2,
    }
    assert find.info() == {
        "name": "lookup",
        "description": "Find a thing.",
        "version": "2",
        "tags": ["search", "db"],
    }
    assert find("ab") == "AB"  # the definition still calls like the function


def test_sphinx_and_numpy_docstrings() -> None:
    assert parse_docstring(
        """Sum things.

        :param a: first
            operand
        :param int b: second
        :returns: the sum
        """
    ) == ("Sum things.", {"a": "first operand", "b": "second"})
    assert parse_docstring(
        """Scale a value.

        Parameters
        ----------
        x : float
            The value.
        factor : float
            Multiplier.

        Returns
        -------
        float
        """
    ) == ("Scale a value.", {"x": "The value.", "factor": "Multiplier."})
    assert parse_docstring(None) == ("", {})


async def test_arguments_are_validated_and_coerced_by_the_model() -> None:
    @tool
    def repeat(text: str, times: int = 2) -> str:
        return text * times

    assert await repeat.invoke({"text": "ab", "times": "3"}) == "ababab"
    assert await repeat.invoke({"text": "x"}) == "xx"
    with pytest.raises(ToolArgumentsError) as info:
        await repeat.invoke({"times": "many"})
    message = str(info.value)
    assert message.startswith("invalid arguments for tool repeat: ")
    assert "text: Field required" in message
    assert "times: Input should be a valid integer" in message


async def test_parameter_names_that_clash_with_pydantic_attributes_work() -> None:
    @tool
    def odd(json: str, copy: int, _private: bool = False) -> list[Any]:
        return [json, copy, _private]

    assert set(odd.parameters["properties"]) == {"json", "copy", "_private"}
    assert await odd.invoke({"json": "j", "copy": 1, "_private": True}) == ["j", 1, True]


async def test_run_context_parameter_is_injected_not_advertised() -> None:
    @tool
    async def whoami(ctx: RunContext, prefix: str = "") -> str:
        return prefix + ctx.session_id

    assert list(whoami.parameters["properties"]) == ["prefix"]
    assert await whoami.invoke({"prefix": "s:"}, RunContext(session_id="abc")) == "s:abc"


async def test_single_pydantic_model_parameter_uses_the_model_schema() -> None:
    class Query(pydantic.BaseModel):
        q: str
        limit: int = 10

    @tool
    def search(query: Query) -> dict[str, Any]:
        """Search the index."""
        return {"q": query.q, "limit": query.limit}

    assert search.parameters["properties"] == {
        "q": {"type": "string"},
        "limit": {"type": "integer", "default": 10},
    }
    assert search.parameters["required"] == ["q"]
    assert await search.invoke({"q": "cats"}) == {"q": "cats", "limit": 10}


async def test_sync_tools_run_in_a_worker_thread_and_async_tools_on_the_loop() -> None:
    threads: dict[str, int] = {}

    @tool
    def sync_tool() -> None:
        threads["sync"] = threading.get_ident()

    @tool
    async def async_tool() -> None:
        threads["async"] = threading.get_ident()

    await sync_tool.invoke({})
    await async_tool.invoke({})
    assert threads["async"] == threading.get_ident()
    assert threads["sync"] != threading.get_ident()


async def test_explicit_definition_with_given_schema() -> None:
    seen: list[Any] = []

    def handler(args: dict[str, Any]) -> dict[str, Any]:
        seen.append(args)
        return {"echo": args["text"]}

    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    echo = ToolDefinition(
        "echo", handler, description="Echo text.", parameters=schema, tags=["demo"], version="1"
    )
    assert echo.to_dict() == {"name": "echo", "description": "Echo text.", "parameters": schema}
    assert await echo.invoke({"text": "hi", "extra": 1}) == {"echo": "hi"}
    assert seen == [{"text": "hi", "extra": 1}]
    with pytest.raises(ToolArgumentsError, match="missing required text"):
        await echo.invoke({})


async def test_explicit_async_handler_may_take_the_context() -> None:
    async def handler(args: dict[str, Any], ctx: RunContext) -> str:
        await asyncio.sleep(0)
        return f"{ctx.inference_id}:{args.get('n')}"

    definition = ToolDefinition("ctx_tool", handler)
    assert definition.parameters == {"type": "object", "properties": {}}
    assert await definition.invoke({"n": 1}, RunContext(inference_id="inf")) == "inf:1"


def test_bad_definitions_are_rejected_with_clear_errors() -> None:
    with pytest.raises(ToolError, match="handler must be a function"):
        ToolDefinition("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ToolError, match=r"\*args and \*\*kwargs"):
        tool(lambda *args: None)
    with pytest.raises(ToolError, match="parameters must be a JSON schema object"):
        ToolDefinition("x", lambda args: None, parameters=["nope"])  # type: ignore[arg-type]
