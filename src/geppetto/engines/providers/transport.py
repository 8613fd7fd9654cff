"""SDK clients on the aiohttp transport, configured from settings, the :class:`Carrier` that
carries the direct engines' bytes, and raw-stream helpers.

The ``openai`` and ``anthropic`` SDKs are imported here, inside functions, so importing
``geppetto.engines`` never pays their import time. Both clients get the settings' timeout (read
timeout between chunks, connect timeout), ``max_retries`` (their own retry policy: 408/409/429/
5xx, ``x-should-retry``, ``Retry-After``, backoff) and, under the strict outbound policy, no
redirects.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from geppetto.engines.providers.common import ProviderConfig, count_request
from geppetto.engines.providers.http1 import Http1Client, Http1Error, Prepared, prepare
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


class Reply(Protocol):
    """A reply as the engines read it, whichever client carried it."""

    status: int
    reason: str
    headers: Any  # case-insensitive ``get``/``items``
    raw_headers: Any  # [(name bytes, value bytes)]

    async def __aenter__(self) -> Reply: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...

    def release(self) -> None: ...


class AiohttpReply:
    """An aiohttp response behind the :class:`Reply` interface (the fallback path)."""

    __slots__ = ("_response", "headers", "raw_headers", "reason", "status")

    def __init__(self, response: Any) -> None:
        self._response = response
        self.status = int(response.status)
        self.reason = str(response.reason or "")
        self.headers = response.headers
        self.raw_headers = list(response.raw_headers)

    async def __aenter__(self) -> AiohttpReply:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._response.release()

    def chunks(self) -> AsyncIterator[bytes]:
        iterator: AsyncIterator[bytes] = self._response.content.iter_any()
        return iterator

    async def read(self) -> bytes:
        return bytes(await self._response.read())

    def release(self) -> None:
        self._response.release()


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes and its headers, with the head pre-encoded when :mod:`http1` carries it."""

    url: str
    headers: Mapping[str, str]
    prepared: Prepared | None  # None: aiohttp carries it
    proxy: str | None = None  # the proxy aiohttp goes through


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Carrier:
    """The one seam through which the direct engines' bytes travel.

    Plain keep-alive HTTP/1.1 goes through :class:`~geppetto.engines.providers.http1.Http1Client`;
    what it does not implement goes through an aiohttp session created on first need: a proxy
    chosen by the environment, a non-http(s) URL, an ``Expect`` header, and a 3xx reply when
    redirects are allowed (the request is re-sent through aiohttp, which follows them). The proxy
    is ``proxy`` when given, else with ``trust_env`` the one ``HTTP(S)_PROXY``/``NO_PROXY`` choose
    for each target's URL (a client talking to several hosts).
    """

    def __init__(
        self,
        *,
        connect_timeout: float | None,
        read_timeout: float | None,
        limit: int,
        follow_redirects: bool,
        proxy: str | None = None,
        trust_env: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        import aiohttp

        self.http1 = Http1Client(
            connect_timeout=connect_timeout, read_timeout=read_timeout, limit=limit, ssl_context=ssl_context
        )
        self.follow_redirects = follow_redirects
        self.proxy = proxy
        self.trust_env = trust_env
        self._limit = limit
        self._ssl = ssl_context
        self._aiohttp: Any = None
        self.errors: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError, Http1Error)

    def target(self, url: str, headers: Mapping[str, str]) -> Target:
        proxy = self.proxy if self.proxy is not None or not self.trust_env else env_proxy(url)
        prepared = None
        if proxy is None and not any(name.lower() == "expect" for name in headers):
            try:
                prepared = prepare(url, headers)
            except ValueError:
                prepared = None
        return Target(url=url, headers=headers, prepared=prepared, proxy=proxy)

    async def post(self, target: Target, body: bytes) -> Reply:
        """Send ``body``; the reply is returned once its headers arrived."""
        if target.prepared is None:
            return await self._via_aiohttp(target, body)
        reply = await self.http1.send(target.prepared, body)
        if self.follow_redirects and reply.status in _REDIRECTS:
            reply.release()
            return await self._via_aiohttp(target, body)
        return reply

    async def _via_aiohttp(self, target: Target, body: bytes) -> Reply:
        session = self._aiohttp
        if session is None:
            session = self._aiohttp = self._make_session()
        response = await session.post(
            target.url,
            data=body,
            headers=dict(target.headers),
            allow_redirects=self.follow_redirects,
            proxy=target.proxy,
        )
        return AiohttpReply(response)

    def _make_session(self) -> Any:
        import aiohttp

        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._limit, ssl=self._ssl if self._ssl is not None else True
            ),
            timeout=aiohttp.ClientTimeout(
                sock_connect=self.http1.connect_timeout, sock_read=self.http1.read_timeout
            ),
            # The caller's headers are the whole set: no aiohttp User-Agent added beside them.
            skip_auto_headers=("User-Agent",),
        )

    async def aclose(self) -> None:
        await self.http1.aclose()
        if self._aiohttp is not None:
            await self._aiohttp.close()
            self._aiohttp = None


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
    found = None
    for name, value in headers.items():
        lowered = str(name).lower()
        if lowered.startswith(_RATE_LIMIT_PREFIXES):
            if found is None:
                found = {}
            found[lowered] = str(value)
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
