"""From resolved settings to an engine, through the engine factory.

The API type decides: ``echo`` and ``local`` take only the options they understand (for the
local model, only sampling values some layer set explicitly, so its own tuned defaults stay in
force otherwise); provider types get the whole :class:`Settings` and the run's environment (for
key variables). No API type and no model means the factory's default engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from geppetto.errors import ConfigError
from geppetto.profiles.result import ResolvedSettings
from geppetto.settings.apitypes import spec_for

if TYPE_CHECKING:
    from geppetto.engines.base import Engine

# local engine option <- settings field, applied only when some layer set the field.
_LOCAL_OPTIONS = {
    "temperature": "ai-temperature",
    "top_p": "ai-top-p",
    "max_tokens": "ai-max-response-tokens",
    "stop": "ai-stop",
}


def _local_options(resolved: ResolvedSettings) -> dict[str, Any]:
    chat = resolved.settings.chat
    values = {
        "temperature": chat.temperature,
        "top_p": chat.top_p,
        "max_tokens": chat.max_response_tokens,
        "stop": list(chat.stop),
    }
    options = {key: values[key] for key, name in _LOCAL_OPTIONS.items() if resolved.is_set(name)}
    if chat.structured_output_mode == "json_schema" and chat.structured_output_schema.strip():
        try:
            options["json_schema"] = orjson.loads(chat.structured_output_schema)
        except orjson.JSONDecodeError:
            raise ConfigError("ai-structured-output-schema is not valid JSON") from None
    return options


def engine_api_type(resolved: ResolvedSettings) -> str:
    """The API type the engine will use (``""``: the factory's default)."""
    chat = resolved.settings.chat
    if chat.api_type.strip():
        return chat.api_type.strip().lower()
    model = chat.engine.strip()
    if not model:
        return ""
    if model.lower().endswith(".gguf"):
        return "local"
    return resolved.settings.resolved_api_type()


def engine_for(resolved: ResolvedSettings) -> Engine:
    """Build the engine ``resolved`` describes; :class:`ConfigError` says what to set."""
    from geppetto.engines import factory

    api_type = engine_api_type(resolved)
    model = resolved.settings.chat.engine.strip()
    if not api_type:
        api_type = str(getattr(factory, "DEFAULT_API_TYPE", "")).strip().lower()
    try:
        if api_type == "echo":
            return factory.create_engine("echo", model=model)
        if api_type == "local":
            return factory.create_engine("local", model=model, **_local_options(resolved))
        if spec_for(api_type) is None:  # an engine registered by the application
            return factory.create_engine(api_type, model=model)
        return factory.create_engine(
            api_type, model=model, settings=resolved.settings, environ=resolved.environ
        )
    except ConfigError as exc:
        message = resolved.redact(str(exc))
        if resolved.profile is not None:
            message += f" (profile {resolved.profile} from {resolved.profile_source})"
        raise ConfigError(message) from None
