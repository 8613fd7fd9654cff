"""API types: which engine family speaks to a provider, where it lives and which key it takes.

The reference names (`openai`, `openai-responses`, `claude`, `gemini`, ...) are kept; a few
OpenAI-compatible hosts get presets so ``--ai-api-type openrouter`` works without a base URL.
Each preset only ever reads its own key variables: an OpenRouter call never borrows
``OPENAI_API_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    """The engine implementation an API type runs on."""

    OPENAI_CHAT = "openai-chat"
    OPENAI_RESPONSES = "openai-responses"
    CLAUDE = "claude"
    GEMINI = "gemini"
    OLLAMA = "ollama"


@dataclass(frozen=True, slots=True)
class ApiTypeSpec:
    """Facts about one API type.

    ``key_fields``/``base_url_fields`` are the ``api.api_keys``/``api.base_urls`` entries read in
    order (the reference's fallbacks); ``key_env`` the environment variables tried after them.
    """

    name: str
    family: Family
    key_env: tuple[str, ...] = ()
    default_base_url: str = ""
    key_required: bool = True
    key_fields: tuple[str, ...] = ()
    base_url_fields: tuple[str, ...] = ()

    @property
    def key_flag(self) -> str:
        return f"--{self.key_fields[0]}" if self.key_fields else f"--{self.name}-api-key"

    @property
    def base_url_flag(self) -> str:
        return f"--{self.base_url_fields[0]}" if self.base_url_fields else f"--{self.name}-base-url"


OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/"
OLLAMA_BASE_URL = "http://localhost:11434"


def _spec(
    name: str,
    family: Family,
    env: tuple[str, ...],
    base_url: str = "",
    *,
    key_required: bool = True,
    key_fallbacks: tuple[str, ...] = (),
    base_fallbacks: tuple[str, ...] = (),
) -> ApiTypeSpec:
    return ApiTypeSpec(
        name=name,
        family=family,
        key_env=env,
        default_base_url=base_url,
        key_required=key_required,
        key_fields=(f"{name}-api-key", *key_fallbacks),
        base_url_fields=(f"{name}-base-url", *base_fallbacks),
    )


_CHAT = Family.OPENAI_CHAT
SPECS: dict[str, ApiTypeSpec] = {
    spec.name: spec
    for spec in (
        _spec("openai", _CHAT, ("OPENAI_API_KEY",), OPENAI_BASE_URL),
        _spec(
            "openai-responses",
            Family.OPENAI_RESPONSES,
            ("OPENAI_API_KEY",),
            OPENAI_BASE_URL,
            key_fallbacks=("openai-api-key",),
            base_fallbacks=("openai-base-url",),
        ),
        _spec(
            "open-responses",
            Family.OPENAI_RESPONSES,
            ("OPENAI_API_KEY",),
            OPENAI_BASE_URL,
            key_fallbacks=("openai-responses-api-key", "openai-api-key"),
            base_fallbacks=("openai-responses-base-url", "openai-base-url"),
        ),
        # The reference requires an explicit base URL for these two and reads OPENAI_API_KEY.
        _spec("anyscale", _CHAT, ("OPENAI_API_KEY",), key_fallbacks=("openai-api-key",)),
        _spec("fireworks", _CHAT, ("OPENAI_API_KEY",), key_fallbacks=("openai-api-key",)),
        _spec("claude", Family.CLAUDE, ("ANTHROPIC_API_KEY",), ANTHROPIC_BASE_URL),
        _spec("gemini", Family.GEMINI, ("GEMINI_API_KEY", "GOOGLE_API_KEY"), GEMINI_BASE_URL),
        _spec("ollama", Family.OLLAMA, ("OLLAMA_API_KEY",), OLLAMA_BASE_URL, key_required=False),
        _spec("mistral", _CHAT, ("MISTRAL_API_KEY",), "https://api.mistral.ai/v1"),
        _spec("perplexity", _CHAT, ("PERPLEXITY_API_KEY",), "https://api.perplexity.ai"),
        _spec("cohere", _CHAT, ("COHERE_API_KEY",), "https://api.cohere.ai/compatibility/v1"),
        _spec("openrouter", _CHAT, ("OPENROUTER_API_KEY",), "https://openrouter.ai/api/v1"),
        _spec("deepseek", _CHAT, ("DEEPSEEK_API_KEY",), "https://api.deepseek.com"),
        _spec("together", _CHAT, ("TOGETHER_API_KEY",), "https://api.together.xyz/v1"),
        _spec("groq", _CHAT, ("GROQ_API_KEY",), "https://api.groq.com/openai/v1"),
        _spec("vllm", _CHAT, ("VLLM_API_KEY",), "http://localhost:8000/v1", key_required=False),
        _spec("llamacpp", _CHAT, ("LLAMACPP_API_KEY",), "http://localhost:8080/v1", key_required=False),
    )
}

ALIASES = {
    "anthropic": "claude",
    "google": "gemini",
    "llama.cpp": "llamacpp",
    "llama-cpp": "llamacpp",
    "responses": "openai-responses",
}

_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def normalize_api_type(value: str) -> str:
    """Lower-case, trim and resolve aliases (``anthropic`` -> ``claude``); unknown names pass through."""
    key = value.strip().lower()
    return ALIASES.get(key, key)


def spec_for(api_type: str) -> ApiTypeSpec | None:
    return SPECS.get(normalize_api_type(api_type))


def infer_api_type(model: str) -> str:
    """The reference inference from a model name.

    Contains ``gemini`` -> gemini, ``claude`` -> claude, reasoning models -> Responses, else openai.
    """
    name = model.strip().lower()
    if "gemini" in name:
        return "gemini"
    if "claude" in name:
        return "claude"
    if is_reasoning_model(name):
        return "openai-responses"
    return "openai"


_MODEL_PREFIXES = ("gpt-", "gpt4", "chatgpt", "claude", "gemini", "text-", "davinci", "ft:")


def looks_like_model_name(name: str) -> bool:
    """Whether ``name`` reads as a model of a known family (``gpt-4o-mini``, ``claude-...``,
    ``gemini-...``, ``o3-mini``) or a local ``.gguf`` file, rather than a mistyped profile name."""
    lowered = name.strip().lower()
    return (
        lowered.startswith(_MODEL_PREFIXES)
        or "claude" in lowered
        or "gemini" in lowered
        or is_reasoning_model(lowered)
        or lowered.endswith(".gguf")
    )


def is_reasoning_model(model: str) -> bool:
    """OpenAI reasoning models take ``max_completion_tokens`` and no sampling parameters."""
    return model.strip().lower().startswith(_REASONING_PREFIXES)


def known_api_types() -> list[str]:
    return sorted(SPECS)
