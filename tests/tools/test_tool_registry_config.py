"""ToolRegistry operations and ToolConfig validation / JSON forms."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from geppetto.errors import ConfigError, ToolError
from geppetto.tools import ToolConfig, ToolDefinition, ToolRegistry, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def shout(text: str) -> str:
    return text.upper()


def test_register_get_list_unregister() -> None:
    registry = ToolRegistry([add])
    registry.register(shout)
    assert [d.name for d in registry.list_tools()] == ["add", "shout"]
    assert registry.get("add") is add
    assert "shout" in registry and len(registry) == 2
    registry.unregister("add")
    assert registry.names() == ["shout"]
    with pytest.raises(ToolError, match=r"^tool not found: add$"):
        registry.get("add")
    with pytest.raises(ToolError, match=r"^tool not found: add$"):
        registry.unregister("add")


def test_register_plain_function_as_decorator_and_rename() -> None:
    registry = ToolRegistry()

    @registry.register
    def double(x: int) -> int:
        return 2 * x

    assert isinstance(double, ToolDefinition) and double.parameters["required"] == ["x"]
    registry.register(add, name="plus")
    assert registry.get("plus").parameters == add.parameters
    assert registry.call("plus", {"a": 1, "b": 2}) == 3


def test_empty_name_is_rejected() -> None:
    registry = ToolRegistry()
    with pytest.raises(ToolError, match=r"^tool name cannot be empty$"):
        registry.register(ToolDefinition("", lambda args: None))
    with pytest.raises(ToolError, match=r"^tool name cannot be empty$"):
        registry.register(ToolDefinition("  ", lambda args: None))
    assert len(registry) == 0


def test_clone_and_merge_are_independent() -> None:
    base = ToolRegistry([add])
    copy = base.clone()
    copy.register(shout)
    assert base.names() == ["add"] and copy.names() == ["add", "shout"]
    replacement = ToolDefinition("add", lambda args: "replaced")
    other = ToolRegistry([replacement])
    assert base.merge(other) is base
    assert base.get("add") is replacement
    assert copy.get("add") is add


def test_direct_call_returns_value_or_raises_the_recorded_error() -> None:
    registry = ToolRegistry([add, shout])
    assert registry.call("add", {"a": 2, "b": 3}) == 5
    assert registry.call("shout", '{"text": "hi"}') == "HI"
    with pytest.raises(ToolError, match=r"^tool not found: nope$"):
        registry.call("nope", {})
    with pytest.raises(ToolError, match="invalid arguments for tool add"):
        registry.call("add", {"a": 1})


async def test_direct_call_inside_a_loop_needs_acall() -> None:
    registry = ToolRegistry([add])
    assert await registry.acall("add", {"a": 1, "b": 1}) == 2
    with pytest.raises(ToolError, match="acall"):
        registry.call("add", {"a": 1, "b": 1})


# -- config -----------------------------------------------------------------------------------


def test_defaults_and_json_form() -> None:
    config = ToolConfig()
    assert config.to_dict() == {
        "enabled": True,
        "tool_choice": "auto",
        "max_iterations": 5,
        "execution_timeout_ms": 30000,
        "max_parallel_tools": 3,
        "tool_error_handling": "continue",
        "retry_config": {"max_retries": 2, "backoff_base_ms": 1000, "backoff_factor": 2.0},
    }
    assert ToolConfig.from_dict(config.to_dict()) == config
    limited = ToolConfig(allowed_tools=["add"], execution_timeout_ms=None)
    assert limited.to_dict()["allowed_tools"] == ["add"]
    assert ToolConfig.from_dict(limited.to_dict()) == limited


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "tool_choice",
            "sometimes",
            'invalid tool_choice "sometimes", expected one of: auto, none, required',
        ),
        (
            "tool_error_handling",
            "explode",
            'invalid tool_error_handling "explode", expected one of: continue, abort, retry',
        ),
        ("tool_choice", 3, "invalid tool_choice 3"),
        ("retry_backoff_ms", -1, "invalid retry_backoff_ms -1"),
        ("retry_backoff_factor", 0, "invalid retry_backoff_factor 0"),
        ("execution_timeout_ms", 0, "invalid execution_timeout_ms 0"),
        ("max_iterations", "5", "invalid max_iterations '5'"),
        ("allowed_tools", "add", "invalid allowed_tools 'add'"),
    ],
)
def test_validation_names_the_bad_value(field: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ToolConfig(**{field: value})
    assert str(info.value).startswith(message)


def test_normalisation_like_the_reference() -> None:
    config = ToolConfig(tool_choice=" Required ", max_iterations=0, max_parallel_tools=-4)
    assert (config.tool_choice, config.max_iterations, config.max_parallel_tools) == ("required", 5, 1)


def test_from_dict_reads_go_and_js_forms() -> None:
    go = ToolConfig.from_dict(
        {
            "enabled": True,
            "tool_choice": "auto",
            "max_iterations": 7,
            "execution_timeout": "1m30s",
            "max_parallel_tools": 2,
            "tool_error_handling": "retry",
            "retry_config": {"max_retries": 4, "backoff_base": 250_000_000, "backoff_factor": 3.0},
        }
    )
    assert (go.execution_timeout_ms, go.retry_backoff_ms, go.retry_max_retries) == (90_000, 250, 4)
    assert go.execution_timeout == 90.0
    js = ToolConfig.from_dict(
        {"maxIterations": 3, "toolChoice": "none", "executionTimeoutMs": 50, "retryBackoffMs": 5, "hooks": {}}
    )
    assert (js.max_iterations, js.tool_choice, js.execution_timeout_ms, js.retry_backoff_ms) == (
        3,
        "none",
        50,
        5,
    )
    with pytest.raises(ConfigError, match="unknown tool config key 'hooks'"):
        ToolConfig.from_dict({"hooks": {}}, strict=True)
    with pytest.raises(ConfigError, match="invalid execution_timeout 'soon'"):
        ToolConfig.from_dict({"execution_timeout": "soon"})


def test_backoff_grows_exponentially() -> None:
    config = ToolConfig(retry_backoff_ms=10, retry_backoff_factor=3)
    assert [config.backoff_ms(i) for i in range(3)] == [10, 30, 90]


def test_direct_call_enforces_the_timeout_on_a_hung_sync_tool() -> None:
    release = threading.Event()

    def stuck(args: dict[str, Any]) -> str:
        release.wait(10)
        return "late"

    registry = ToolRegistry([ToolDefinition("stuck", stuck)])
    registry_config = ToolConfig(execution_timeout_ms=20)
    try:
        with pytest.raises(ToolError, match="tool stuck timed out after 20ms"):
            registry.call("stuck", {}, config=registry_config)
    finally:
        release.set()
