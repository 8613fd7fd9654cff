"""SDK clients on the aiohttp transport, configured from settings, and raw-stream helpers.

The ``openai`` and ``anthropic`` SDKs are imported here, inside functions, so importing
``geppetto.engines`` never pays their import time. Both clients get the settings' timeout (read
timeout between chunks, connect timeout), ``max_retries`` (their own retry policy: 408/409/429/
5xx, ``x-should-retry``, ``Retry-After``, backoff) and, under the strict outbound policy, no
redirects.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.engines.providers.common import ProviderConfig, count_request
from geppetto.engines.providers.sse import SSEDecoder

if TYPE_CHECKING:
    from geppetto.engines.accumulator import StreamAccumulator

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id")


def _headers(config: ProviderConfig) -> dict[str, str] | None:
    agent = config.settings.client.user_agent
    return {"User-Agent": agent} if agent else None


async def _count_request(request: Any) -> None:
    count_request()


_EVENT_HOOKS = {"request": [_count_request]}  # httpx hooks: one call per attempt, retries included


def make_openai_client(config: ProviderConfig) -> Any:
    import openai

    client_settings = config.settings.client
    timeout = openai.Timeout(client_settings.timeout, connect=client_settings.connect_timeout)
    http_client = openai.DefaultAioHttpClient(
        timeout=timeout, follow_redirects=not config.strict, event_hooks=_EVENT_HOOKS
    )
    return openai.AsyncOpenAI(
        api_key=config.api_key,
        organization=client_settings.organization or None,
        base_url=config.base_url,
        timeout=timeout,
        max_retries=max(0, client_settings.max_retries),
        default_headers=_headers(config),
        http_client=http_client,
        # Local servers need no key: send no Authorization header instead of failing.
        _enforce_credentials=bool(config.api_key),
    )


def make_anthropic_client(config: ProviderConfig) -> Any:
    import anthropic

    client_settings = config.settings.client
    timeout = anthropic.Timeout(client_settings.timeout, connect=client_settings.connect_timeout)
    http_client = anthropic.DefaultAioHttpClient(
        timeout=timeout, follow_redirects=not config.strict, event_hooks=_EVENT_HOOKS
    )
    return anthropic.AsyncAnthropic(
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=timeout,
        max_retries=max(0, client_settings.max_retries),
        default_headers=_headers(config),
        http_client=http_client,
    )


def openai_request_headers(config: ProviderConfig) -> dict[str, Any] | None:
    """Per-request headers: without a key, the Authorization header is explicitly omitted."""
    if config.api_key:
        return None
    import openai

    return {"Authorization": openai.Omit()}


async def close_sdk_client(client: Any) -> None:
    await client.close()


def env_proxy(url: str) -> str | None:
    """The proxy that ``HTTP(S)_PROXY``/``NO_PROXY`` choose for ``url``, as the SDKs' httpx clients
    honour them. Looked up once per client: aiohttp's ``trust_env`` does it on every request
    (~0.3 ms each, a third of a call)."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme) or None


def request_id(headers: Any) -> str:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return ""


_RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


def note_rate_limits(acc: StreamAccumulator, headers: Any) -> None:
    """Keep the response's rate-limit headers (OpenAI ``x-ratelimit-*``, Anthropic
    ``anthropic-ratelimit-*``) in ``inference_result.extra.rate_limits``: batch runs tighten
    their limits by them."""
    found = {
        str(name).lower(): str(value)
        for name, value in headers.items()
        if str(name).lower().startswith(_RATE_LIMIT_PREFIXES)
    }
    if found:
        acc.extra["rate_limits"] = found


def content_type(headers: Any) -> str:
    return str(headers.get("content-type") or "").lower()


async def iter_raw(response: Any) -> AsyncIterator[bytes]:
    """Body bytes of an SDK raw streaming response, as they arrive."""
    async for chunk in response.http_response.aiter_bytes():
        yield chunk


class StreamParser:
    """Base of the provider stream parsers: the accumulator they feed, what their errors need
    (provider name, secrets to redact) and ``done``. :meth:`feed_event` decodes one SSE data
    payload and hands a JSON object to :meth:`event`, which each wire format implements."""

    def __init__(self, acc: StreamAccumulator, provider: str, secrets: tuple[str, ...] = ()) -> None:
        self.acc = acc
        self.provider = provider
        self.secrets = secrets
        self.done = False

    def feed_event(self, data: str) -> None:
        event = orjson.loads(data)
        if isinstance(event, dict):
            self.event(event)

    def event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError


async def pump_sse(chunks: AsyncIterable[bytes], parser: StreamParser) -> None:
    """Feed the SSE data of a body's ``chunks`` to ``parser`` until it reports ``done``.

    An event cut off by the end of the body is dropped here; the parser's ``end()`` then reports
    the stream as truncated.
    """
    decoder = SSEDecoder()
    async for raw in chunks:
        for _, data in decoder.feed(raw):
            parser.feed_event(data)
        if parser.done:
            return
    for _, data in decoder.close():
        try:
            parser.feed_event(data)
        except orjson.JSONDecodeError:
            return
