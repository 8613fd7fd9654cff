"""Engine factory: from an API type and model name to an engine.

This build knows the engines shipped in the package; provider engines register here as they
land. Unknown types get an error that lists what is available.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geppetto.engines.base import Engine
from geppetto.errors import ConfigError

EngineFactory = Callable[..., Engine]

DEFAULT_API_TYPE = "echo"

# API types that this build cannot run yet.
_PLANNED = ("local",)


def _echo(model: str = "", **options: Any) -> Engine:
    from geppetto.engines.echo import EchoEngine

    return EchoEngine(reply=str(options.get("reply", "READY")), delay_ms=float(options.get("delay_ms", 0)))


_FACTORIES: dict[str, EngineFactory] = {"echo": _echo}


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
        if key in _PLANNED:
            raise ConfigError(f"provider {key} is not available in this build yet; available: {available}")
        raise ConfigError(f"unknown provider {key}; available: {available}")
    return factory(model=model, **options)
