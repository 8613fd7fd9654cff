"""``inferenceProfiles`` and the ``InferenceRegistry``/``InferenceSettings`` wrappers (reference HEAD).

A thin mapping onto :mod:`geppetto.profiles.registry_api`: JS ``load`` is
:func:`~geppetto.profiles.load_registries` (relative paths from the process's cwd),
``resolve``/``default`` use the profile sources the host was installed with
(:func:`~geppetto.profiles.configured_registry`). The wrappers are host objects; their methods
live on the prototypes in ``parts/10_profiles.js``. Other API objects that take settings
(``engine().inference``, ``agent().inference``) get the Python
:class:`~geppetto.profiles.InferenceSettings` with :func:`settings_of`.

Nothing heavy is imported at module import (``geppetto js run`` cold start).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from geppetto.js.module.profile import ProfileDefaults

if TYPE_CHECKING:
    from geppetto.profiles.inference_settings import InferenceSettings
    from geppetto.profiles.registry_api import InferenceRegistry


class JSInferenceSettings:
    """The JS ``InferenceSettings`` wrapper: ``.settings`` is the Python :class:`InferenceSettings`."""

    __js_class__ = "InferenceSettings"
    __slots__ = ("__weakref__", "settings")

    def __init__(self, settings: InferenceSettings) -> None:
        self.settings = settings


class JSInferenceRegistry:
    """The JS ``InferenceRegistry``: ``sources`` is a property, the methods are on its prototype."""

    __js_class__ = "InferenceRegistry"
    __js_props__ = ("sources",)
    __slots__ = ("__weakref__", "registry", "sources")

    def __init__(self, registry: InferenceRegistry) -> None:
        self.registry = registry
        self.sources = registry.sources


def settings_of(value: Any, where: str) -> InferenceSettings:
    """The Python settings behind a JS ``InferenceSettings`` wrapper; ``TypeError`` for anything
    else (plain objects included): ``<where> requires a registry-resolved InferenceSettings wrapper``."""
    if isinstance(value, JSInferenceSettings):
        return value.settings
    raise TypeError(f"{where} requires a registry-resolved InferenceSettings wrapper")


def _open(value: Any, method: str) -> InferenceRegistry:
    from geppetto.profiles.registry_api import RegistryClosedError

    if not isinstance(value, JSInferenceRegistry):
        raise TypeError(f"InferenceRegistry.{method} called on something that is not an InferenceRegistry")
    if value.registry.closed:
        raise RegistryClosedError(f"registry.{method} called after registry.close")
    return value.registry


def _settings(value: Any, method: str) -> InferenceSettings:
    if not isinstance(value, JSInferenceSettings):
        raise TypeError(f"InferenceSettings.{method} called on something that is not an InferenceSettings")
    return value.settings


def _resolve(registry: InferenceRegistry, value: Any, where: str) -> JSInferenceSettings:
    from geppetto.profiles.registry_api import parse_resolve_input

    registry_slug, profile_slug = parse_resolve_input(value, where)
    if registry_slug is not None:
        query: dict[str, str] = {"registry": registry_slug}
        if profile_slug is not None:
            query["profile"] = profile_slug
        return JSInferenceSettings(registry.resolve(query))
    return JSInferenceSettings(registry.resolve(profile_slug))


def host_functions(defaults: ProfileDefaults) -> dict[str, Callable[..., Any]]:
    """The ``host.call`` table of this API object (registered by :class:`GeppettoHost`)."""

    def configured(where: str) -> InferenceRegistry:
        from geppetto.profiles.registry_api import configured_registry

        return configured_registry(
            default_profile=defaults.profile,
            profile_file=defaults.profile_file,
            profile_registries=defaults.profile_registries,
            config_file=defaults.config_file,
            where=where,
        )

    def load(sources: Any) -> JSInferenceRegistry:
        from geppetto.profiles.registry_api import load_registries

        if sources is None:
            raise TypeError("inferenceProfiles.load requires registry source string or string array")
        return JSInferenceRegistry(load_registries(sources))

    def resolve(value: Any) -> JSInferenceSettings:
        where = "inferenceProfiles.resolve"
        return _resolve(configured(where), value, where)

    def default() -> JSInferenceRegistry:
        return JSInferenceRegistry(configured("inferenceProfiles.default"))

    def list_registries(receiver: Any) -> list[dict[str, Any]]:
        return _open(receiver, "listRegistries").list_registries()

    def list_profiles(receiver: Any, registry_slug: Any) -> list[dict[str, Any]]:
        registry = _open(receiver, "listProfiles")
        if registry_slug is not None and not isinstance(registry_slug, str):
            raise TypeError("listProfiles: registrySlug must be a string")
        return registry.list_profiles(registry_slug)

    def registry_resolve(receiver: Any, value: Any) -> JSInferenceSettings:
        return _resolve(_open(receiver, "resolve"), value, "registry.resolve")

    def close(receiver: Any) -> None:
        if not isinstance(receiver, JSInferenceRegistry):
            raise TypeError("InferenceRegistry.close called on something that is not an InferenceRegistry")
        receiver.registry.close()

    def to_json(receiver: Any) -> dict[str, Any]:
        return _settings(receiver, "toJSON").to_json()

    def clone(receiver: Any) -> JSInferenceSettings:
        return JSInferenceSettings(_settings(receiver, "clone").clone())

    def debug(receiver: Any) -> dict[str, Any]:
        return _settings(receiver, "debug").debug()

    def build_engine(settings: Any) -> Any:
        from geppetto.js.module.engine_builder_api import build_engine

        return build_engine(settings_of(settings, "engine().inference"))

    return {
        "geppetto.inferenceProfiles.load": load,
        "geppetto.inferenceProfiles.resolve": resolve,
        "geppetto.inferenceProfiles.default": default,
        "geppetto.inferenceRegistry.listRegistries": list_registries,
        "geppetto.inferenceRegistry.listProfiles": list_profiles,
        "geppetto.inferenceRegistry.resolve": registry_resolve,
        "geppetto.inferenceRegistry.close": close,
        "geppetto.inferenceSettings.toJSON": to_json,
        "geppetto.inferenceSettings.clone": clone,
        "geppetto.inferenceSettings.debug": debug,
        "geppetto.engine.build": build_engine,
    }


__all__ = ["JSInferenceRegistry", "JSInferenceSettings", "host_functions", "settings_of"]
