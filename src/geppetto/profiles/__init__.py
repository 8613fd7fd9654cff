"""Profiles: which provider, model and settings a run uses, and where each value came from.

Reads pinocchio's ``profiles.yaml`` (profile -> section -> field), the registry format (slug,
profiles, stacks) from YAML files or SQLite, config files, ``PINOCCHIO_*`` variables and flags,
and merges them in the reference's precedence. ``resolve_run_settings`` is the one entry point
for the CLI and the JS host; ``geppetto.engines.engine_for`` turns its result into an engine
(profiles never import engines). ``load_registries`` and :class:`InferenceSettings` are the
reference's current API: registry-resolved settings with provenance and model info.
"""

from __future__ import annotations

from geppetto._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Catalog": "geppetto.profiles.catalog",
    "InferenceRegistry": "geppetto.profiles.registry_api",
    "InferenceSettings": "geppetto.profiles.inference_settings",
    "ModelCost": "geppetto.profiles.model_info",
    "ModelInfo": "geppetto.profiles.model_info",
    "Provenance": "geppetto.profiles.inference_settings",
    "Origin": "geppetto.profiles.model",
    "ProfileEntry": "geppetto.profiles.model",
    "Registry": "geppetto.profiles.model",
    "RegistryClosedError": "geppetto.profiles.registry_api",
    "ResolvedSettings": "geppetto.profiles.result",
    "SourceError": "geppetto.profiles.yamlio",
    "engine_api_type": "geppetto.profiles.result",
    "configured_registry": "geppetto.profiles.registry_api",
    "load_catalog": "geppetto.profiles.resolve",
    "load_registries": "geppetto.profiles.registry_api",
    "lookup_profile": "geppetto.profiles.resolve",
    "profile_settings": "geppetto.profiles.resolve",
    "resolve_run_settings": "geppetto.profiles.resolve",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
