"""Provider engines: OpenAI Chat (and compatible servers), OpenAI Responses, Anthropic, Gemini, Ollama.

Importing this package is cheap: the provider SDKs are imported when an engine sends its first
request. Build engines with :func:`create_provider_engine`.
"""

from geppetto.engines.providers.base import ProviderEngine
from geppetto.engines.providers.common import ProviderConfig
from geppetto.engines.providers.factory import (
    create_provider_engine,
    engine_from_options,
    provider_api_types,
    provider_config,
)

__all__ = [
    "ProviderConfig",
    "ProviderEngine",
    "create_provider_engine",
    "engine_from_options",
    "provider_api_types",
    "provider_config",
]
