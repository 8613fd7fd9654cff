"""OpenAI requests prepared by the SDK and carried by geppetto's own HTTP/1.1 client.

Why: the SDK's per-call path (its options model, an ``httpx2`` request, the httpx-to-aiohttp
shim) costs about 1 ms of CPU per call, which alone holds 1,000 concurrent sessions to ~1.6 s
against the 0.6 s budget (``docs/performance.md``), and aiohttp's client alone costs about three
times the floor's CPU; :class:`~geppetto.engines.providers.transport.Carrier` carries the bytes
(``http1`` for plain keep-alive, aiohttp for proxies and redirects). The SDK still makes every
decision it owns:

* it builds the request template once per client and path: URL (base URL, default query),
  authentication, default, custom and platform headers;
* for every non-2xx response it decides whether to retry (``_should_retry``: status,
  ``x-should-retry``, an over-long ``Retry-After``), how long to wait (``_calculate_retry_timeout``:
  ``Retry-After``/``retry-after-ms``, exponential backoff with jitter) and which typed error to
  raise (``_make_status_error_from_response``), which the engine maps like any SDK error;
* connection failures and timeouts before the headers are retried on its delays, as it does.

Per call geppetto only serializes the body with orjson, sets ``x-stainless-retry-count`` and
reads the stream. Those SDK methods are private, so :func:`check_sdk` refuses an SDK without
them with a clear message instead of failing mid-request.
"""

from __future__ import annotations

import asyncio
import importlib
import ssl
from dataclasses import dataclass
from typing import Any

from geppetto.engines.providers.common import ProviderConfig, count_request
from geppetto.engines.providers.transport import (
    Carrier,
    Reply,
    Target,
    env_proxy,
    make_openai_client,
    openai_request_headers,
)
from geppetto.errors import ConfigError

SDK_HOOKS = (
    "_build_request",
    "_should_retry",
    "_calculate_retry_timeout",
    "_make_status_error_from_response",
)
# The SDK's own default pool size (httpx limits of the openai client): 1,000 connections.
MAX_CONNECTIONS = 1000


def check_sdk(sdk: Any) -> None:
    missing = [name for name in SDK_HOOKS if not callable(getattr(sdk, name, None))]
    if missing:
        import openai

        raise ConfigError(
            f"openai {openai.__version__} lacks {', '.join(missing)}: "
            "install a supported SDK with pip install 'openai[aiohttp]>=3.54,<4'"
        )


@dataclass(frozen=True, slots=True)
class Template:
    """What the SDK would send to one path, minus the body."""

    url: str
    headers: dict[str, str]
    target: Target  # the carrier's encoding of url and headers
    options: Any  # the SDK's FinalRequestOptions, for its retry-delay rule
    request: Any  # the SDK's HTTP request object, attached to responses it classifies


class DirectOpenAIClient:
    """One per event loop: the SDK client (for decisions) and a :class:`Carrier` (for bytes)."""

    def __init__(self, config: ProviderConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.sdk = make_openai_client(config)
        check_sdk(self.sdk)
        client_settings = config.settings.client
        self.carrier = Carrier(
            connect_timeout=client_settings.connect_timeout,
            read_timeout=client_settings.timeout,
            limit=MAX_CONNECTIONS,
            follow_redirects=not config.strict,
            proxy=env_proxy(config.base_url),
            ssl_context=ssl_context,
        )
        self._templates: dict[str, Template] = {}
        self._errors = self.carrier.errors

    def template(self, path: str) -> Template:
        template = self._templates.get(path)
        if template is None:
            template = self._templates[path] = self._build_template(path)
        return template

    def _build_template(self, path: str) -> Template:
        from openai._models import FinalRequestOptions

        options = FinalRequestOptions.construct(
            method="post", url=path, json_data={}, headers=openai_request_headers(self.config) or {}
        )
        request = self.sdk._build_request(options)
        # aiohttp sets these itself (and must, after a redirect or for another body length).
        dropped = ("host", "content-length", "connection", "transfer-encoding")
        headers = {name: value for name, value in request.headers.items() if name.lower() not in dropped}
        url = str(request.url)
        target = self.carrier.target(url, headers)
        return Template(url=url, headers=headers, target=target, options=options, request=request)

    async def post(self, path: str, body: bytes) -> Reply:
        """Send ``body`` and return the open reply once it has 2xx headers.

        The caller reads it and must release it (``async with`` or ``release()``). Failures are
        the SDK's: its typed status error, or the transport's exception after the last retry.
        """
        template = self.template(path)
        retries = self.sdk.max_retries
        taken = 0
        while True:
            target = template.target
            if taken:
                headers = {**template.headers, "x-stainless-retry-count": str(taken)}
                target = self.carrier.target(template.url, headers)
            count_request()
            try:
                response = await self.carrier.post(target, body)
            except self._errors:
                if taken >= retries:
                    raise
                await asyncio.sleep(self.sdk._calculate_retry_timeout(retries - taken, template.options))
                taken += 1
                continue
            if response.status < 300:
                return response
            classified = await self._sdk_response(response, template)
            if taken >= retries or not self.sdk._should_retry(classified):
                raise self.sdk._make_status_error_from_response(classified)
            delay = self.sdk._calculate_retry_timeout(retries - taken, template.options, classified.headers)
            await asyncio.sleep(delay)
            taken += 1

    async def _sdk_response(self, response: Reply, template: Template) -> Any:
        """The failed response as the SDK's own HTTP response type, body read and released."""
        try:
            content = await response.read()
        finally:
            response.release()
        http = importlib.import_module(type(template.request).__module__.partition(".")[0])
        # The carrier already decoded the body: the SDK's type must not decode it again.
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.raw_headers
            if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        return http.Response(response.status, headers=headers, content=content, request=template.request)

    async def close(self) -> None:
        await self.carrier.aclose()
        await self.sdk.close()


def make_direct_client(config: ProviderConfig) -> DirectOpenAIClient:
    return DirectOpenAIClient(config)


async def close_direct_client(client: DirectOpenAIClient) -> None:
    await client.close()
