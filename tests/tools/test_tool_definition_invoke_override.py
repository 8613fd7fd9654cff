"""A ToolDefinition subclass that overrides ``invoke`` is still run through it by the executor."""

from __future__ import annotations

import asyncio
from typing import Any

from geppetto.engines.base import RunContext
from geppetto.tools import ToolDefinition, ToolRegistry


class Shouting(ToolDefinition):
    async def invoke(self, args: dict[str, Any], ctx: RunContext | None = None) -> Any:
        return str(await super().invoke(args, ctx)).upper()


def test_an_overridden_invoke_is_what_the_executor_runs() -> None:
    registry = ToolRegistry([Shouting("echo", lambda args: args["text"])])
    assert asyncio.run(registry.acall("echo", {"text": "hi"})) == "HI"
