"""Engine factory: from an API type and model name to an engine.

Knows the engines shipped in the package: ``echo``, the embedded ``local`` model (the default)
and every provider API type. Options use the reference field names with underscores
(``ai_temperature``, ``openai_base_url``, ...); unknown types get an error listing what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geppetto.engines.base import Engine
from geppetto.errors import ConfigError

EngineFactory = Callable[..., Engine]

DEFAULT_API_TYPE = "local"


def _echo(model: str = "", **options: Any) -> Engine:
    from geppetto.engines.echo import EchoEngine

    return EchoEngine(reply=str(options.get("reply", "READY")), delay_ms=float(options.get("delay_ms", 0)))


# Reference fields that mean something to the local engine, and the option each becomes.
_LOCAL_FIELDS = {
    "ai-temperature": "temperature",
    "ai-max-response-tokens": "max_tokens",
    "ai-top-p": "top_p",
    "ai-stop": "stop",
}


def _local(model: str = "", **options: Any) -> Engine:
    """The embedded model; settings fields are converted by the settings layer, and only the ones
    the user gave are passed (the bundled model has its own greedy default temperature)."""
    from geppetto.engines.local import OPTIONS, create_local_engine
    from geppetto.settings import Settings, apply_fields

    given = {name: value for name, value in options.items() if value is not None}
    native = {name: value for name, value in given.items() if name in OPTIONS}
    fields = {name.replace("_", "-"): value for name, value in given.items() if name not in OPTIONS}
    settings = Settings()
    apply_fields(settings, fields)
    chat = settings.chat
    converted = {
        "ai-temperature": chat.temperature,
        "ai-max-response-tokens": chat.max_response_tokens,
        "ai-top-p": chat.top_p,
        "ai-stop": chat.stop,
    }
    for field, option in _LOCAL_FIELDS.items():
        if field in fields:
            native.setdefault(option, converted[field])
    if chat.structured_output_mode == "json_schema" and chat.structured_output_schema:
        import orjson

        native.setdefault("json_schema", orjson.loads(chat.structured_output_schema))
    return create_local_engine(model, **native)


_FACTORIES: dict[str, EngineFactory] = {"echo": _echo, "local": _local}


def _provider(api_type: str) -> EngineFactory:
    def factory(model: str = "", **options: Any) -> Engine:
        from geppetto.engines.providers import engine_from_options

        return engine_from_options(api_type, model, **options)

    return factory


def _register_providers() -> None:
    from geppetto.settings.apitypes import ALIASES, SPECS  # a small module: no SDK is imported

    for api_type in (*SPECS, *ALIASES):
        _FACTORIES[api_type] = _provider(api_type)


_register_providers()


def register_engine_factory(api_type: str, factory: EngineFactory) -> None:
    """Make ``api_type`` available to :func:`create_engine` (later registrations win)."""
    _FACTORIES[api_type.strip().lower()] = factory


def available_api_types() -> list[str]:
    return sorted(_FACTORIES)


def create_engine(api_type: str | None = None, model: str = "", **options: Any) -> Engine:
    """Build the engine for ``api_type``; without one it is inferred from ``model`` (a ``.gguf``
    path runs locally, ``claude-...`` on Anthropic, ...) or :data:`DEFAULT_API_TYPE` is used."""
    if not (api_type or "").strip() and model:
        from geppetto.settings.apitypes import infer_api_type

        api_type = "local" if model.lower().endswith(".gguf") else infer_api_type(model)
    key = (api_type or DEFAULT_API_TYPE).strip().lower()
    factory = _FACTORIES.get(key)
    if factory is None:
        available = ", ".join(available_api_types())
        raise ConfigError(f"unknown provider {key}; available: {available}")
    return factory(model=model, **options)
