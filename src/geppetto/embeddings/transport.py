"""JSON over HTTP for the embedding and rerank providers: one aiohttp session per event loop,
the chat engines' retry policy, and a bounded response size.

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
from urllib.parse import urlsplit

import orjson

from geppetto.engines.providers.common import ClientPool, count_request, retry_after, retry_delay
from geppetto.engines.providers.errors import RETRYABLE_STATUS
from geppetto.errors import GeppettoError

DEFAULT_MAX_RESPONSE_BYTES = 256 << 20  # a 2048 x 3072 float batch as JSON is ~130 MB
MAX_REDIRECTS = 10
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
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
        self._pool: ClientPool[Any] = ClientPool(self._make_session, _close_session)

    def _make_session(self) -> Any:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout or None, sock_connect=self.connect_timeout or None)
        return aiohttp.ClientSession(timeout=timeout, json_serialize=lambda v: orjson.dumps(v).decode())

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
        aiohttp = _aiohttp()
        session = self._pool.get()
        count_request()
        try:
            async with session.post(url, data=body, headers=self.headers, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS and self.follow_redirects:
                    raw, headers, status = await self._follow(session, url, body, resp)
                else:
                    raw, headers, status = await self._read(resp)
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError):
            raise _Retry(
                HttpFailure("the response was cut off before its end", retryable=True), None
            ) from None
        except aiohttp.ClientConnectionError as exc:
            what = f"could not connect ({type(exc).__name__})"
            raise _Retry(HttpFailure(what, retryable=True), None) from None
        except TimeoutError:
            raise _Retry(HttpFailure(f"no answer within {self.timeout:g}s", retryable=True), None) from None
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

    async def _read(self, resp: Any) -> tuple[bytes, Mapping[str, str], int]:
        """A final answer's body; a status of 300 or more is a failure (retryable or not)."""
        if resp.status >= 300:
            await _drain(resp, self.max_response_bytes)
            retryable = resp.status in RETRYABLE_STATUS or resp.status >= 500
            what = f"HTTP {resp.status}: {status_hint(resp.status)}"
            raise _Retry(
                HttpFailure(what, status=resp.status, retryable=retryable), retry_after(resp.headers)
            )
        raw = await _read_bounded(resp, self.max_response_bytes)
        if raw is None:
            raise HttpFailure(
                f"response body exceeds {self.max_response_bytes} bytes", status=resp.status, too_large=True
            )
        return raw, resp.headers, resp.status  # the headers: a read-only mapping that outlives resp

    async def _follow(
        self, session: Any, url: str, body: bytes, resp: Any
    ) -> tuple[bytes, Mapping[str, str], int]:
        """Follow ``resp``'s redirect chain hop by hop (see the module docstring)."""
        origin = _origin(url)
        data: bytes | None
        method, data = "POST", body
        for _ in range(MAX_REDIRECTS):
            location = resp.headers.get("Location")
            await _drain(resp, self.max_response_bytes)
            resp.release()
            if not location:
                raise HttpFailure(f"HTTP {resp.status} redirect without a Location", status=resp.status)
            try:
                target = str(resp.url.join(_yarl().URL(location)))
            except ValueError:
                raise HttpFailure(
                    f"HTTP {resp.status} redirect to a malformed URL", status=resp.status
                ) from None
            if self._redirect_check is not None:
                try:
                    await self._redirect_check(target)
                except GeppettoError as exc:
                    raise HttpFailure(f"refused a redirect: {exc}", status=resp.status) from None
            if resp.status in (301, 302, 303):
                method, data = "GET", None
            headers = self.headers if _origin(target) == origin else self._plain_headers
            if data is None:
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            count_request()
            resp = await session.request(method, target, data=data, headers=headers, allow_redirects=False)
            if resp.status not in _REDIRECTS:
                try:
                    return await self._read(resp)
                finally:
                    resp.release()
        resp.release()
        raise HttpFailure(f"more than {MAX_REDIRECTS} redirects", status=resp.status)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _yarl() -> Any:
    import yarl

    return yarl


def _aiohttp() -> Any:
    """The aiohttp module, imported on first use (an import statement per request costs more)."""
    global _AIOHTTP
    if _AIOHTTP is None:
        import aiohttp

        _AIOHTTP = aiohttp
    return _AIOHTTP


_AIOHTTP: Any = None


class _Retry(Exception):
    def __init__(self, failure: HttpFailure, asked: float | None) -> None:
        super().__init__(failure.what)
        self.failure = failure
        self.asked = asked


async def _read_bounded(resp: Any, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it is known to exceed ``limit`` bytes."""
    length = resp.content_length
    if length is not None:
        return None if length > limit else bytes(await resp.read())
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(resp: Any, limit: int) -> None:
    with contextlib.suppress(Exception):
        await resp.content.read(limit)


async def _close_session(session: Any) -> None:
    await session.close()
