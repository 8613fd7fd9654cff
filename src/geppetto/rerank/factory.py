"""The ``rerank`` section of a profile -> a reranker (the reference's settings factory and checks).

``inference_settings.rerank`` holds ``type`` (``llamacpp``, ``cohere``, ``jina``), ``engine``
(the model) and optionally ``max_request_bytes`` / ``max_response_bytes``. The endpoint is
``inference_settings.api.base_urls.rerank-base-url`` (required for llama.cpp; Cohere and Jina
default to their public APIs) and must pass the rerank access rules: https and a public host
unless ``api.allow_http.rerank`` / ``api.allow_local_networks.rerank`` say otherwise (the
reference's defaults). Cohere and Jina keys come from ``api.api_keys.rerank-api-key``, then
``cohere-api-key`` / ``jina-api-key``, then ``COHERE_API_KEY`` / ``JINA_API_KEY``. The input
cost of ``model_info.cost`` prices the usage.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geppetto.embeddings.transport import JsonClient
from geppetto.errors import ConfigError
from geppetto.rerank.provider import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESPONSE_BYTES, HTTPReranker
from geppetto.rerank.types import RerankConfigError

if TYPE_CHECKING:
    from geppetto.profiles.inference_settings import InferenceSettings
    from geppetto.profiles.result import ResolvedSettings

SUPPORTED = ("llamacpp", "cohere", "jina")
KEYS = ("type", "engine", "max_request_bytes", "max_response_bytes")
_DEFAULT_BASE = {"cohere": "https://api.cohere.com", "jina": "https://api.jina.ai"}
_KEY_ENV = {"cohere": "COHERE_API_KEY", "jina": "JINA_API_KEY"}
_WHERE = "inference_settings.rerank"


def rerank_section(settings: InferenceSettings | ResolvedSettings) -> dict[str, Any]:
    """The checked ``rerank`` section (the one validation path for the factory, CLI and JS)."""
    from geppetto.embeddings.config import resolved_of
    from geppetto.profiles.schema import suggest

    resolved = resolved_of(settings)
    section = resolved.extra_sections.get("rerank")
    if section is None:
        raise RerankConfigError(f"selected profile is not rerank-capable: missing {_WHERE}")
    if not isinstance(section, Mapping):
        raise RerankConfigError(f"{_WHERE} must be a mapping")
    out: dict[str, Any] = {}
    for raw_key, value in section.items():
        key = str(raw_key)
        if key not in KEYS:
            raise RerankConfigError(f"unknown key {key!r} in {_WHERE}{suggest(key, KEYS)}")
        if key in ("type", "engine"):
            if not isinstance(value, str):
                raise RerankConfigError(f"{_WHERE}.{key} must be a string")
            out[key] = value.strip()
        elif value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RerankConfigError(f"{_WHERE}.{key} must be a whole number >= 1")
            out[key] = value
    if not out.get("type"):
        raise RerankConfigError(f"selected profile is not rerank-capable: missing {_WHERE}.type")
    if not out.get("engine"):
        raise RerankConfigError(f"selected profile is not rerank-capable: missing {_WHERE}.engine")
    if out["type"] not in SUPPORTED:
        raise RerankConfigError(
            f"unsupported rerank provider type {out['type']!r}; supported values are {', '.join(SUPPORTED)}"
        )
    base = resolved.settings.api.base_urls.get("rerank-base-url", "").strip()
    if not base and out["type"] == "llamacpp":
        raise RerankConfigError(
            "selected rerank profile has no rerank-base-url; "
            "set inference_settings.api.base_urls.rerank-base-url"
        )
    out["base_url"] = base or _DEFAULT_BASE[out["type"]]
    return out


def reranker_from_settings(settings: InferenceSettings | ResolvedSettings) -> HTTPReranker:
    from geppetto.embeddings.config import resolved_of
    from geppetto.settings.service_access import acheck_service_host, check_service_url, service_access

    resolved = resolved_of(settings)
    section = rerank_section(resolved)
    kind = section["type"]
    access_maps = resolved.extra_sections.get("api")
    access = service_access(
        access_maps if isinstance(access_maps, Mapping) else None, "rerank", default=False
    )
    base = section["base_url"].rstrip("/")
    try:
        host = check_service_url(base, access)
    except ConfigError as exc:
        raise RerankConfigError(str(exc)) from None
    headers: dict[str, str] = {}
    key = _api_key(kind, resolved)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    elif kind != "llamacpp":
        raise RerankConfigError(
            f"selected {kind} rerank profile has no API key; "
            f"set inference_settings.api.api_keys.rerank-api-key or {kind}-api-key, or {_KEY_ENV[kind]}"
        )
    client_settings = resolved.settings.client

    async def preflight() -> None:
        await acheck_service_host(host, access)

    client = JsonClient(
        headers=headers,
        timeout=client_settings.timeout,
        connect_timeout=client_settings.connect_timeout,
        max_retries=client_settings.max_retries,
        max_response_bytes=section.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
        follow_redirects=False,
        preflight=preflight if host else None,
    )
    info = resolved.model_info or {}
    cost = info.get("cost") if isinstance(info, Mapping) else None
    rate = cost.get("input") if isinstance(cost, Mapping) else None
    return HTTPReranker(
        kind,
        endpoint=f"{base}/v1/rerank",
        model=section["engine"],
        client=client,
        max_request_bytes=section.get("max_request_bytes", DEFAULT_MAX_REQUEST_BYTES),
        cost_per_million_tokens=float(rate) if isinstance(rate, int | float) else None,
    )


def _api_key(kind: str, resolved: ResolvedSettings) -> str:
    keys = resolved.settings.api.api_keys
    for name in ("rerank-api-key", f"{kind}-api-key"):
        if keys.get(name, "").strip():
            return keys[name].strip()
    variable = _KEY_ENV.get(kind)
    environ = resolved.environ or os.environ
    return environ.get(variable, "").strip() if variable else ""
