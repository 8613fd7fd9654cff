"""Tools and the tool loop, offline: a function engine plays the model.

The "model" asks for two tools on its first pass (a sync one and an async one, in parallel),
then answers in text once it sees their results. A before-hook logs each call and an
after-hook stamps results; the events show the executor at work.

Run: .venv/bin/python examples/python/tools.py
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from geppetto.engines import FunctionEngine
from geppetto.events import CallbackSink, Event
from geppetto.session import EngineBuilder, Session
from geppetto.tools import (
    AfterToolCallPayload,
    BeforeToolCallPayload,
    ToolConfig,
    ToolHooks,
    ToolRegistry,
    tool,
)
from geppetto.turns import Block, BlockKind, PrettyPrinter, Turn


@tool(tags=["demo"], version="1")
def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
        unit: "celsius" or "fahrenheit".
    """
    temperature = 21 if unit == "celsius" else 70
    return {"city": city, "temperature": temperature, "unit": unit, "sky": "clear"}


@tool
async def convert_currency(amount: float, rate: float) -> float:
    """Convert an amount with an exchange rate.

    Args:
        amount: The amount to convert.
        rate: Units of the target currency per unit of the source currency.
    """
    await asyncio.sleep(0.01)  # pretend to call a service
    return round(amount * rate, 2)


def fake_model(turn: Turn) -> Turn:
    """First pass: ask for both tools. Second pass: answer from their results."""
    results = [b.payload for b in turn.blocks if b.kind is BlockKind.TOOL_USE]
    if not results:
        return turn.append(
            Block.tool_call("call_1", "get_weather", {"city": "Paris"}),
            Block.tool_call("call_2", "convert_currency", '{"amount": 120, "rate": 1.08}'),
        )
    weather = json.loads(results[0]["result"])
    dollars = json.loads(results[1]["result"])
    return turn.append(
        Block.assistant(
            f"It is {weather['temperature']} degrees and {weather['sky']} in Paris; 120 EUR is {dollars} USD."
        )
    )


def before(payload: BeforeToolCallPayload) -> None:
    print(f"  before hook: {payload.call.name}({json.dumps(payload.call.args)})")


def after(payload: AfterToolCallPayload) -> dict[str, Any] | None:
    print(
        f"  after hook:  {payload.call.name} -> {json.dumps(payload.value)} in {payload.duration_ms:.1f} ms"
    )
    return None


def show_event(event: Event) -> None:
    print(f"  event {event.type}: {json.dumps(event.payload())}")


def main() -> int:
    registry = ToolRegistry([get_weather, convert_currency])
    config = ToolConfig(max_parallel_tools=2, execution_timeout_ms=5_000)
    hooks = ToolHooks(before_tool_call=before, after_tool_call=after)
    builder = (
        EngineBuilder(FunctionEngine(fake_model, name="fake-model"))
        .with_tools(registry, config, hooks)
        .with_sink(CallbackSink(show_event, types=["tool-call-execute", "tool-call-execution-result"]))
    )
    session = Session(builder)
    print("running:")
    turn = session.run(
        Turn.builder().system("You are helpful.").user("Weather in Paris? And 120 EUR in USD?").build()
    )
    print("\nfinal turn:")
    print(PrettyPrinter().format(turn), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
