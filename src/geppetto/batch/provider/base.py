"""What the provider batch backends share: requests, outcomes, status and the backend seam.

A backend speaks one provider's batch API through its official SDK (the client the engine
already owns for this loop). It knows four verbs: submit request bodies under custom ids, read
the status, stream the raw results back (a body or an error per custom id) and cancel. Turning
bodies into turns is :mod:`geppetto.batch.provider.decode`'s job; orchestration is ``runner``'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from geppetto.engines.base import RunContext
from geppetto.engines.providers.base import ProviderEngine
from geppetto.errors import ConfigError, GeppettoError, ProviderError
from geppetto.turns.model import Turn


@dataclass(slots=True)
class ProviderBatchRequest:
    """One item: its id, the turn to answer and the engine (provider, model, settings) to use."""

    id: str
    turn: Turn
    engine: ProviderEngine


@dataclass(slots=True)
class ProviderBatchOutcome:
    """One item's result: ``turn`` with the answer appended, or ``error`` (never both)."""

    id: str
    turn: Turn | None = None
    error: GeppettoError | None = None
    batch_id: str = ""
    custom_id: str = ""


@dataclass(slots=True)
class BatchStatus:
    """One submitted provider batch as of its last poll."""

    provider: str
    batch_id: str
    status: str = ""
    ended: bool = False
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    error: str = ""  # a batch-level failure (validation failed, expired...)
    files: dict[str, str] = field(default_factory=dict)  # where the results are (backend-specific)

    @property
    def processing(self) -> int:
        return max(0, self.total - self.succeeded - self.failed)


@dataclass(slots=True)
class ProviderBatchProgress:
    """Every batch of a run, reported after each poll round."""

    batches: list[BatchStatus] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(batch.total for batch in self.batches)

    @property
    def succeeded(self) -> int:
        return sum(batch.succeeded for batch in self.batches)

    @property
    def failed(self) -> int:
        return sum(batch.failed for batch in self.batches)

    @property
    def ended(self) -> bool:
        return all(batch.ended for batch in self.batches)


ProgressCallback = Callable[[ProviderBatchProgress], None]

# One raw result: (custom id, response body, request id) or (custom id, error).
RawResult = tuple[str, dict[str, Any] | ProviderError, str]


class BatchBackend(Protocol):
    """One provider's batch API (see the module docstring)."""

    provider: str
    max_requests: int
    max_bytes: int
    engine: ProviderEngine

    async def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str: ...

    async def status(self, batch_id: str) -> BatchStatus: ...

    def results(self, status: BatchStatus) -> AsyncIterator[RawResult]: ...

    async def cancel(self, batch_id: str) -> None: ...

    def turn_for(self, turn: Turn, body: dict[str, Any], request_id: str) -> Turn: ...


def request_body(engine: ProviderEngine, turn: Turn) -> dict[str, Any]:
    """The body the engine would stream, made non-streaming (batch APIs refuse ``stream``)."""
    try:
        body = engine.build_request(engine.config_for(turn), turn, RunContext())
    except ValueError as exc:
        raise ConfigError(f"{engine.config.provider}: {exc}") from None
    body.pop("stream", None)
    body.pop("stream_options", None)
    return body


def backend_for(engine: ProviderEngine) -> BatchBackend:
    """The batch backend of ``engine``'s API; :class:`ConfigError` when it has none."""
    from geppetto.engines.providers.anthropic import AnthropicEngine
    from geppetto.engines.providers.openai_chat import OpenAIChatEngine
    from geppetto.engines.providers.openai_responses import OpenAIResponsesEngine

    if isinstance(engine, OpenAIChatEngine | OpenAIResponsesEngine):
        from geppetto.batch.provider.openai_batch import OpenAIBatchBackend

        return OpenAIBatchBackend(engine)
    if isinstance(engine, AnthropicEngine):
        from geppetto.batch.provider.anthropic_batch import AnthropicBatchBackend

        return AnthropicBatchBackend(engine)
    raise ConfigError(
        f"{engine.config.provider} has no batch API geppetto can use (OpenAI chat/responses and "
        "Anthropic messages do): run without --provider-batch"
    )


def sdk_client(engine: ProviderEngine) -> Any:
    """The engine's SDK client for this loop (the chat engine wraps it with its own transport)."""
    client = engine.client()
    return getattr(client, "sdk", client)


def sdk_error(engine: ProviderEngine, exc: BaseException) -> ProviderError:
    """An SDK call's failure as the engine's own error (typed, keys redacted), as a live run maps it."""
    from geppetto.engines.providers.errors import map_exception

    config = engine.config
    return map_exception(
        exc, provider=config.provider, spec=config.spec, base_url=config.base_url, secrets=config.secrets
    )


def batch_error(
    provider: str, body: Any, *, secrets: tuple[str, ...] = (), request_id: str = ""
) -> ProviderError:
    """The error of one failed request inside a batch (``{"error": {"type"|"code", "message"}}``)."""
    from geppetto.engines.providers.errors import make_error, provider_message

    inner = body.get("error", body) if isinstance(body, dict) else body
    kind = ""
    if isinstance(inner, dict):
        kind = str(inner.get("type") or inner.get("code") or "")
    label = f" [{kind}]" if kind else ""
    return make_error(
        provider,
        f"batch request failed{label}: {provider_message(body, 'unknown error')}",
        request_id=request_id or None,
        secrets=secrets,
    )
