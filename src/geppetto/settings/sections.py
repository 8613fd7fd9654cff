"""Settings sections with the reference defaults.

The layout follows the reference ``StepSettings`` (``chat``, ``client``, ``api`` and one section
per provider). Deliberate differences, from DESIGN.md: ``chat.engine`` and ``chat.api_type`` start
empty (the reference used ``gpt-4``/``openai``; with nothing configured the runtime picks its
embedded model instead) and the OpenAI base URL defaults to ``https://api.openai.com/v1``.
Settings that only affect provider requests when set (``claude.top_k``,
``openai.parallel_tool_calls``) default to ``None``, meaning "leave the provider's default".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from geppetto.settings.apitypes import infer_api_type, normalize_api_type
from geppetto.settings.redact import REDACTED

REFERENCE_DEFAULT_ENGINE = "gpt-4"


@dataclass(slots=True)
class ChatSettings:
    """Section ``ai-chat``: model choice and sampling."""

    engine: str = ""
    api_type: str = ""
    max_response_tokens: int | None = 1000
    top_p: float | None = 1.0
    temperature: float | None = 0.7
    stop: list[str] = field(default_factory=list)
    stream: bool = True
    structured_output_mode: str = "off"  # off | json_schema
    structured_output_name: str = ""
    structured_output_description: str = ""
    structured_output_schema: str = ""  # a JSON document
    structured_output_strict: bool = True
    structured_output_require_valid: bool = False


@dataclass(slots=True)
class ClientSettings:
    """Section ``ai-client``: HTTP behaviour shared by every provider.

    ``timeout`` (seconds) is the read timeout between stream chunks and the overall limit for
    non-streaming calls; ``max_retries`` is handed to the SDKs' own retry policies.
    """

    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int = 2
    organization: str = ""
    user_agent: str = ""


@dataclass(slots=True)
class ApiSettings:
    """Section ``api``: keys and base URLs keyed ``<type>-api-key``/``<type>-base-url``."""

    api_keys: dict[str, str] = field(default_factory=dict)
    base_urls: dict[str, str] = field(default_factory=dict)
    outbound_policy: str = "permissive"  # permissive | strict

    def __repr__(self) -> str:
        keys = {name: REDACTED for name, value in self.api_keys.items() if value}
        return (
            f"ApiSettings(api_keys={keys!r}, base_urls={self.base_urls!r}, "
            f"outbound_policy={self.outbound_policy!r})"
        )


@dataclass(slots=True)
class OpenAISettings:
    """Section ``openai-chat`` (also read by the Responses engine)."""

    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None  # Chat Completions only
    logit_bias: dict[str, int] = field(default_factory=dict)
    reasoning_effort: str = "medium"
    parallel_tool_calls: bool | None = None
    reasoning_summary: str = "auto"
    include_reasoning_encrypted: bool = False
    stream_include_usage: bool = True


@dataclass(slots=True)
class ClaudeSettings:
    """Section ``claude-chat``."""

    top_k: int | None = None
    user_id: str = ""
    thinking_budget: int = 0  # > 0 enables extended thinking with this budget


@dataclass(slots=True)
class GeminiSettings:
    """Section ``gemini-chat``."""

    include_thoughts: bool = False
    thinking_budget: int | None = None


@dataclass(slots=True)
class OllamaSettings:
    """Section ``ollama-chat`` (native ``/api/chat``)."""

    think: bool | str | None = None
    keep_alive: str = ""
    num_ctx: int | None = None


SECTION_SLUGS = {
    "chat": "ai-chat",
    "client": "ai-client",
    "api": "api",
    "openai": "openai-chat",
    "claude": "claude-chat",
    "gemini": "gemini-chat",
    "ollama": "ollama-chat",
}


@dataclass(slots=True)
class Settings:
    """Everything needed to build and run a provider engine."""

    chat: ChatSettings = field(default_factory=ChatSettings)
    client: ClientSettings = field(default_factory=ClientSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)
    gemini: GeminiSettings = field(default_factory=GeminiSettings)
    ollama: OllamaSettings = field(default_factory=OllamaSettings)

    def copy(self) -> Settings:
        return copy.deepcopy(self)

    def resolved_api_type(self) -> str:
        """``chat.api_type`` if set (aliases resolved), else inferred from ``chat.engine``."""
        if self.chat.api_type.strip():
            return normalize_api_type(self.chat.api_type)
        return infer_api_type(self.chat.engine or REFERENCE_DEFAULT_ENGINE)

    def to_dict(self, *, redact: bool = True) -> dict[str, dict[str, Any]]:
        """Sections keyed by their slugs; API keys are redacted unless ``redact=False``."""
        out: dict[str, dict[str, Any]] = {}
        for name, slug in SECTION_SLUGS.items():
            section = getattr(self, name)
            out[slug] = {f.name: copy.deepcopy(getattr(section, f.name)) for f in fields(section)}
        if redact:
            keys = out["api"]["api_keys"]
            out["api"]["api_keys"] = {name: REDACTED for name, value in keys.items() if value}
        return out

    def __repr__(self) -> str:
        return f"Settings({self.to_dict(redact=True)!r})"
