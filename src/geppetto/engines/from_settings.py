"""From settings to an engine: the one place resolved settings become an engine (via the factory).

``engine_for(resolved)`` serves the CLI and ``engines.fromProfile``; ``engine_from_settings``
takes the reference's :class:`~geppetto.profiles.InferenceSettings` wrapper (or plain
:class:`~geppetto.settings.Settings`). The API type decides: ``echo`` and ``local`` take only the
options they understand (for the local model, only sampling values some layer set explicitly, so
its own tuned defaults stay in force otherwise); provider types get the whole settings and the
run's environment (for key variables). No API type and no model means the factory's default
engine. Missing keys are :class:`ConfigError` at build time (``missing API key openai-api-key``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from geppetto.errors import ConfigError
from geppetto.settings.apitypes import spec_for

if TYPE_CHECKING:  # profiles load lazily: importing geppetto.engines stays cheap
    from geppetto.engines.base import Engine, RunContext
    from geppetto.profiles.inference_settings import InferenceSettings
    from geppetto.profiles.model_info import ModelInfo
    from geppetto.profiles.result import ResolvedSettings
    from geppetto.settings.sections import Settings
    from geppetto.turns.model import Turn

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


def engine_for(resolved: ResolvedSettings) -> Engine:
    """Build the engine ``resolved`` describes; :class:`ConfigError` says what to set."""
    from geppetto.engines import factory
    from geppetto.profiles.result import engine_api_type

    api_type = engine_api_type(resolved)
    model = resolved.settings.chat.engine.strip()
    if not api_type:
        api_type = factory.DEFAULT_API_TYPE
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


class SettingsEngine:
    """An engine built from :class:`InferenceSettings`: the provider engine plus what the profile
    says about it. ``name`` is the reference's ``"inferenceSettings"``; ``metadata`` the provenance
    map (``registrySlug``, ``profileSlug``, ``stackLineage``, ...); ``model_info`` the profile's
    declared model (``None`` if it declares none); ``engine`` the engine that runs."""

    name = "inferenceSettings"
    __slots__ = ("engine", "metadata", "model_info", "settings")

    def __init__(
        self,
        engine: Engine,
        settings: InferenceSettings,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metadata: dict[str, Any] = settings.metadata
        self.model_info: ModelInfo | None = settings.model_info

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        return await self.engine.run(turn, ctx)

    def __getattr__(self, name: str) -> Any:
        """Anything else (capabilities, options) is the wrapped engine's."""
        if name.startswith("__") or name in SettingsEngine.__slots__:  # unset slot (copy, pickle)
            raise AttributeError(name)
        return getattr(self.engine, name)

    def __repr__(self) -> str:
        return f"SettingsEngine({self.engine!r}, metadata={self.metadata!r})"


def engine_from_settings(
    settings: InferenceSettings | Settings, *, environ: Mapping[str, str] | None = None
) -> Engine:
    """Build the engine ``settings`` describe.

    An :class:`InferenceSettings` gives a :class:`SettingsEngine` (provenance and model info
    attached); plain :class:`Settings` the bare engine. Provider keys come from the settings, then
    the provider's variables in ``environ`` (default: the resolution's environment, else
    ``os.environ``). :class:`ConfigError` (keys redacted) when something is missing.
    """
    from geppetto.profiles.inference_settings import InferenceSettings
    from geppetto.settings.sections import Settings

    if isinstance(settings, Settings):
        wrapped = InferenceSettings.from_settings(settings)
        return engine_for(_with_environ(wrapped.resolved, environ))
    if not isinstance(settings, InferenceSettings):
        raise TypeError(
            f"engine_from_settings expects InferenceSettings or Settings, got {type(settings).__name__}"
        )
    return SettingsEngine(engine_for(_with_environ(settings.resolved, environ)), settings)


def _with_environ(resolved: ResolvedSettings, environ: Mapping[str, str] | None) -> ResolvedSettings:
    if environ is not None:
        return _replace_environ(resolved, environ)
    if not resolved.environ:
        return _replace_environ(resolved, os.environ)
    return resolved


def _replace_environ(resolved: ResolvedSettings, environ: Mapping[str, str]) -> ResolvedSettings:
    import dataclasses

    return dataclasses.replace(resolved, environ=environ)
