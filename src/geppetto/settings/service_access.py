"""Per-service outbound rules for the embeddings and rerank endpoints (the reference's
``api.allow_http.<service>`` and ``api.allow_local_networks.<service>``).

Beside the engines' ``outbound_policy``, a registry profile may allow plain http or local
addresses for one service only::

    api:
      allow_http: {rerank: true}
      allow_local_networks: {rerank: true}

The base URL must be http(s) with a host, no userinfo, no query or fragment and no dot segments.
Plain http needs ``allow_http``; a host that is or resolves to a loopback, private, link-local or
otherwise non-public address needs ``allow_local_networks``. Messages name the key to set.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from geppetto.errors import ConfigError
from geppetto.settings.outbound import default_async_resolver

ACCESS_KEYS = ("allow_http", "allow_local_networks")


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    service: str
    allow_http: bool
    allow_local_networks: bool


def service_access(api: Mapping[str, Any] | None, service: str, *, default: bool) -> ServiceAccess:
    """The rules for ``service`` from the carried ``api`` access maps; unset means ``default``."""
    values: dict[str, bool] = {}
    for key in ACCESS_KEYS:
        table = (api or {}).get(key)
        if table is None:
            values[key] = default
            continue
        if not isinstance(table, Mapping):
            raise ConfigError(f"inference_settings.api.{key} must be a mapping of service name to true/false")
        value = table.get(service, default)
        if not isinstance(value, bool):
            raise ConfigError(f"inference_settings.api.{key}.{service} must be true or false")
        values[key] = value
    return ServiceAccess(service, values["allow_http"], values["allow_local_networks"])


def _address_problem(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return None if ip.is_global and not ip.is_multicast else f"non-public address {ip}"


def check_service_url(url: str, access: ServiceAccess, *, what: str = "base URL") -> str:
    """Check ``url``'s shape and the rules that need no DNS; returns the host name still to
    resolve (``""`` when none is needed)."""
    service = access.service
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{service} {what} is malformed") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{service} {what} must start with http:// or https://")
    host = (parts.hostname or "").strip()
    if not host:
        raise ConfigError(f"{service} {what} has no host")
    if parts.username or parts.password:
        raise ConfigError(f"{service} {what} must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigError(f"{service} {what} must not contain a query or fragment")
    if "//" in parts.path or any(seg in (".", "..") for seg in parts.path.split("/")):
        raise ConfigError(f"{service} {what} path must not contain empty or dot segments")
    if parts.scheme == "http" and not access.allow_http:
        raise ConfigError(
            f"{service} {what} uses plain http; use https or set "
            f"inference_settings.api.allow_http.{service}: true"
        )
    if access.allow_local_networks:
        return ""
    local_hint = f"set inference_settings.api.allow_local_networks.{service}: true to allow it"
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith((".localhost", ".local", ".internal")):
        raise ConfigError(f"{service} {what} host {host} is local; {local_hint}")
    try:
        problem = _address_problem(host.strip("[]"))
    except ValueError:
        return host
    if problem is not None:
        raise ConfigError(f"{service} {what} host is a {problem}; {local_hint}")
    return ""


async def acheck_service_host(
    host: str, access: ServiceAccess, resolver: Callable[[str], Awaitable[Iterable[str]]] | None = None
) -> None:
    """Resolve ``host`` and refuse it if any address is not public (unless local is allowed)."""
    if not host or access.allow_local_networks:
        return
    addresses = list(await (resolver or default_async_resolver)(host))
    if not addresses:
        raise ConfigError(f"{access.service} host {host} did not resolve to any address")
    for address in addresses:
        problem = _address_problem(address)
        if problem is not None:
            raise ConfigError(
                f"{access.service} host {host} resolves to a {problem}; "
                f"set inference_settings.api.allow_local_networks.{access.service}: true to allow it"
            )
