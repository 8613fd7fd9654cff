"""Helpers shared by the provider engine tests: settings aimed at the replay server, a run wrapper."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provider_replay import ReplayServer

from geppetto.engines.base import RunContext
from geppetto.engines.providers import ProviderEngine, create_provider_engine
from geppetto.events.sinks import CollectingSink
from geppetto.settings import Settings, apply_fields
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

KEY = "sk-test-REPLAYSECRET0123456789"

# Where each API type's SDK expects its base URL to point on the replay server.
BASE_PATHS = {
    "openai": "/v1",
    "openai-responses": "/v1",
    "claude": "",
    "gemini": "",
    "ollama": "",
}


def settings_for(replay: ReplayServer, api_type: str, model: str, **fields: Any) -> Settings:
    values: dict[str, Any] = {
        "ai-api-type": api_type,
        "ai-engine": model,
        f"{api_type}-base-url": replay.base_url + BASE_PATHS.get(api_type, "/v1"),
        f"{api_type}-api-key": KEY,
        "max-retries": 0,
    }
    values.update({name.replace("_", "-"): value for name, value in fields.items()})
    return apply_fields(Settings(), values)


def engine_for(replay: ReplayServer, api_type: str, model: str, **fields: Any) -> ProviderEngine:
    return create_provider_engine(settings_for(replay, api_type, model, **fields), environ={})


@dataclass
class Tool:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


class Registry:
    """Duck-typed stand-in for the tool registry (``list_tools()``)."""

    def __init__(self, *tools: Tool) -> None:
        self._tools = list(tools)

    def list_tools(self) -> list[Tool]:
        return list(self._tools)


@dataclass
class Outcome:
    turn: Turn
    sink: CollectingSink
    error: BaseException | None = None

    @property
    def types(self) -> list[str]:
        return [event.type.value for event in self.sink.events]

    @property
    def new_blocks(self) -> list[Block]:
        return self.turn.blocks[1:]

    def kinds(self) -> list[str]:
        return [block.kind.value for block in self.new_blocks]

    def of(self, kind: BlockKind) -> list[Block]:
        return [block for block in self.new_blocks if block.kind is kind]

    @property
    def text(self) -> str:
        return "".join(block.payload["text"] for block in self.of(BlockKind.LLM_TEXT))

    @property
    def result(self) -> dict[str, Any]:
        value = TurnMetaKeys.INFERENCE_RESULT.get(self.turn.metadata)
        assert value is not None, "no inference_result written"
        return value

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.result.get("usage") or {})

    def calls(self) -> list[tuple[str, str, Any]]:
        return [(b.payload["id"], b.payload["name"], b.payload["args"]) for b in self.of(BlockKind.TOOL_CALL)]

    def partial_text(self) -> str:
        return "".join(
            getattr(event, "delta", "") for event in self.sink.events if event.type.value == "partial"
        )


async def run_engine(
    engine: ProviderEngine, turn: Turn | None = None, *, tools: Any = None, close: bool = True
) -> Outcome:
    """Run once, capturing the error instead of raising (tests assert on both)."""
    turn = turn if turn is not None else Turn.builder().user("hi").build()
    sink = CollectingSink()
    error: BaseException | None = None
    try:
        turn = await engine.run(turn, RunContext(sink=sink, tools=tools))
    except Exception as exc:
        error = exc
    finally:
        if close:
            await engine.aclose()
    return Outcome(turn, sink, error)
