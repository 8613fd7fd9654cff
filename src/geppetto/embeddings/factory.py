"""Building an embedder from resolved settings: provider, credentials, outbound rules, caches."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from geppetto.embeddings.batching import BatchingEmbedder
from geppetto.embeddings.config import (
    OPENAI_DEFAULT_DIMENSIONS,
    EmbeddingsConfig,
    embeddings_config,
    resolved_of,
)
from geppetto.embeddings.transport import JsonClient
from geppetto.embeddings.types import Embedder, EmbeddingConfigError
from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.profiles.inference_settings import InferenceSettings
    from geppetto.profiles.result import ResolvedSettings
    from geppetto.settings.sections import Settings


def embedder_from_settings(settings: InferenceSettings | ResolvedSettings, *, cache: bool = True) -> Embedder:
    """The profile's embedder, behind its configured cache (``cache=False``: none, for ``--no-cache``)."""
    resolved = resolved_of(settings)
    config = embeddings_config(resolved)
    provider = build_provider(
        config, resolved.settings, dict(resolved.environ or os.environ), resolved.extra_sections.get("api")
    )
    if not cache or config.cache_type == "none":
        return provider
    from geppetto.embeddings.cache import CachedEmbedder, MemoryCache

    memory = MemoryCache(config.cache_max_entries)
    if config.cache_type == "memory":
        return CachedEmbedder(provider, memory)
    from geppetto.embeddings.disk_cache import DiskCache

    disk = DiskCache(
        config.cache_directory or None,
        max_entries=config.cache_max_entries,
        max_size=config.cache_max_size,
    )
    return CachedEmbedder(provider, memory, disk)


def build_provider(
    config: EmbeddingsConfig,
    settings: Settings,
    environ: dict[str, str],
    api_access: object = None,
) -> BatchingEmbedder:
    """The uncached provider for a checked section."""
    explicit = config.dimensions > 0
    provider: BatchingEmbedder
    if config.type == "local":
        from geppetto.embeddings.local import LocalEmbedder

        provider = LocalEmbedder(config.engine, dimensions=config.dimensions)
    else:
        merged = settings.copy()
        merged.api.api_keys = {**merged.api.api_keys, **config.api_keys}
        merged.api.base_urls = {**merged.api.base_urls, **config.base_urls}
        base_url, key = _endpoint(config.type, merged, environ)
        client = _client(config.type, base_url, key, merged, api_access)
        if config.type == "openai":
            from geppetto.embeddings.openai import OpenAIEmbedder

            dimensions = config.dimensions or OPENAI_DEFAULT_DIMENSIONS
            provider = OpenAIEmbedder(
                config.engine,
                client=client,
                base_url=base_url,
                dimensions=dimensions,
                explicit_dimensions=explicit,
            )
        elif config.type == "ollama":
            from geppetto.embeddings.ollama import OllamaEmbedder

            provider = OllamaEmbedder(
                config.engine, client=client, base_url=base_url, dimensions=config.dimensions
            )
        else:
            from geppetto.embeddings.gemini import GeminiEmbedder

            provider = GeminiEmbedder(
                config.engine,
                client=client,
                base_url=base_url,
                dimensions=config.dimensions,
                explicit_dimensions=explicit,
            )
    if config.batch_size:
        provider.batch_size = config.batch_size
    if config.concurrency:
        provider.concurrency = config.concurrency
    return provider


def _endpoint(kind: str, settings: Settings, environ: dict[str, str]) -> tuple[str, str]:
    from geppetto.settings.credentials import key_is_required, require_spec, resolve_api_key, resolve_base_url

    spec = require_spec(kind)
    base_url = resolve_base_url(settings, kind)
    key = resolve_api_key(settings, kind, environ).api_key
    if not key and key_is_required(spec, base_url):
        name = spec.key_fields[0] if spec.key_fields else f"{kind}-api-key"
        variables = " or ".join(spec.key_env)
        raise EmbeddingConfigError(
            f"selected {kind} embedding profile has no {name}; "
            f"set inference_settings.embeddings.api_keys.{name} "
            f"or inference_settings.api.api_keys.{name}" + (f", or {variables}" if variables else "")
        )
    return base_url, key


def _client(kind: str, base_url: str, key: str, settings: Settings, api_access: object) -> JsonClient:
    from geppetto.settings.service_access import acheck_service_host, check_service_url, service_access

    strict = settings.api.outbound_policy == "strict"
    access = service_access(
        api_access if isinstance(api_access, dict) else None, "embeddings", default=not strict
    )
    try:
        host = check_service_url(base_url, access)
    except ConfigError as exc:
        raise EmbeddingConfigError(str(exc)) from None
    headers: dict[str, str] = {}
    if key:
        if kind == "gemini":
            headers["x-goog-api-key"] = key
        else:
            headers["Authorization"] = f"Bearer {key}"
    if settings.client.user_agent:
        headers["User-Agent"] = settings.client.user_agent

    async def preflight() -> None:
        await acheck_service_host(host, access)

    async def redirect_check(url: str) -> None:
        """The same rules for every hop: scheme, local names and where the host resolves."""
        parts = urlsplit(url)
        hop = check_service_url(f"{parts.scheme}://{parts.netloc}", access, what="redirect target")
        await acheck_service_host(hop, access)

    return JsonClient(
        headers=headers,
        timeout=settings.client.timeout,
        connect_timeout=settings.client.connect_timeout,
        max_retries=settings.client.max_retries,
        follow_redirects=not strict,
        preflight=preflight if host else None,
        redirect_check=redirect_check,
    )


__all__ = ["build_provider", "embedder_from_settings"]
