"""Who may call the server: Bearer API key (constant-time compare) and CORS (off unless asked)."""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from geppetto.serve.errors import APIError
from geppetto.serve.runs import SESSION_HEADER

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# No data behind these: the health check, and the web chat's page and assets (its /api/ needs the key).
PUBLIC_PATHS = frozenset({"/healthz", "/"})
PUBLIC_PREFIXES = ("/static/",)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    return host in ("localhost", "ip6-localhost") or _loopback_address(host)


@functools.lru_cache(maxsize=256)  # asked twice per request; ipaddress parsing is slow
def _loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def foreign_host(request: web.Request) -> str | None:
    """The ``Host`` name of a request that reached a loopback socket under a non-loopback name
    (another site whose DNS name rebinds to 127.0.0.1), else ``None``."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(sockname, tuple) or not _loopback_address(str(sockname[0])):
        return None
    return _foreign_name(request.host)


@functools.lru_cache(maxsize=256)  # one Host value per client: building request.url cost ~5 us
def _foreign_name(host: str) -> str | None:
    """The name in a ``Host`` value when it is not a loopback name, else ``None``."""
    name = host.strip().lower()
    if name.startswith("["):  # [v6]:port
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:  # name:port (a bare v6 address has more colons)
        name = name.split(":", 1)[0]
    if _loopback_address(name) or name == "localhost" or name.endswith(".localhost"):
        return None
    return name


def local_guard(
    origins: Sequence[str],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """For a server without an API key: a web page must not drive ``/v1/`` from the browser.
    Refuses a loopback socket reached under another name (DNS rebinding) and a POST from a
    foreign ``Origin`` (a cross-site form or ``text/plain`` fetch needs no CORS preflight, so
    without this any site the user visits could spend the profiles' provider keys)."""
    allowed = frozenset(origins)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and request.method != "OPTIONS":
            name = foreign_host(request)
            if name is not None:
                raise APIError(
                    403,
                    f"this server only answers to localhost and loopback addresses, not {name!r}",
                    code="forbidden_host",
                )
            origin = request.headers.get("Origin")
            if (
                origin is not None
                and request.method not in ("GET", "HEAD")
                and origin != f"{request.scheme}://{request.host}"
                and origin not in allowed
                and "*" not in allowed
            ):
                raise APIError(
                    403,
                    f"requests from the web page at {origin} are refused (allow it with --cors)",
                    code="forbidden_origin",
                )
        return await handler(request)

    return guard


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse a non-loopback bind without an API key (anyone on the network could spend the
    profiles' provider keys)."""
    if not is_loopback(host) and not api_key:
        from geppetto.errors import ConfigError

        raise ConfigError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could use your "
            "profiles; set one with --api-key-env VAR (the variable holding the key), or bind 127.0.0.1"
        )


def auth_middleware(api_key: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    expected = api_key.encode()

    @web.middleware
    async def check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or request.method == "OPTIONS":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise APIError(
                401,
                "You didn't provide an API key. "
                "Provide it in an Authorization header: 'Authorization: Bearer KEY'.",
                code="invalid_api_key",
            )
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")
        return await handler(request)

    return check_key


def cors_middleware(
    origins: Sequence[str],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Answers preflights and marks responses for the allowed origins (``*`` allows any)."""
    allowed = frozenset(origins)
    any_origin = "*" in allowed

    def allow(origin: str) -> str | None:
        if any_origin:
            return "*"
        return origin if origin in allowed else None

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        granted = allow(origin) if origin else None
        if request.method == "OPTIONS" and origin and "Access-Control-Request-Method" in request.headers:
            if granted is None:
                raise APIError(
                    403, f"origin {origin} is not allowed (see --cors)", type="invalid_request_error"
                )
            asked = request.headers.get("Access-Control-Request-Headers", "")
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": granted,
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": asked or f"Authorization, Content-Type, {SESSION_HEADER}",
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
        if granted is not None:
            request[CORS_KEY] = granted  # on_response_prepare adds the headers, streams included
        return await handler(request)

    return cors


CORS_KEY = web.RequestKey("geppetto.serve.cors", str)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: every response to an allowed origin carries its CORS headers."""
    granted = request.get(CORS_KEY)
    if granted:
        response.headers["Access-Control-Allow-Origin"] = granted
        response.headers["Access-Control-Expose-Headers"] = SESSION_HEADER
        response.headers["Vary"] = "Origin"
