"""Reference field names (``ai-engine``, ``openai-base-url``, ...) and how they land in :class:`Settings`.

The same names are CLI flags (``--ai-engine``), profile fields (``profile -> section slug ->
field``), config file fields and ``PINOCCHIO_*`` environment variables (``PINOCCHIO_AI_ENGINE``).
Any ``<type>-api-key`` / ``<type>-base-url`` field goes to ``api.api_keys`` / ``api.base_urls``.
Values given as strings (environment, flags) are converted to the field's type; a value that
cannot be converted, or a number outside its field's range (:mod:`geppetto.settings.numbers`),
raises :class:`~geppetto.errors.ConfigError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from geppetto.errors import ConfigError
from geppetto.settings.numbers import number
from geppetto.settings.sections import SECTION_SLUGS, Settings


@dataclass(frozen=True, slots=True)
class FieldSpec:
    section: str  # attribute of Settings
    attr: str  # attribute of the section
    kind: str  # str | int | float | bool | list | dict | optint | optfloat | optbool | think


_FIELDS: dict[str, FieldSpec] = {}


def _add(section: str, kind: str, **names: str) -> None:
    for attr, name in names.items():
        _FIELDS[name] = FieldSpec(section, attr, kind)


_add("chat", "str", engine="ai-engine", api_type="ai-api-type")
_add("chat", "str", structured_output_mode="ai-structured-output-mode")
_add(
    "chat",
    "str",
    structured_output_name="ai-structured-output-name",
    structured_output_description="ai-structured-output-description",
    structured_output_schema="ai-structured-output-schema",
)
_add("chat", "optint", max_response_tokens="ai-max-response-tokens")
_add("chat", "optfloat", top_p="ai-top-p", temperature="ai-temperature")
_add("chat", "list", stop="ai-stop")
_add("chat", "bool", stream="ai-stream")
_add(
    "chat",
    "bool",
    structured_output_strict="ai-structured-output-strict",
    structured_output_require_valid="ai-structured-output-require-valid",
)
_add("client", "float", timeout="timeout", connect_timeout="connect-timeout")
_add("client", "int", max_retries="max-retries")
_add("client", "str", organization="organization", user_agent="user-agent")
_add("api", "str", outbound_policy="outbound-policy")
_add("openai", "int", n="openai-n")
_add("openai", "float", presence_penalty="openai-presence-penalty")
_add("openai", "float", frequency_penalty="openai-frequency-penalty")
_add("openai", "dict", logit_bias="openai-logit-bias")
_add("openai", "optint", seed="openai-seed")
_add("openai", "str", reasoning_effort="openai-reasoning-effort")
_add("openai", "str", reasoning_summary="openai-reasoning-summary")
_add("openai", "optbool", parallel_tool_calls="openai-parallel-tool-calls")
_add(
    "openai",
    "bool",
    include_reasoning_encrypted="openai-include-reasoning-encrypted",
    stream_include_usage="openai-stream-include-usage",
)
_add("claude", "optint", top_k="claude-top-k")
_add("claude", "str", user_id="claude-user-id")
_add("claude", "int", thinking_budget="claude-thinking-budget")
_add("gemini", "bool", include_thoughts="gemini-include-thoughts")
_add("gemini", "optint", thinking_budget="gemini-thinking-budget")
_add("ollama", "think", think="ollama-think")
_add("ollama", "str", keep_alive="ollama-keep-alive")
_add("ollama", "optint", num_ctx="ollama-num-ctx")

SLUG_SECTIONS = {slug: name for name, slug in SECTION_SLUGS.items()}


def known_fields() -> list[str]:
    return sorted(_FIELDS)


def field_specs() -> dict[str, FieldSpec]:
    """Every modelled reference field with its Settings section, attribute and kind."""
    return dict(_FIELDS)


def flag_fields() -> list[str]:
    """Every field a CLI may expose as ``--<field>``: the section fields plus one
    ``<type>-api-key`` and ``<type>-base-url`` per known API type."""
    from geppetto.settings.apitypes import SPECS

    names = set(_FIELDS)
    for spec in SPECS.values():
        names.update((spec.key_fields[0], spec.base_url_fields[0]))
    return sorted(names)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"invalid value for {name}: expected true or false, got {value!r}")


def coerce(name: str, kind: str, value: Any) -> Any:
    """Convert ``value`` to the type a field of ``kind`` holds."""
    if kind.startswith("opt"):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        kind = kind[3:]
    if kind == "str":
        return "" if value is None else str(value)
    if kind == "bool":
        return _bool(name, value)
    if kind == "int":
        return number(name, value, int)
    if kind == "float":
        return number(name, value, float)
    if kind == "list":
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        raise ConfigError(f"invalid value for {name}: expected a list, got {value!r}")
    if kind == "dict":
        if isinstance(value, str):
            try:
                value = orjson.loads(value) if value.strip() else {}
            except orjson.JSONDecodeError:
                raise ConfigError(f"invalid value for {name}: expected a JSON object") from None
        if not isinstance(value, dict):
            raise ConfigError(f"invalid value for {name}: expected an object, got {value!r}")
        return dict(value)
    if kind == "think":
        if isinstance(value, bool) or value is None:
            return value
        text = str(value).strip().lower()
        if text in ("low", "medium", "high"):
            return text
        return _bool(name, text)
    raise AssertionError(f"unknown field kind {kind}")


def set_field(settings: Settings, name: str, value: Any) -> None:
    """Set one reference field (``ai-engine``, ``gemini-api-key``, ...) on ``settings``."""
    key = name.strip().lower().replace("_", "-")
    if key.endswith("-api-key") and key not in _FIELDS:
        if value is not None and str(value).strip():
            settings.api.api_keys[key] = str(value).strip()
        return
    if key.endswith("-base-url") and key not in _FIELDS:
        if value is not None and str(value).strip():
            settings.api.base_urls[key] = str(value).strip()
        return
    spec = _FIELDS.get(key)
    if spec is None:
        raise ConfigError(f"unknown setting {name!r}")
    setattr(getattr(settings, spec.section), spec.attr, coerce(key, spec.kind, value))


def apply_fields(settings: Settings, values: Mapping[str, Any], *, ignore_unknown: bool = False) -> Settings:
    """Apply flat ``field -> value`` pairs (flags, config files); ``None`` values are skipped."""
    for name, value in values.items():
        if value is None:
            continue
        try:
            set_field(settings, name, value)
        except ConfigError:
            if not (ignore_unknown and _unknown(name)):
                raise
    return settings


def apply_layers(settings: Settings, layers: Mapping[str, Any], *, ignore_unknown: bool = True) -> Settings:
    """Apply the profile/config layout ``section slug -> field -> value``.

    Unknown sections and fields are ignored by default: profile files carry sections owned by
    other tools (pinocchio's own settings) and must keep loading.
    """
    for slug, values in layers.items():
        if not isinstance(values, Mapping):
            continue
        if slug == "api":
            for map_name in ("api_keys", "base_urls"):
                for name, value in (values.get(map_name) or {}).items():
                    set_field(settings, name, value)
            if "outbound_policy" in values:
                set_field(settings, "outbound-policy", values["outbound_policy"])
            continue
        apply_fields(settings, values, ignore_unknown=ignore_unknown)
    return settings


def apply_env(settings: Settings, environ: Mapping[str, str], prefix: str = "PINOCCHIO_") -> Settings:
    """Apply ``PINOCCHIO_<FIELD>`` variables (``PINOCCHIO_AI_ENGINE``, ``PINOCCHIO_OPENAI_API_KEY``)."""
    for var, value in environ.items():
        if not var.startswith(prefix) or not value:
            continue
        name = var[len(prefix) :].lower().replace("_", "-")
        if name in _FIELDS or name.endswith(("-api-key", "-base-url")):
            set_field(settings, name, value)
    return settings


def _unknown(name: str) -> bool:
    key = name.strip().lower().replace("_", "-")
    return key not in _FIELDS and not key.endswith(("-api-key", "-base-url"))
