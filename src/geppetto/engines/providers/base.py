"""The run skeleton every provider engine shares.

A provider adapter supplies two things: ``build_request(config, turn, ctx)`` (blocks -> provider
body, with ``config`` already carrying the turn's own ``inference_config`` overrides)
and ``stream(request, acc, attempt)`` (open the stream through the SDK and feed its events to
the accumulator). This class adds what is the same everywhere: the outbound URL check, the
accumulator (events, blocks, ``inference_result``, partial output on failure or cancellation),
error mapping, and one retry rule the SDKs cannot apply: a stream that fails after its headers
but before its first token may be re-sent; one that has produced output never is. Retries before
the headers are the SDKs' own (status codes, ``Retry-After``, backoff), configured from settings.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.providers.common import ClientPool, ProviderConfig, counting_requests, retry_delay
from geppetto.engines.providers.errors import map_exception
from geppetto.engines.turn_settings import settings_for_turn
from geppetto.errors import ConfigError, GeppettoError
from geppetto.settings.redact import redact_text
from geppetto.turns.model import Turn


@dataclass(slots=True)
class Attempt:
    """Per-attempt state: ``opened`` once response headers were accepted."""

    number: int = 0
    opened: bool = False
    retry_after: float | None = None  # seconds the server asked for (Retry-After); own retries only


def has_output(acc: StreamAccumulator) -> bool:
    return bool(acc.text_parts or acc.reasoning_parts or acc.tool_calls or acc.encrypted_reasoning)


class ProviderEngine:
    """Base class of the provider engines (see the module docstring)."""

    # True when no SDK retries before the headers (Ollama): the loop below then does it too.
    own_retries: ClassVar[bool] = False

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        # One SDK client per event loop. Staticmethods, so the pool holds no reference to the engine.
        self._clients: ClientPool[Any] = ClientPool(partial(self.make_client, config), self.close_client)

    @property
    def name(self) -> str:
        return f"{self.config.provider}:{self.config.model}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.config.provider!r}, model={self.config.model!r})"

    # -- to implement -----------------------------------------------------------------------

    def build_request(self, config: ProviderConfig, turn: Turn, ctx: RunContext) -> dict[str, Any]:
        raise NotImplementedError

    async def stream(self, request: dict[str, Any], acc: StreamAccumulator, attempt: Attempt) -> Any:
        """Run one attempt; the return value is handed to :meth:`finish`."""
        raise NotImplementedError

    def finish(self, acc: StreamAccumulator, state: Any) -> Turn:
        return acc.finish()

    @staticmethod
    def make_client(config: ProviderConfig) -> Any:
        """A new SDK client (or HTTP session) for the running loop."""
        raise NotImplementedError

    @staticmethod
    async def close_client(client: Any) -> None:
        raise NotImplementedError

    def client(self) -> Any:
        """The client of the running loop, created on first use."""
        return self._clients.get()

    def prepare(self) -> None:
        """Create the SDK client for this loop before the clock of the run starts."""
        self._clients.get()

    def max_tokens(self, config: ProviderConfig) -> int | None:
        return config.settings.chat.max_response_tokens

    async def aclose(self) -> None:
        """Release the SDK client of the running loop."""
        await self._clients.aclose()

    def config_for(self, turn: Turn) -> ProviderConfig:
        """This engine's config, with the turn's ``inference_config`` overrides when it has any."""
        if not turn.data:  # the usual turn: nothing to override, nothing to look up
            return self.config
        settings = settings_for_turn(self.config.settings, turn)
        return self.config if settings is self.config.settings else replace(self.config, settings=settings)

    # -- the shared run ---------------------------------------------------------------------

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        await self.config.check_url()
        try:
            config = self.config_for(turn)
            request = self.build_request(config, turn, ctx)
        except ValueError as exc:
            raise ConfigError(f"{self.config.provider}: {exc}") from None
        max_retries = max(0, self.config.settings.client.max_retries)
        try:
            self.prepare()
        except Exception as exc:
            message = redact_text(
                f"{self.config.provider}: cannot create the client: {exc}", self.config.secrets
            )
            raise ConfigError(message) from None
        with (
            StreamAccumulator(
                turn, ctx, provider=config.provider, model=config.model, max_tokens=self.max_tokens(config)
            ) as acc,
            counting_requests() as sent,
        ):
            acc.server = self.config.base_url
            acc.start()
            attempt = Attempt()
            started = time.monotonic()
            while True:
                try:
                    state = await self.stream(request, acc, attempt)
                    break
                except asyncio.CancelledError:
                    raise
                except GeppettoError as exc:
                    error: GeppettoError = exc
                except Exception as exc:
                    error = map_exception(
                        exc,
                        provider=self.config.provider,
                        spec=self.config.spec,
                        base_url=self.config.base_url,
                        timeout=self.config.settings.client.timeout,
                        secrets=self.config.secrets,
                        attempts=max(sent[0], attempt.number + 1),
                        elapsed=time.monotonic() - started,
                    )
                if not self._may_retry(error, acc, attempt, max_retries):
                    raise error from None
                await asyncio.sleep(retry_delay(attempt.number, attempt.retry_after))
                attempt = Attempt(number=attempt.number + 1)
                acc.usage, acc.stop_reason, acc.response_id = None, "", ""
                acc.extra.clear()
            _flag_invalid_arguments(acc)
            return self.finish(acc, state)

    def _may_retry(self, error: GeppettoError, acc: StreamAccumulator, attempt: Attempt, limit: int) -> bool:
        if not getattr(error, "retryable", False) or attempt.number >= limit or has_output(acc):
            return False
        return attempt.opened or self.own_retries


def _flag_invalid_arguments(acc: StreamAccumulator) -> None:
    """Tool calls whose arguments are not valid JSON keep the raw string as ``args``; list their
    ids in ``inference_result.extra.invalid_tool_arguments`` so the tool loop can report it to
    the model instead of running the tool with garbage."""
    invalid = [
        call.id or call.name
        for call in acc.tool_calls.values()
        if call.name and isinstance(call.arguments(), str)
    ]
    if invalid:
        acc.extra["invalid_tool_arguments"] = invalid
