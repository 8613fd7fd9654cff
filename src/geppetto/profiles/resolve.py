"""What a run uses: profile selection and the precedence chain, with provenance for every value.

Values, lowest to highest: defaults < profile (its stack merged base -> leaf) < config files <
environment (provider key variables such as ``GEMINI_API_KEY``, then ``PINOCCHIO_<FIELD>``) <
flags. Profile selection: ``--profile`` > ``PINOCCHIO_PROFILE`` > config ``profile-settings.profile``
> ``default`` (which may exist nowhere: then no profile applies). With explicit
``--profile-registries`` and no selection, the default registry's default profile applies.

One safety rule narrows "environment beats profile": a provider key variable does not replace a
key that a profile or config file set together with its own base URL for that provider (a
profile pointing ``openai`` at a proxy with the proxy's key must not receive ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geppetto.errors import ConfigError
from geppetto.profiles.builtin import builtin_source
from geppetto.profiles.catalog import Catalog, Lookup
from geppetto.profiles.config import ConfigFile, read_configs
from geppetto.profiles.formats import PINOCCHIO_REGISTRY
from geppetto.profiles.model import LineageEntry, Origin, ProfileEntry
from geppetto.profiles.model_info import deep_merge, merge_model_info
from geppetto.profiles.result import ResolvedSettings, collect_secrets
from geppetto.profiles.schema import check_field, check_value, field_table, normalize_field
from geppetto.profiles.sources import (
    Locations,
    expand_path,
    load_profile_file,
    load_registry_source,
    locations,
    split_sources,
)
from geppetto.settings.apitypes import SPECS
from geppetto.settings.fields import set_field
from geppetto.settings.redact import redact_text
from geppetto.settings.sections import Settings

ENV_PREFIX = "PINOCCHIO_"
ENV_PROFILE = "PINOCCHIO_PROFILE"
ENV_PROFILE_FILE = "PINOCCHIO_PROFILE_FILE"
ENV_PROFILE_REGISTRIES = "PINOCCHIO_PROFILE_REGISTRIES"

Entry = tuple[str, Any, Origin]


@dataclass(slots=True)
class _Setup:
    """Everything read before a profile is chosen: locations, config files and the catalog."""

    locs: Locations
    configs: list[ConfigFile]
    catalog: Catalog
    environ: Mapping[str, str]
    registries_explicit: bool


def _setup(
    profile_file: str | os.PathLike[str] | None,
    profile_registries: str | Sequence[str] | None,
    environ: Mapping[str, str],
    home: str | os.PathLike[str] | None,
    config_file: str | os.PathLike[str] | None = None,
) -> _Setup:
    locs = locations(environ, home)
    cwd = Path.cwd()
    explicit = expand_path(str(config_file), locs.home, cwd) if config_file else None
    configs = read_configs(locs, explicit)

    registry_specs = split_sources(profile_registries) or split_sources(environ.get(ENV_PROFILE_REGISTRIES))
    if not registry_specs:
        registry_specs = next((c.profile_registries for c in reversed(configs) if c.profile_registries), [])
    file_value = str(profile_file) if profile_file else environ.get(ENV_PROFILE_FILE, "").strip()
    if not file_value:
        file_value = next((c.profile_file for c in reversed(configs) if c.profile_file), "")

    sources = [load_registry_source(spec, locs.home, cwd) for spec in registry_specs]
    if file_value:
        path = expand_path(file_value, locs.home, cwd)
        sources.append(
            load_profile_file(path, role="profile-file", explicit=True, legacy_slug=PINOCCHIO_REGISTRY)
        )
    sources.append(
        load_profile_file(
            locs.geppetto_profiles, role="geppetto-profiles", explicit=False, legacy_slug="geppetto"
        )
    )
    if not file_value:
        sources.append(
            load_profile_file(
                locs.pinocchio_profiles, role="profile-file", explicit=False, legacy_slug=PINOCCHIO_REGISTRY
            )
        )
    sources.append(builtin_source())
    return _Setup(locs, configs, Catalog(sources), environ, bool(registry_specs))


def _selection(profile: str | None, setup: _Setup) -> tuple[str, str]:
    """The selected profile name (``""`` when nothing selected one) and what selected it."""
    if profile and profile.strip():
        return profile.strip(), "--profile"
    value = setup.environ.get(ENV_PROFILE, "").strip()
    if value:
        return value, ENV_PROFILE
    for config in reversed(setup.configs):
        if config.profile:
            return config.profile, f"config {config.path}"
    return "", "default"


def _not_found(name: str, catalog: Catalog, lookup: Lookup) -> ConfigError:
    searched = []
    for source in catalog.priority:
        if source.role == "builtin":
            searched.append("the built-in profiles")
        elif source.exists or source.explicit:
            searched.append(source.label)
    message = f"profile {name} not found in {', '.join(searched)}"
    known = catalog.known_names()
    if known:
        message += f"; known profiles: {', '.join(known)}"
    broken = [*lookup.blocking, *lookup.skipped]
    if broken:
        message += "; could not read: " + "; ".join(s.error for s in broken)
    return ConfigError(message)


def _choose(name: str, setup: _Setup, warnings: list[str]) -> ProfileEntry | None:
    """The leaf profile for ``name`` (``""``: no selection), or ``None`` when none applies."""
    catalog = setup.catalog
    if not name and setup.registries_explicit:
        registry = catalog.default_registry()
        default = registry.default_profile if registry is not None else None
        warnings.extend(f"ignored unreadable profile source: {s.error}" for s in catalog.broken())
        return registry.profiles[default] if registry is not None and default else None
    lookup = catalog.find(name or "default")
    if lookup.blocking:
        raise ConfigError("; ".join(s.error for s in lookup.blocking))
    if lookup.entry is None and name and name != "default":  # a missing `default` is no error
        raise _not_found(name, catalog, lookup)
    warnings.extend(f"ignored unreadable profile source: {s.error}" for s in catalog.broken())
    return lookup.entry


def _profile_entries(layers: list[ProfileEntry]) -> list[Entry]:
    """The stack's fields base -> leaf; map-valued fields (``openai-logit-bias``) deep-merge
    across the stack like the reference's, instead of the leaf replacing the base's map."""
    entries: list[Entry] = []
    maps: dict[str, dict[str, Any]] = {}
    for layer in layers:
        origin = Origin("profile", layer.source, layer.registry, layer.slug)
        for name, value in layer.fields.items():
            if isinstance(value, dict):
                value = maps[name] = _deep_merge(maps.get(name, {}), value)
            entries.append((name, value, origin))
    return entries


def _deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            value = _deep_merge(below, value)
        merged[key] = value
    return merged


def _config_entries(configs: list[ConfigFile]) -> list[Entry]:
    return [
        (name, value, Origin("config", str(config.path)))
        for config in configs
        for name, value in config.fields.items()
    ]


def _provider_key_vars() -> dict[str, list[str]]:
    """``field -> variables`` (``gemini-api-key -> [GEMINI_API_KEY, GOOGLE_API_KEY]``)."""
    table: dict[str, list[str]] = {}
    for spec in SPECS.values():
        target = spec.key_fields[-1]
        for var in spec.key_env:
            if var not in table.setdefault(target, []):
                table[target].append(var)
    return table


def _bound_to_own_endpoint(key_field: str, lower: list[Entry]) -> bool:
    """Whether a profile/config set ``key_field`` and also a non-default base URL for its provider."""
    spec = next((s for s in SPECS.values() if s.key_fields[0] == key_field), None)
    if spec is None:
        return False
    base_field = spec.base_url_fields[0]
    key_set = base_url = None
    for name, value, _ in lower:
        if name == key_field:
            key_set = value
        elif name == base_field:
            base_url = str(value).strip().rstrip("/")
    default = spec.default_base_url.rstrip("/")
    return bool(key_set) and bool(base_url) and base_url != default


def _env_entries(environ: Mapping[str, str], lower: list[Entry]) -> list[Entry]:
    entries: list[Entry] = []
    for key_field, variables in _provider_key_vars().items():
        if _bound_to_own_endpoint(key_field, lower):
            continue
        for var in variables:
            value = environ.get(var, "").strip()
            if value:
                entries.append((key_field, value, Origin("env", var)))
                break
    for var in sorted(environ):
        value = environ[var]
        if not var.startswith(ENV_PREFIX) or not value:
            continue
        name = normalize_field(var[len(ENV_PREFIX) :])
        if name in field_table() or name.endswith(("-api-key", "-base-url")):
            entries.append((name, value, Origin("env", var)))
    return entries


def _flag_entries(flags: Mapping[str, object]) -> list[Entry]:
    entries: list[Entry] = []
    for raw, value in flags.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        name = normalize_field(raw)
        problem = check_field(name, None)
        if problem:
            raise ConfigError(f"flag --{name}: {problem}")
        entries.append((name, value, Origin("flags", f"--{name}")))
    return entries


def _apply(entries: list[Entry]) -> tuple[Settings, dict[str, Origin]]:
    settings = Settings()
    origins: dict[str, Origin] = {}
    for name, value, origin in entries:
        problem = check_value(name, value)
        if problem:
            raise ConfigError(f"{origin.describe()}: {problem}")
        set_field(settings, name, value)
        if name.endswith(("-api-key", "-base-url")) and name not in field_table() and not str(value).strip():
            continue
        origins[name] = origin
    return settings, origins


def _resolve(
    setup: _Setup, name: str, selected_by: str, flags: Mapping[str, object], warnings: list[str]
) -> ResolvedSettings:
    leaf = _choose(name, setup, warnings)
    layers = setup.catalog.expand(leaf) if leaf is not None else []
    lower = [*_profile_entries(layers), *_config_entries(setup.configs)]
    entries = [*lower, *_env_entries(setup.environ, lower), *_flag_entries(flags)]
    settings, origins = _apply(entries)
    extra: dict[str, Any] = {}
    mcp_servers: dict[str, Any] = {}
    for layer in layers:
        for name, section in layer.extra_sections.items():
            extra[name] = deep_merge(extra.get(name, {}), section)
        mcp_servers.update(layer.mcp_servers)
    read = [c.path for c in setup.configs]
    files = [str(p) for p in read] + [s.label for s in setup.catalog.priority if s.exists and s.registries]
    return ResolvedSettings(
        settings=settings,
        origins=origins,
        profile=leaf.slug if leaf is not None else None,
        registry=leaf.registry if leaf is not None else None,
        profile_source=leaf.source if leaf is not None else None,
        selected_by=selected_by if leaf is not None else "",
        lineage=[LineageEntry(e.registry, e.slug, e.source, e.version) for e in layers],
        sources=files,
        warnings=warnings,
        environ=setup.environ,
        model_info=merge_model_info(layer.model_info for layer in layers),
        extra_sections=extra,
        mcp_servers=mcp_servers,
    )


def _guarded_setup(
    profile_file: str | os.PathLike[str] | None,
    profile_registries: str | Sequence[str] | None,
    environ: Mapping[str, str],
    home: str | os.PathLike[str] | None,
    config_file: str | os.PathLike[str] | None = None,
) -> _Setup:
    try:
        return _setup(profile_file, profile_registries, environ, home, config_file)
    except ConfigError as exc:
        raise ConfigError(redact_text(str(exc), collect_secrets(None, environ))) from None


def resolve_run_settings(
    *,
    profile: str | None = None,
    profile_file: str | os.PathLike[str] | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> ResolvedSettings:
    """The settings a run uses, with provenance; :class:`ConfigError` (secrets redacted) on bad input.

    ``flags`` are settings fields by reference name (``ai-engine`` or ``ai_engine``); ``None``
    and empty values are skipped. ``environ`` defaults to ``os.environ``; ``home`` to ``$HOME``.
    """
    env = os.environ if environ is None else environ
    setup = _guarded_setup(profile_file, profile_registries, env, home, config_file)
    try:
        name, selected_by = _selection(profile, setup)
        return _resolve(setup, name, selected_by, flags or {}, [])
    except ConfigError as exc:
        raise ConfigError(redact_text(str(exc), collect_secrets(setup.catalog, env, setup.configs))) from None


def lookup_profile(
    name: str,
    *,
    profile_file: str | os.PathLike[str] | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
    required: bool = False,
) -> ResolvedSettings | None:
    """``name``'s run settings if some profile source defines it, else ``None`` (JS ``fromProfile``
    then treats the name as a model name), or with ``required`` the CLI's "profile ... not found"
    error listing the known profiles. Broken explicit sources still raise."""
    env = os.environ if environ is None else environ
    setup = _guarded_setup(profile_file, profile_registries, env, home, config_file)
    try:
        lookup = setup.catalog.find(name.strip())
        if lookup.blocking:
            raise ConfigError("; ".join(s.error for s in lookup.blocking))
        if lookup.entry is None:
            if required:
                raise _not_found(name.strip(), setup.catalog, lookup)
            return None
        return _resolve(setup, name.strip(), "fromProfile", flags or {}, [])
    except ConfigError as exc:
        raise ConfigError(redact_text(str(exc), collect_secrets(setup.catalog, env, setup.configs))) from None


def load_catalog(
    *,
    profile_file: str | os.PathLike[str] | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Catalog:
    """Every profile source a run would consult (for ``geppetto profiles list``)."""
    env = os.environ if environ is None else environ
    return _guarded_setup(profile_file, profile_registries, env, home, config_file).catalog


def profile_settings(
    name: str,
    *,
    profile_file: str | os.PathLike[str] | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> ResolvedSettings:
    """Defaults < profile ``name`` (stack merged) only: what the profile itself sets.

    Config files, the environment and flags are left out (``resolve_run_settings`` adds them).
    """
    env = os.environ if environ is None else environ
    setup = _guarded_setup(profile_file, profile_registries, env, home, config_file)
    setup.configs = []
    setup.environ = {}
    try:
        if not name.strip():
            raise ConfigError("a profile name is required")
        return _resolve(setup, name.strip(), "name", {}, [])
    except ConfigError as exc:
        raise ConfigError(redact_text(str(exc), collect_secrets(setup.catalog, env))) from None


def resolve_in_catalog(catalog: Catalog, name: str) -> ResolvedSettings:
    """Defaults < profile ``name`` (``""``: the default registry's default profile;
    ``registry/profile`` scopes it) from ``catalog`` alone: no config files, environment or flags,
    like the reference's registry ``resolve``. Key variables still apply when the engine is built."""
    setup = _Setup(locations({}), [], catalog, {}, True)
    try:
        return _resolve(setup, name.strip(), "resolve", {}, [])
    except ConfigError as exc:
        raise ConfigError(redact_text(str(exc), collect_secrets(catalog, {}))) from None
