"""Per-turn inference overrides: ``Turn.data`` ``inference_config`` (and its Claude and OpenAI
companions) win over the engine's settings for that one run, as in the reference.

The overrides are applied to a copy of the settings through the same field table the CLI flags
use, so a bad value is the same clear :class:`~geppetto.errors.ConfigError` a bad flag would be.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from geppetto.errors import ConfigError
from geppetto.settings import Settings
from geppetto.settings.fields import set_field
from geppetto.turns.keys import DataKeys, Key
from geppetto.turns.model import Turn

# data key -> {config field -> settings fields it sets}
_FIELDS: dict[Key[Any], dict[str, tuple[str, ...]]] = {
    DataKeys.INFERENCE_CONFIG: {
        "temperature": ("ai-temperature",),
        "top_p": ("ai-top-p",),
        "max_response_tokens": ("ai-max-response-tokens",),
        "stop": ("ai-stop",),
        "seed": ("openai-seed",),
        "thinking_budget": ("claude-thinking-budget", "gemini-thinking-budget"),
        "reasoning_effort": ("openai-reasoning-effort",),
        "reasoning_summary": ("openai-reasoning-summary",),
    },
    DataKeys.CLAUDE_INFERENCE_CONFIG: {
        "user_id": ("claude-user-id",),
        "top_k": ("claude-top-k",),
    },
    DataKeys.OPENAI_INFERENCE_CONFIG: {
        "n": ("openai-n",),
        "presence_penalty": ("openai-presence-penalty",),
        "frequency_penalty": ("openai-frequency-penalty",),
    },
}


def settings_for_turn(settings: Settings, turn: Turn) -> Settings:
    """``settings`` itself when the turn overrides nothing, else a copy with its overrides."""
    present = [(key, turn.data[key.id]) for key in _FIELDS if turn.data.get(key.id) is not None]
    if not present:
        return settings
    adjusted = copy.deepcopy(settings)
    for key, config in present:
        _apply(adjusted, key, config)
    return adjusted


def _apply(settings: Settings, key: Key[Any], config: Any) -> None:
    short = key.name
    if not isinstance(config, Mapping):
        raise ConfigError(f"turn data {short} must be an object, not {type(config).__name__}")
    fields = _FIELDS[key]
    for name, value in config.items():
        targets = fields.get(name)
        if targets is None:
            known = ", ".join(fields)
            raise ConfigError(f"turn data {short}: unknown field {name!r} (known: {known})")
        if value is None:
            continue
        for target in targets:
            try:
                set_field(settings, target, value)
            except ConfigError as exc:
                raise ConfigError(f"turn data {short}.{name}: {exc}") from None


def sampling_overrides(turn: Turn) -> dict[str, Any]:
    """The turn's validated ``temperature``/``top_p``/``max_tokens``/``seed``/``stop`` overrides,
    for an engine that has no :class:`Settings` (the embedded local model)."""
    config = turn.data.get(DataKeys.INFERENCE_CONFIG.id)
    if config is None:
        return {}
    settings = Settings()
    _apply(settings, DataKeys.INFERENCE_CONFIG, config)
    chat, given = settings.chat, {name for name, value in config.items() if value is not None}
    values = {
        "temperature": chat.temperature,
        "top_p": chat.top_p,
        "max_response_tokens": chat.max_response_tokens,
        "seed": settings.openai.seed,
        "stop": chat.stop,
    }
    renamed = {"max_response_tokens": "max_tokens"}
    return {renamed.get(name, name): value for name, value in values.items() if name in given}
