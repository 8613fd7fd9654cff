"""Outbound URL policy for provider base URLs.

``permissive`` (the default) accepts any well-formed http(s) URL, because local servers
(Ollama, vLLM, llama.cpp on localhost) are a main use. ``strict`` is for URLs that come from
less trusted input (model-written JS, shared profiles): https only, no credentials in the URL,
and no host that is or resolves to a non-public address (loopback, private, link-local incl.
the cloud metadata endpoint, CGNAT, multicast, unspecified, reserved). Host names are resolved
before deciding; every resolved address must be public. This is a pre-flight check: engines
also disable redirects in strict mode, but a DNS answer that changes between the check and the
connection is not caught here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from urllib.parse import urlsplit

from geppetto.errors import ConfigError

Resolver = Callable[[str], Iterable[str]]
AsyncResolver = Callable[[str], Awaitable[Iterable[str]]]


class OutboundPolicy(StrEnum):
    PERMISSIVE = "permissive"
    STRICT = "strict"

    @classmethod
    def parse(cls, value: str | OutboundPolicy) -> OutboundPolicy:
        try:
            return cls(str(value).strip().lower() or "permissive")
        except ValueError:
            raise ConfigError(f"invalid outbound policy {value!r}: use permissive or strict") from None


def _refuse(url: str, why: str) -> ConfigError:
    return ConfigError(f"refused base URL {url}: {why}")


def _split(url: str, policy: OutboundPolicy) -> tuple[str, str]:
    """Validate the URL's shape; return ``(scheme, host)``."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"invalid base URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"invalid base URL {url!r}: it must start with http:// or https://")
    host = (parts.hostname or "").strip()
    if not host:
        raise ConfigError(f"invalid base URL {url!r}: it has no host")
    if policy is OutboundPolicy.STRICT:
        if scheme != "https":
            raise _refuse(url, "plain http is not allowed by the strict outbound policy (use https)")
        if parts.username or parts.password:
            raise _refuse(url, "credentials in the URL are not allowed by the strict outbound policy")
    return scheme, host


def _address_problem(address: str) -> str | None:
    """Why ``address`` is not a public destination, or ``None`` when it is."""
    if "%" in address:
        return "zoned IPv6 addresses are link-local"
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{label} address {ip}"
    if not ip.is_global:
        return f"non-public address {ip}"
    return None


def _literal(host: str) -> str | None:
    candidate = host.strip("[]")
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return None
    return candidate


def _check_host_name(url: str, host: str) -> None:
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith((".localhost", ".local", ".internal")):
        raise _refuse(url, f"host {host} is local (strict outbound policy)")


def _check_addresses(url: str, host: str, addresses: Iterable[str], *, literal: bool = False) -> None:
    found = list(addresses)
    if not found:
        raise _refuse(url, f"host {host} did not resolve to any address")
    verb = "is" if literal else "resolves to"
    for address in found:
        problem = _address_problem(address)
        if problem is not None:
            raise _refuse(url, f"host {host} {verb} a {problem} (strict outbound policy)")


def default_resolver(host: str) -> list[str]:
    """All addresses ``host`` resolves to (blocking)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot resolve host {host}: {exc}") from None
    return sorted({str(info[4][0]) for info in infos})


async def default_async_resolver(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot resolve host {host}: {exc}") from None
    return sorted({str(info[4][0]) for info in infos})


def check_outbound_url(
    url: str,
    policy: OutboundPolicy | str = OutboundPolicy.PERMISSIVE,
    *,
    resolver: Resolver | None = None,
    resolve: bool = True,
) -> None:
    """Raise :class:`ConfigError` if ``url`` is malformed or refused by ``policy`` (blocking).

    ``resolve=False`` checks everything except what host names resolve to (for validation at
    construction time; engines resolve again before each request).
    """
    host = _host_to_resolve(url, policy)
    if host is not None and resolve:
        _check_addresses(url, host, (resolver or default_resolver)(host))


async def acheck_outbound_url(
    url: str,
    policy: OutboundPolicy | str = OutboundPolicy.PERMISSIVE,
    *,
    resolver: AsyncResolver | None = None,
) -> None:
    """:func:`check_outbound_url` resolving host names on the event loop."""
    host = _host_to_resolve(url, policy)
    if host is not None:
        _check_addresses(url, host, await (resolver or default_async_resolver)(host))


def _host_to_resolve(url: str, policy: OutboundPolicy | str) -> str | None:
    """Every check short of DNS; the host name still to resolve, or ``None`` when nothing is left
    (permissive policy, or an address literal already checked)."""
    mode = OutboundPolicy.parse(policy)
    _, host = _split(url, mode)
    if mode is OutboundPolicy.PERMISSIVE:
        return None
    literal = _literal(host)
    if literal is not None:
        _check_addresses(url, host, [literal], literal=True)
        return None
    _check_host_name(url, host)
    return host
