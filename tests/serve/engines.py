"""Scripted engines for the server tests (Python callables and a controllable streaming engine)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from geppetto.engines import FunctionEngine
from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.events.types import Usage
from geppetto.turns.keys import DataKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn


def weather_engine() -> FunctionEngine:
    """Calls ``get_weather`` when it is advertised and unanswered, else answers from the result."""

    def run(turn: Turn, ctx: RunContext) -> Turn:
        last = turn.blocks[-1]
        if last.kind is BlockKind.TOOL_USE:
            turn.append(Block.assistant(f"It is {last.payload['result']}."))
            return turn
        names = [tool.name for tool in ctx.tools.list_tools()] if ctx.tools is not None else []
        choice = (turn.data.get(DataKeys.TOOL_CONFIG.id) or {}).get("tool_choice")
        if "get_weather" in names and choice != "none":
            turn.append(Block.tool_call("call_1", "get_weather", json.dumps({"city": "Paris"})))
        else:
            turn.append(Block.assistant("no tools: " + ",".join(names)))
        return turn

    return FunctionEngine(run, name="weather")


def inspect_engine() -> FunctionEngine:
    """Replies with a JSON description of what it received (blocks, data, tools)."""

    def run(turn: Turn, ctx: RunContext) -> Turn:
        report: dict[str, Any] = {
            "blocks": [{"kind": b.kind.value, "role": b.role, "payload": b.payload} for b in turn.blocks],
            "data": turn.data,
            "tools": [t.name for t in ctx.tools.list_tools()] if ctx.tools is not None else None,
        }
        turn.append(Block.assistant(json.dumps(report)))
        return turn

    return FunctionEngine(run, name="inspect")


def schema_engine() -> FunctionEngine:
    """Answers with an object that satisfies the requested ``structured_output_config`` schema."""

    def run(turn: Turn) -> Turn:
        config = turn.data.get(DataKeys.STRUCTURED_OUTPUT_CONFIG.id) or {}
        props = (config.get("schema") or {}).get("properties") or {}
        value = {name: ("Paris" if spec.get("type") == "string" else 3) for name, spec in props.items()}
        turn.append(Block.assistant(json.dumps(value)))
        return turn

    return FunctionEngine(run, name="schema")


class GateEngine:
    """Streams ``first`` and then waits until :meth:`open` (or a cancel); records what happened.

    Thread-safe controls for tests: ``started`` is set when a run reaches the gate, ``cancelled``
    when a run was cancelled there.
    """

    name = "gate"

    def __init__(self, first: str = "partial", rest: str = " done") -> None:
        self.first = first
        self.rest = rest
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.runs = 0
        self._gate: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        if self._loop is not None and self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.set)

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        if self._gate is None:
            self._gate = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        self.runs += 1
        with StreamAccumulator(turn, ctx, provider="gate", model="gate") as acc:
            acc.start()
            acc.add_text(self.first)
            self.started.set()
            try:
                await self._gate.wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            acc.add_text(self.rest)
            acc.set_stop_reason("stop")
            return acc.finish()


class MeteredToolEngine:
    """Calls ``tool`` with ``args``, then (once it answered) replies ``reply``; every model call
    reports 10 input and 2 output tokens, so a run's usage shows how many calls it counted."""

    name = "metered"

    def __init__(self, tool: str, args: dict[str, Any], reply: str = "done") -> None:
        self.tool, self.args, self.reply = tool, args, reply

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        answered = turn.blocks[-1].kind is BlockKind.TOOL_USE
        with StreamAccumulator(turn, ctx, provider="metered", model="metered") as acc:
            acc.start()
            if answered:
                acc.add_text(self.reply)
            else:
                acc.add_complete_tool_call(id="call_1", name=self.tool, args=self.args)
            acc.set_usage(Usage(input_tokens=10, output_tokens=2))
            acc.set_stop_reason("stop" if answered else "tool_calls")
            return acc.finish()
