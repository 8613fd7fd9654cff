"""Turn SDK and transport exceptions into :class:`~geppetto.errors.ProviderError`.

The SDKs already classify failures (status classes, request ids, retries); this module only
reads what they carry, duck-typed so no SDK is imported, and phrases one message per failure:
provider, what happened, what to do. Every message goes through :func:`redact_text` with the
engine's key, so a provider that echoes the key back cannot leak it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from geppetto.errors import ProviderError
from geppetto.settings.apitypes import ApiTypeSpec
from geppetto.settings.redact import redact_text

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

# Error types/codes carried inside a 200 stream that mean "try again" rather than "fix the request".
RETRYABLE_TYPES = frozenset(
    {
        "overloaded_error",
        "api_error",
        "rate_limit_error",
        "rate_limit_exceeded",
        "server_error",
        "unavailable",
        "internal",
        "resource_exhausted",
    }
)


# Exception class names (aiohttp, httpx2) of transport failures worth retrying.
_TRANSIENT_WORDS = (
    "protocol",
    "payload",
    "disconnect",
    "incomplete",
    "network",
    "transport",
    "read",
    "closed",
)


def status_hint(status: int | None, spec: ApiTypeSpec | None) -> str:
    """What a user can do about an HTTP status."""
    if status in (401, 403):
        if spec is not None and spec.key_env:
            where = " or ".join(spec.key_env)
            return f"check the API key ({where} or {spec.key_flag})"
        return "check the API key"
    if status == 404:
        flag = spec.base_url_flag if spec is not None else "the base URL"
        return f"check the model name (--ai-engine) and {flag}"
    if status == 429:
        return "rate limited or out of quota: retry later or check your plan"
    if status in (400, 422):
        return "the provider rejected the request: check the model and its parameters"
    if status is not None and (status >= 500 or status in (408, 409)):
        return "the provider failed: retry later"
    return ""


def provider_message(body: Any, fallback: str = "") -> str:
    """The human message inside an error body (``{"error": {"message": ...}}`` and variants)."""
    seen = 0
    while isinstance(body, dict) and seen < 3:
        seen += 1
        inner = body.get("error")
        if isinstance(inner, dict):
            body = inner
            continue
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
        if isinstance(inner, str) and inner:
            return inner
        break
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback


def _header(exc: Any, name: str) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = headers.get(name)
    except Exception:
        return None
    return str(value) if value is not None else None


def _retryable(status: int | None, exc: Any) -> bool:
    should = _header(exc, "x-should-retry")
    if should in ("true", "false"):
        return should == "true"
    return status is not None and (status in RETRYABLE_STATUS or status >= 500)


def _connection_failure(exc: BaseException) -> BaseException | None:
    """The connect failure behind ``exc``, if any. SDK transports re-wrap it (the openai
    aiohttp transport reports a refused connection as a connect *timeout*), so the whole
    cause chain is searched."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        seen += 1
        name = type(current).__name__.lower()
        if isinstance(current, ConnectionError) or "connectorerror" in name or "connectionrefused" in name:
            return current
        if isinstance(current, OSError) and not isinstance(current, TimeoutError):
            return current
        current = current.__cause__ or current.__context__
    return None


def make_error(
    provider: str,
    what: str,
    *,
    hint: str = "",
    status: int | None = None,
    retryable: bool = False,
    request_id: str | None = None,
    secrets: Iterable[str] = (),
) -> ProviderError:
    text = f"{provider}: {what}"
    if hint:
        text += f" ({hint})"
    return ProviderError(
        redact_text(text, secrets),
        provider=provider,
        status=status,
        retryable=retryable,
        request_id=request_id,
    )


def map_exception(
    exc: BaseException,
    *,
    provider: str,
    spec: ApiTypeSpec | None = None,
    base_url: str = "",
    timeout: float | None = None,
    secrets: Iterable[str] = (),
    attempts: int = 1,
    elapsed: float | None = None,
) -> ProviderError:
    """A :class:`ProviderError` for any failure raised while talking to a provider.

    ``attempts`` and ``elapsed`` (requests sent, seconds since the first) let a timeout say where
    the time went when retries multiplied it."""
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    if status is None:
        code = getattr(exc, "code", None)  # google-genai APIError
        status = code if isinstance(code, int) and 100 <= code < 600 else None
    if isinstance(status, int):
        request_id = (
            getattr(exc, "request_id", None) or _header(exc, "x-request-id") or _header(exc, "request-id")
        )
        body = getattr(exc, "body", None) or getattr(exc, "details", None)
        message = provider_message(body, str(getattr(exc, "message", "") or exc))
        return make_error(
            provider,
            f"HTTP {status}: {message}",
            hint=status_hint(status, spec),
            status=status,
            retryable=_retryable(status, exc),
            request_id=request_id,
            secrets=secrets,
        )
    name = type(exc).__name__.lower()
    if name == "jsondecodeerror":
        return make_error(
            provider,
            f"malformed data in the stream: {exc}",
            hint=f"check that the base URL serves the {provider} API",
            secrets=secrets,
        )
    refused = _connection_failure(exc)
    if refused is not None:
        where = f" to {base_url}" if base_url else ""
        flag = spec.base_url_flag if spec is not None else "the base URL"
        return make_error(
            provider,
            f"could not connect{where}: {refused}",
            hint=f"check {flag} and that the server is running",
            retryable=True,
            secrets=secrets,
        )
    if "timeout" in name:
        limit = f" after {timeout:g}s" if timeout else ""
        if timeout and attempts > 1:
            limit += f" per attempt, {attempts} attempts"
            if elapsed is not None:
                limit += f", {elapsed:.1f}s in all"
        return make_error(
            provider,
            f"request timed out{limit}",
            hint="raise the client timeout (--timeout) or retry",
            retryable=True,
            secrets=secrets,
        )
    transient = any(word in name for word in _TRANSIENT_WORDS)
    return make_error(
        provider,
        f"stream failed: {type(exc).__name__}: {exc}",
        hint="retry later" if transient else "",
        retryable=transient,
        secrets=secrets,
    )


def stream_error(
    provider: str,
    body: Any,
    *,
    secrets: Iterable[str] = (),
    request_id: str | None = None,
) -> ProviderError:
    """An error object that arrived inside a 200 stream."""
    inner = body.get("error", body) if isinstance(body, dict) else body
    message = provider_message(body, "unknown error")
    kind = ""
    status: int | None = None
    if isinstance(inner, dict):
        kind = str(inner.get("type") or inner.get("status") or inner.get("code") or "")
        code = inner.get("code")
        if isinstance(code, int) and 100 <= code < 600:
            status = code
    retryable = kind.lower() in RETRYABLE_TYPES or (status is not None and status in RETRYABLE_STATUS)
    label = f" [{kind}]" if kind and kind != str(status) else ""
    if kind.lower() == "insufficient_quota":
        hint = "out of quota: check your plan and billing"
    elif "rate_limit" in kind.lower() or kind.lower() == "resource_exhausted":
        hint = "rate limited: retry later"
    elif retryable:
        hint = "the provider failed mid-stream: retry later"
    else:
        hint = status_hint(status, None)
    return make_error(
        provider,
        f"error in stream{label}: {message}",
        hint=hint,
        status=status,
        retryable=retryable,
        request_id=request_id,
        secrets=secrets,
    )
