"""Where an engine's API key and base URL come from.

Configured values (profile, config, ``PINOCCHIO_*`` env, flags: already merged into
``api.api_keys``) win; the provider's own variables (``OPENAI_API_KEY``, ``GEMINI_API_KEY`` then
``GOOGLE_API_KEY``, ...) are the fallback, so a profile that names a proxy key is not silently
overridden by a key exported in the shell. Error messages name what to set, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from geppetto.errors import ConfigError
from geppetto.settings.apitypes import OPENAI_BASE_URL, ApiTypeSpec, spec_for
from geppetto.settings.sections import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    """The resolved key (``""`` when none) and where it came from (a field or variable name)."""

    api_key: str
    source: str

    def __repr__(self) -> str:
        return f"Credentials(api_key={'***' if self.api_key else ''!r}, source={self.source!r})"


def require_spec(api_type: str) -> ApiTypeSpec:
    spec = spec_for(api_type)
    if spec is None:
        raise ConfigError(f"unknown provider {api_type.strip().lower() or '<empty>'}")
    return spec


def resolve_api_key(
    settings: Settings, api_type: str, environ: Mapping[str, str] | None = None
) -> Credentials:
    """The key for ``api_type``: configured fields in fallback order, then environment variables."""
    spec = require_spec(api_type)
    for name in spec.key_fields:
        value = settings.api.api_keys.get(name, "").strip()
        if value:
            return Credentials(value, name)
    env = os.environ if environ is None else environ
    for var in spec.key_env:
        value = env.get(var, "").strip()
        if value:
            return Credentials(value, var)
    return Credentials("", "")


def missing_key_message(spec: ApiTypeSpec) -> str:
    """``missing API key gemini-api-key: set GEMINI_API_KEY or GOOGLE_API_KEY, or --gemini-api-key``
    (the reference names the settings key, ``(or fallback openai-api-key)`` where one exists)."""
    variables = " or ".join(spec.key_env)
    where = f"set {variables}, or {spec.key_flag}" if variables else f"pass {spec.key_flag}"
    name = spec.key_fields[0] if spec.key_fields else f"{spec.name}-api-key"
    fallbacks = "".join(f" (or fallback {field})" for field in spec.key_fields[1:])
    return f"missing API key {name}{fallbacks}: {where}"


def resolve_base_url(settings: Settings, api_type: str) -> str:
    """Configured base URL in fallback order, else the type's default; ``ConfigError`` if none."""
    spec = require_spec(api_type)
    for name in spec.base_url_fields:
        value = settings.api.base_urls.get(name, "").strip()
        if value:
            return value
    if spec.default_base_url:
        return spec.default_base_url
    raise ConfigError(f"missing base URL for {spec.name}: pass {spec.base_url_flag} (e.g. https://host/v1)")


def key_is_required(spec: ApiTypeSpec, base_url: str) -> bool:
    """Keys are optional for local servers; an ``openai`` type pointed elsewhere than OpenAI needs none."""
    if not spec.key_required:
        return False
    if spec.name == "openai":
        return base_url.rstrip("/") == OPENAI_BASE_URL
    return True
