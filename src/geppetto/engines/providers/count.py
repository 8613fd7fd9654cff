"""The providers' token-count endpoints (``geppetto.engines.tokens``): Anthropic and Gemini.

Each sends the body an inference would send (built by the engine's own request builder, so the
system prompt, tools and images count), minus the generation options the endpoint does not take.
Errors map like an inference's (status, request id, keys redacted); the SDKs retry as they do for
an inference.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from geppetto.engines.base import RunContext
from geppetto.engines.providers.errors import make_error, map_exception
from geppetto.engines.tokens import TokenCount
from geppetto.errors import ConfigError, GeppettoError
from geppetto.turns.model import Turn

if TYPE_CHECKING:
    from geppetto.engines.providers.base import ProviderEngine

T = TypeVar("T")

# What Anthropic's count endpoint accepts besides model and messages.
_CLAUDE_COUNT_KEYS = ("system", "tools", "tool_choice", "thinking")


async def _call(engine: ProviderEngine, make: Callable[[], Awaitable[T]]) -> T:
    config = engine.config
    await config.check_url()
    started = time.monotonic()
    try:
        return await make()
    except asyncio.CancelledError:
        raise
    except GeppettoError:
        raise
    except Exception as exc:
        raise map_exception(
            exc,
            provider=config.provider,
            spec=config.spec,
            base_url=config.base_url,
            timeout=config.settings.client.timeout,
            secrets=config.secrets,
            elapsed=time.monotonic() - started,
        ) from None


def _request(engine: ProviderEngine, turn: Turn, tools: Any) -> dict[str, Any]:
    try:
        return engine.build_request(engine.config_for(turn), turn, RunContext(tools=tools))
    except ValueError as exc:
        raise ConfigError(f"{engine.config.provider}: {exc}") from None


def _count(engine: ProviderEngine, value: Any, field: str) -> TokenCount:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise make_error(
            engine.config.provider, f"the token count response has no valid {field}", retryable=False
        )
    return TokenCount(value, "provider", engine.config.provider, engine.config.model)


async def claude_count_tokens(engine: ProviderEngine, turn: Turn, tools: Any = None) -> TokenCount:
    """``POST /v1/messages/count_tokens`` -> ``{"input_tokens": N}``."""
    request = _request(engine, turn, tools)
    extra = {key: request[key] for key in _CLAUDE_COUNT_KEYS if key in request}

    async def send() -> Any:
        client = engine.client()
        return await client.messages.count_tokens(
            model=request["model"], messages=request["messages"], extra_body=extra
        )

    response = await _call(engine, send)
    return _count(engine, getattr(response, "input_tokens", None), "input_tokens")


async def gemini_count_tokens(engine: ProviderEngine, turn: Turn, tools: Any = None) -> TokenCount:
    """``POST models/{model}:countTokens`` with the whole ``generateContentRequest`` (so the system
    instruction and tools count, which ``contents`` alone would leave out) -> ``{"totalTokens": N}``."""
    request = _request(engine, turn, tools)
    model = engine.config.model
    if not model.startswith(("models/", "tunedModels/")):
        model = f"models/{model}"
    body = {"generateContentRequest": {"model": model, **request}}

    async def send() -> Any:
        api = engine.client()._api_client
        async with asyncio.timeout(engine.config.settings.client.timeout):
            return await api.async_request("post", f"{model}:countTokens", body)

    response = await _call(engine, send)
    try:
        payload = orjson.loads(response.body or b"{}")
    except orjson.JSONDecodeError:
        raise make_error(engine.config.provider, "the token count response is not JSON") from None
    total = payload.get("totalTokens") if isinstance(payload, dict) else None
    return _count(engine, total, "totalTokens")
