"""Settings -> provider engine, validating first so errors say what to set.

``create_provider_engine(settings)`` resolves the API type (explicit, or inferred from the
model), the model, the base URL (shape and outbound policy checked) and the key (configured,
then the provider's environment variables), then builds the engine of the type's family. SDKs
are imported only when an engine first sends a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geppetto.engines.providers.base import ProviderEngine
from geppetto.engines.providers.common import ProviderConfig
from geppetto.errors import ConfigError
from geppetto.settings.apitypes import ALIASES, Family, known_api_types, spec_for
from geppetto.settings.credentials import (
    key_is_required,
    missing_key_message,
    resolve_api_key,
    resolve_base_url,
)
from geppetto.settings.fields import apply_fields
from geppetto.settings.outbound import check_outbound_url
from geppetto.settings.sections import REFERENCE_DEFAULT_ENGINE, Settings


def provider_config(settings: Settings, *, environ: Mapping[str, str] | None = None) -> ProviderConfig:
    """Validate ``settings`` and resolve what an engine needs; :class:`ConfigError` says what to set."""
    api_type = settings.resolved_api_type()
    spec = spec_for(api_type)
    if spec is None:
        raise ConfigError(f"unknown provider {api_type}; known: {', '.join(known_api_types())}")
    model = settings.chat.engine.strip()
    if not model and spec.name == "openai":
        model = REFERENCE_DEFAULT_ENGINE
    if not model:
        raise ConfigError(f"missing model for {spec.name}: set --ai-engine (PINOCCHIO_AI_ENGINE)")
    base_url = resolve_base_url(settings, spec.name)
    check_outbound_url(base_url, settings.api.outbound_policy, resolve=False)
    credentials = resolve_api_key(settings, spec.name, environ)
    if not credentials.api_key and key_is_required(spec, base_url):
        raise ConfigError(missing_key_message(spec))
    if (
        spec.family is Family.CLAUDE
        and settings.chat.temperature not in (None, 1.0)
        and (settings.chat.top_p not in (None, 1.0))
    ):
        raise ConfigError(
            "both temperature and top_p are set to non-default values; "
            "Claude models require only one to be specified"
        )
    return ProviderConfig(
        spec=spec, model=model, base_url=base_url, api_key=credentials.api_key, settings=settings.copy()
    )


def create_provider_engine(settings: Settings, *, environ: Mapping[str, str] | None = None) -> ProviderEngine:
    """The engine for ``settings`` (see the module docstring)."""
    config = provider_config(settings, environ=environ)
    family = config.spec.family
    if family is Family.OPENAI_CHAT:
        from geppetto.engines.providers.openai_chat import OpenAIChatEngine

        return OpenAIChatEngine(config)
    if family is Family.OPENAI_RESPONSES:
        from geppetto.engines.providers.openai_responses import OpenAIResponsesEngine

        return OpenAIResponsesEngine(config)
    if family is Family.CLAUDE:
        from geppetto.engines.providers.anthropic import AnthropicEngine

        return AnthropicEngine(config)
    if family is Family.GEMINI:
        from geppetto.engines.providers.gemini import GeminiEngine

        return GeminiEngine(config)
    from geppetto.engines.providers.ollama import OllamaEngine

    return OllamaEngine(config)


def provider_api_types() -> list[str]:
    """Every API type (and alias) :func:`engine_from_options` accepts."""
    return sorted({*known_api_types(), *ALIASES})


def engine_from_options(
    api_type: str | None = None,
    model: str = "",
    *,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
    **fields: Any,
) -> ProviderEngine:
    """Build an engine from keyword options named like the reference fields.

    ``fields`` use flag names with underscores (``openai_base_url="http://..."``,
    ``gemini_api_key=...``, ``ai_temperature=0.2``, ``timeout=30``, ``outbound_policy="strict"``);
    ``None`` values are ignored, so an argparse namespace can be passed through ``vars()``.
    ``settings`` (already merged from profiles/config/env) is the base they override.
    """
    base = settings.copy() if settings is not None else Settings()
    values: dict[str, Any] = {
        name.replace("_", "-"): value for name, value in fields.items() if value is not None
    }
    if api_type:
        values["ai-api-type"] = api_type
    if model:
        values["ai-engine"] = model
    apply_fields(base, values)
    return create_provider_engine(base, environ=environ)
