"""JSON over HTTP for the embedding and rerank providers: the chat engines' :class:`Carrier`
(keep-alive HTTP/1.1, one per event loop), their retry policy, and a bounded response size.

Retries follow ``geppetto.engines.providers``: statuses 408/409/429/5xx, connection failures and
truncated bodies are retried up to ``client.max_retries`` times, waiting what ``Retry-After``
asks (up to two minutes) or the SDKs' jittered backoff. A failure carries the status and a short
description, never the response body.

Redirects are followed here, not by aiohttp, so that every hop is checked: ``redirect_check(url)``
(the outbound rules: scheme, local names, DNS to a non-public address) runs before each new
host is contacted, and a hop to another origin (scheme, host or port) carries only
``Content-Type`` and ``User-Agent``: a key header of any name (``Authorization``,
``x-goog-api-key``) never leaves its origin. At most :data:`MAX_REDIRECTS` hops; 307/308 repeat
the POST, 301/302/303 become a GET without a body (what aiohttp and browsers do).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson

from geppetto.engines.providers.common import ClientPool, count_request, retry_after, retry_delay
from geppetto.engines.providers.errors import RETRYABLE_STATUS
from geppetto.engines.providers.transport import AiohttpReply, Carrier, Reply, Target
from geppetto.errors import GeppettoError

DEFAULT_MAX_RESPONSE_BYTES = 256 << 20  # a 2048 x 3072 float batch as JSON is ~130 MB
MAX_REDIRECTS = 10
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
MAX_CONNECTIONS = 100  # per host, what aiohttp's default connector allowed in total
_CROSS_ORIGIN_HEADERS = frozenset(("content-type", "user-agent"))  # all a hop elsewhere carries


class HttpFailure(Exception):
    """A request that failed for good (retries spent or not retryable)."""

    def __init__(
        self, what: str, *, status: int | None = None, retryable: bool = False, too_large: bool = False
    ) -> None:
        super().__init__(what)
        self.what = what
        self.status = status
        self.retryable = retryable
        self.too_large = too_large


def status_hint(status: int) -> str:
    """What to do about an HTTP status (never the body)."""
    if status in (401, 403):
        return "check the API key"
    if status == 404:
        return "check the model name and the base URL"
    if status == 413:
        return "the request is too large: lower embeddings.batch_size"
    if status == 429:
        return "rate limited: retries were spent, lower embeddings.concurrency or try later"
    if status >= 500:
        return "the server failed: retries were spent"
    return "the server refused the request"


class JsonClient:
    """POSTs JSON and returns the decoded answer, retrying what the policy allows."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        follow_redirects: bool = True,
        preflight: Callable[[], Awaitable[None]] | None = None,
        redirect_check: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.headers = {"Content-Type": "application/json", **dict(headers or {})}
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max(0, max_retries)
        self.max_response_bytes = max_response_bytes
        self.follow_redirects = follow_redirects
        self._preflight = preflight  # awaited before the first request (a DNS check, say)
        self._redirect_check = redirect_check  # awaited for every redirect target
        self._plain_headers = {k: v for k, v in self.headers.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
        self._pool: ClientPool[_Clients] = ClientPool(self._make_session, _close_clients)

    def _make_session(self) -> _Clients:
        return _Clients(self.connect_timeout)

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def post_json(self, url: str, payload: Any) -> tuple[Any, Mapping[str, str]]:
        """``(decoded body, response headers)``; :class:`HttpFailure` when it cannot be had."""
        if self._preflight is not None:
            await self._preflight()
            self._preflight = None
        body = orjson.dumps(payload)
        attempt = 0
        while True:
            asked: float | None = None
            try:
                return await self._once(url, body)
            except _Retry as retry:
                failure, asked = retry.failure, retry.asked
            if not failure.retryable or attempt >= self.max_retries:
                raise failure
            await asyncio.sleep(retry_delay(attempt, asked))
            attempt += 1

    async def _once(self, url: str, body: bytes) -> tuple[Any, Mapping[str, str]]:
        clients = self._pool.get()
        count_request()
        try:
            async with asyncio.timeout(self.timeout or None):
                reply = await clients.carrier.post(clients.target(url, self.headers), body)
                async with reply:
                    if reply.status in _REDIRECTS and self.follow_redirects:
                        raw, headers, status = await self._follow(clients, url, body, reply)
                    else:
                        raw, headers, status = await self._read(reply)
        except TimeoutError:
            raise _Retry(HttpFailure(f"no answer within {self.timeout:g}s", retryable=True), None) from None
        except clients.cut_off:
            raise _Retry(
                HttpFailure("the response was cut off before its end", retryable=True), None
            ) from None
        except clients.unreachable as exc:
            what = f"could not connect ({type(exc).__name__})"
            raise _Retry(HttpFailure(what, retryable=True), None) from None
        try:
            return orjson.loads(raw), headers
        except orjson.JSONDecodeError:
            pass
        try:  # NaN / Infinity literals: decoded so the caller can name them
            return json.loads(raw), headers
        except ValueError:
            raise _Retry(
                HttpFailure("the response is not valid JSON (cut off?)", status=status, retryable=True), None
            ) from None

    async def _read(self, reply: Reply) -> tuple[bytes, Mapping[str, str], int]:
        """A final answer's body; a status of 300 or more is a failure (retryable or not)."""
        if reply.status >= 300:
            await _drain(reply, self.max_response_bytes)
            retryable = reply.status in RETRYABLE_STATUS or reply.status >= 500
            what = f"HTTP {reply.status}: {status_hint(reply.status)}"
            raise _Retry(
                HttpFailure(what, status=reply.status, retryable=retryable), retry_after(reply.headers)
            )
        raw = await _read_bounded(reply, self.max_response_bytes)
        if raw is None:
            raise HttpFailure(
                f"response body exceeds {self.max_response_bytes} bytes", status=reply.status, too_large=True
            )
        return raw, reply.headers, reply.status  # the headers: a mapping that outlives the reply

    async def _follow(
        self, clients: _Clients, url: str, body: bytes, reply: Reply
    ) -> tuple[bytes, Mapping[str, str], int]:
        """Follow ``reply``'s redirect chain hop by hop (see the module docstring), on aiohttp."""
        origin = _origin(url)
        data: bytes | None
        method, data, here = "POST", body, url
        for _ in range(MAX_REDIRECTS):
            location = reply.headers.get("Location")
            await _drain(reply, self.max_response_bytes)
            reply.release()
            if not location:
                raise HttpFailure(f"HTTP {reply.status} redirect without a Location", status=reply.status)
            try:
                target = urljoin(here, location)
                same_origin = _origin(target) == origin  # reading the port checks it
            except ValueError:
                raise HttpFailure(
                    f"HTTP {reply.status} redirect to a malformed URL", status=reply.status
                ) from None
            if self._redirect_check is not None:
                try:
                    await self._redirect_check(target)
                except GeppettoError as exc:
                    raise HttpFailure(f"refused a redirect: {exc}", status=reply.status) from None
            if reply.status in (301, 302, 303):
                method, data = "GET", None
            headers = self.headers if same_origin else self._plain_headers
            if data is None:
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            count_request()
            reply = await clients.hop(method, target, data, headers)
            here = target
            if reply.status not in _REDIRECTS:
                try:
                    return await self._read(reply)
                finally:
                    reply.release()
        reply.release()
        raise HttpFailure(f"more than {MAX_REDIRECTS} redirects", status=reply.status)


class _Clients:
    """One event loop's clients: the chat engines' :class:`Carrier` for requests, an aiohttp
    session (made on the first redirect) for the hops of a redirect chain."""

    def __init__(self, connect_timeout: float) -> None:
        import aiohttp

        from geppetto.engines.providers.http1 import ProtocolError, ServerDisconnectedError

        self.carrier = Carrier(
            connect_timeout=connect_timeout or None,
            read_timeout=None,  # the request's total timeout bounds it
            limit=MAX_CONNECTIONS,
            follow_redirects=False,  # followed hop by hop here, every target checked
            trust_env=True,  # HTTP(S)_PROXY / NO_PROXY, per URL, as the SDKs do
        )
        self._targets: dict[str, Target] = {}
        self._hops: Any = None
        self.cut_off: tuple[type[BaseException], ...] = (
            ServerDisconnectedError,
            ProtocolError,
            aiohttp.ClientPayloadError,
            aiohttp.ServerDisconnectedError,
        )
        self.unreachable = self.carrier.errors  # http1's errors, aiohttp's (hops), timeouts

    def target(self, url: str, headers: Mapping[str, str]) -> Target:
        """The carrier's prepared request head, made once per URL (one client's headers never change)."""
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = self.carrier.target(url, headers)
        return target

    async def hop(self, method: str, url: str, data: bytes | None, headers: Mapping[str, str]) -> Reply:
        import aiohttp

        if self._hops is None:
            self._hops = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(sock_connect=None), trust_env=True
            )
        response = await self._hops.request(method, url, data=data, headers=headers, allow_redirects=False)
        return AiohttpReply(response)

    async def aclose(self) -> None:
        await self.carrier.aclose()
        if self._hops is not None:
            await self._hops.close()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


class _Retry(Exception):
    def __init__(self, failure: HttpFailure, asked: float | None) -> None:
        super().__init__(failure.what)
        self.failure = failure
        self.asked = asked


async def _read_bounded(reply: Reply, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it is known to exceed ``limit`` bytes."""
    length = reply.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None
    chunks: list[bytes] = []
    total = 0
    async for chunk in reply.chunks():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(reply: Reply, limit: int) -> None:
    with contextlib.suppress(Exception):
        total = 0
        async for chunk in reply.chunks():
            total += len(chunk)
            if total >= limit:
                return


async def _close_clients(clients: _Clients) -> None:
    await clients.aclose()
