"""The ``embeddings`` section of a profile, checked once, with the reference's fallbacks.

A registry profile carries it under ``inference_settings.embeddings`` (type, engine, dimensions,
api_keys, base_urls and the cache keys) plus ``batch_size`` and ``concurrency`` here. Keys and
base URLs set in the section win over ``inference_settings.api`` (the reference's order), which
wins over the provider's environment variables. Every problem is a
:class:`~geppetto.embeddings.types.EmbeddingConfigError` naming the key to fix, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from geppetto.embeddings.types import EmbeddingConfigError

if TYPE_CHECKING:
    from geppetto.profiles.inference_settings import InferenceSettings
    from geppetto.profiles.result import ResolvedSettings

PROVIDERS = ("openai", "ollama", "gemini", "local")
CACHE_TYPES = ("none", "memory", "file")
OPENAI_DEFAULT_DIMENSIONS = 1536  # the reference's default for an openai profile without dimensions
_WHERE = "inference_settings.embeddings"
_STRING_KEYS = ("type", "engine", "cache_type", "cache_directory")
_INT_KEYS = ("dimensions", "cache_max_size", "cache_max_entries", "batch_size", "concurrency")
_MAP_KEYS = ("api_keys", "base_urls")
KEYS = (*_STRING_KEYS, *_INT_KEYS, *_MAP_KEYS)


@dataclass(frozen=True, slots=True)
class EmbeddingsConfig:
    """A checked ``embeddings`` section (``dimensions`` 0: not configured)."""

    type: str
    engine: str
    dimensions: int = 0
    api_keys: dict[str, str] = field(default_factory=dict)
    base_urls: dict[str, str] = field(default_factory=dict)
    cache_type: str = "none"
    cache_max_size: int = 0
    cache_max_entries: int = 0
    cache_directory: str = ""
    batch_size: int = 0
    concurrency: int = 0


def parse_section(section: Any) -> EmbeddingsConfig:
    """Check a raw ``embeddings`` mapping: known keys, right types, a supported type."""
    from geppetto.profiles.schema import suggest

    if section is None:
        raise EmbeddingConfigError(f"selected profile is not embedding-capable: missing {_WHERE}")
    if not isinstance(section, Mapping):
        raise EmbeddingConfigError(f"{_WHERE} must be a mapping")
    values: dict[str, Any] = {}
    for raw_key, value in section.items():
        key = str(raw_key)
        if key not in KEYS:
            raise EmbeddingConfigError(f"unknown key {key!r} in {_WHERE}{suggest(key, KEYS)}")
        if value is None:
            continue
        if key in _STRING_KEYS:
            if not isinstance(value, str):
                raise EmbeddingConfigError(f"{_WHERE}.{key} must be a string")
            values[key] = value.strip()
        elif key in _INT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EmbeddingConfigError(f"{_WHERE}.{key} must be a whole number >= 0")
            values[key] = value
        else:
            if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
                raise EmbeddingConfigError(f"{_WHERE}.{key} must map names to strings")
            values[key] = {str(k).replace("_", "-"): v for k, v in value.items()}
    kind = values.get("type", "")
    if not kind:
        raise EmbeddingConfigError(f"selected profile is not embedding-capable: missing {_WHERE}.type")
    if kind not in PROVIDERS:
        raise EmbeddingConfigError(
            f"unsupported embeddings provider type {kind!r} in {_WHERE}.type; "
            f"supported: {', '.join(PROVIDERS)}"
        )
    if not values.get("engine"):
        raise EmbeddingConfigError(f"selected profile is not embedding-capable: missing {_WHERE}.engine")
    cache = values.get("cache_type") or "none"
    if cache not in CACHE_TYPES:
        raise EmbeddingConfigError(f"{_WHERE}.cache_type must be one of {', '.join(CACHE_TYPES)}")
    values["cache_type"] = cache
    if kind == "ollama" and not values.get("dimensions"):
        raise EmbeddingConfigError(f"selected Ollama embedding profile must set {_WHERE}.dimensions")
    return EmbeddingsConfig(**values)


def resolved_of(settings: InferenceSettings | ResolvedSettings) -> ResolvedSettings:
    from geppetto.profiles.inference_settings import InferenceSettings

    return settings.resolved if isinstance(settings, InferenceSettings) else settings


def embeddings_config(settings: InferenceSettings | ResolvedSettings) -> EmbeddingsConfig:
    """The profile's checked ``embeddings`` section (the one validation path: factory, CLI, JS)."""
    return parse_section(resolved_of(settings).extra_sections.get("embeddings"))
