"""``count_tokens(engine, turn)``: how many input tokens a turn costs with a given engine.

Three methods, best first, and the result says which one answered:

* ``provider``: the provider's own count endpoint (Anthropic ``/v1/messages/count_tokens``, Gemini
  ``models/*:countTokens``), sent the same request body an inference would send (system prompt,
  messages, tools), so it is exact and free of charge;
* ``tokenizer``: the local model's own tokenizer over its own chat template (exact);
* ``estimate``: everywhere else (OpenAI and compatible servers, Ollama, echo, custom engines).
  No tokenizer files are downloaded at run time (tiktoken's encodings are), so the estimate is
  arithmetic: one token per 4 ASCII characters, one per other character (CJK and most non-Latin
  scripts come out near one token each), 4 per message for the chat framing, 768 per image, tool
  definitions counted as their JSON. It is meant to lean high for English and code; treat it as
  a budget check, not a bill.

An engine opts in by defining ``async def count_tokens(turn, tools=None) -> TokenCount``; engines
built from profile settings are unwrapped first.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson

from geppetto.background import background_loop, in_loop_thread
from geppetto.turns.kinds import BlockKind, PayloadKey
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.engines.base import Engine

Method = Literal["provider", "tokenizer", "estimate"]

MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 768
_ASCII_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class TokenCount:
    """The input tokens of one turn, and how they were counted."""

    input_tokens: int
    method: Method
    provider: str = ""
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "method": self.method,
            "provider": self.provider,
            "model": self.model,
        }


def text_tokens(text: str) -> int:
    """The estimate for a piece of text (see the module docstring)."""
    if not text:
        return 0
    if text.isascii():  # the usual case, without a per-character loop
        return math.ceil(len(text) / _ASCII_PER_TOKEN)
    ascii_chars = len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / _ASCII_PER_TOKEN) + (len(text) - ascii_chars)


def _json_tokens(value: Any) -> int:
    try:
        return text_tokens(orjson.dumps(value).decode())
    except TypeError:
        return text_tokens(str(value))


def _block_tokens(kind: BlockKind, payload: dict[str, Any]) -> int:
    images = payload.get(PayloadKey.IMAGES)
    count = IMAGE_TOKENS * len(images) if isinstance(images, list) else 0
    text = payload.get(PayloadKey.TEXT)
    if kind is BlockKind.TOOL_CALL:
        name = str(payload.get(PayloadKey.NAME) or "")
        return count + text_tokens(name) + _json_tokens(payload.get(PayloadKey.ARGS))
    if kind is BlockKind.TOOL_USE:
        result = payload.get(PayloadKey.RESULT)
        return count + (text_tokens(result) if isinstance(result, str) else _json_tokens(result))
    return count + (text_tokens(text) if isinstance(text, str) else 0)


def _tool_tokens(tools: Any) -> int:
    if tools is None:
        return 0
    from geppetto.engines.providers.common import tool_specs

    return sum(
        text_tokens(spec.name) + text_tokens(spec.description) + _json_tokens(spec.parameters)
        for spec in tool_specs(tools)
    )


def estimate_tokens(turn: Turn, *, tools: Any = None) -> int:
    """The arithmetic estimate of ``turn``'s input tokens (with ``tools``' definitions)."""
    total = _tool_tokens(tools)
    for block in turn.blocks:
        total += MESSAGE_OVERHEAD + _block_tokens(block.kind, block.payload)
    return total


def _inner(engine: Engine) -> Engine:
    from geppetto.engines.from_settings import SettingsEngine

    while isinstance(engine, SettingsEngine):
        engine = engine.engine
    return engine


def _labels(engine: Engine) -> tuple[str, str]:
    config = getattr(engine, "config", None)
    if config is not None and hasattr(config, "provider"):
        return str(config.provider), str(getattr(config, "model", ""))
    return str(getattr(engine, "name", type(engine).__name__)), str(getattr(engine, "model", ""))


async def acount_tokens(engine: Engine, turn: Turn, *, tools: Any = None) -> TokenCount:
    """Count ``turn``'s input tokens for ``engine`` (see the module docstring for the methods)."""
    inner = _inner(engine)
    counter = getattr(inner, "count_tokens", None)
    if counter is not None and asyncio.iscoroutinefunction(counter):
        result: TokenCount = await counter(turn, tools=tools)
        return result
    provider, model = _labels(inner)
    return TokenCount(estimate_tokens(turn, tools=tools), "estimate", provider, model)


def count_tokens(
    engine: Engine, turn: Turn, *, tools: Any = None, timeout: float | None = None
) -> TokenCount:
    """:func:`acount_tokens` from synchronous code (runs on the runtime's background loop)."""
    from geppetto.errors import GeppettoError

    loop = background_loop()
    if in_loop_thread(loop):
        raise GeppettoError("count_tokens() would block the event loop; use 'await acount_tokens(...)'")
    future = asyncio.run_coroutine_threadsafe(acount_tokens(engine, turn, tools=tools), loop)
    return future.result(timeout)
