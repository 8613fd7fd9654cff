"""Profile registries as the reference's current API sees them: load, list, resolve, close.

>>> registry = load_registries("profiles.yaml")          # or "a.yaml,b.db" or a list
>>> settings = registry.resolve("assistant")             # InferenceSettings
>>> engine = geppetto.engines.engine_from_settings(settings)

``load_registries`` reads only the sources given (YAML path, ``yaml:``/``yaml://``, SQLite path,
``sqlite:``, ``sqlite-dsn:``) with the same readers as the rest of ``geppetto.profiles``, and
resolves a profile from its stack alone, like the reference's registry ``resolve``.
``configured_registry`` wraps what the host configured (``--profile-registries``, ``--profile``,
``--profile-file``, ``--config-file``, ``PINOCCHIO_*``): its ``resolve`` goes through
:func:`~geppetto.profiles.resolve_run_settings`, so config files, the environment and the usual
precedence apply, one validation path for the CLI and scripts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from geppetto.errors import ConfigError
from geppetto.profiles.catalog import Catalog
from geppetto.profiles.formats import normalize_slug
from geppetto.profiles.inference_settings import InferenceSettings, provenance_of, redact_secrets
from geppetto.profiles.model import ProfileEntry, Registry
from geppetto.profiles.result import ResolvedSettings

Resolver = Callable[[str], ResolvedSettings]


class RegistryClosedError(ConfigError):
    """A registry method was called after ``close()``."""

    code = "registry_closed"


def parse_sources(sources: Any) -> list[str]:
    """``"a.yaml,b.db"`` or ``["a.yaml", "b.db"]`` -> entries, with the reference's errors."""
    if sources is None:
        raise ConfigError("profile registry sources are required")
    if isinstance(sources, str):
        entries = [part.strip() for part in sources.split(",") if part.strip()]
    elif isinstance(sources, Sequence):
        entries = []
        for index, item in enumerate(sources):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"profile registry source entry {index} must be a non-empty string")
            entries.append(item.strip())
    else:
        raise ConfigError("profile registry sources must be a comma-separated string or string array")
    if not entries:
        raise ConfigError("profile registry sources must not be empty")
    return entries


def _slug(value: Any, label: str) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise ConfigError(f"{label} cannot be empty")
    slug = normalize_slug(text)
    if slug is None:
        raise ConfigError(f"{label} {text!r} is invalid")
    return slug


def parse_resolve_input(value: Any, where: str = "registry.resolve") -> tuple[str | None, str | None]:
    """``(registry, profile)`` from a profile slug, ``None``, or ``{registry|registrySlug,
    profile|profileSlug}`` (snake_case accepted too); slugs are validated and lower-cased."""
    if value is None:
        return None, None
    if isinstance(value, str):
        return (None, _slug(value, "profile slug")) if value.strip() else (None, None)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} expects a profile string or options object")
    registry = profile = None
    for key in ("registry", "registrySlug", "registry_slug"):
        if key in value and value[key] is not None and str(value[key]).strip():
            registry = _slug(value[key], "registry slug")
    for key in ("profile", "profileSlug", "profile_slug"):
        if key in value and value[key] is not None and str(value[key]).strip():
            profile = _slug(value[key], "profile slug")
    return registry, profile


class InferenceRegistry:
    """Registries read from some sources; ``resolve`` gives :class:`InferenceSettings`.

    After :meth:`close` every method raises :class:`RegistryClosedError`; ``close`` itself is
    idempotent. A registry the host owns (``configured_registry``) is only marked closed.
    """

    def __init__(
        self,
        catalog: Catalog,
        sources: Sequence[str],
        *,
        resolver: Resolver | None = None,
        owned: bool = True,
        default_profile: str | None = None,
    ) -> None:
        self._catalog = catalog
        self._sources = list(sources)
        self._resolver = resolver
        self._default_profile = default_profile
        self.owned = owned
        self.closed = False

    @property
    def sources(self) -> list[str]:
        return list(self._sources)

    def _require_open(self, method: str) -> None:
        if self.closed:
            raise RegistryClosedError(f"registry.{method} called after registry.close")

    def list_registries(self) -> list[dict[str, Any]]:
        """``[{slug, display_name?, default_profile_slug?, profile_count}]`` sorted by slug."""
        self._require_open("list_registries")
        rows = []
        for registry in sorted(self._catalog.registries(), key=lambda r: r.slug):
            row: dict[str, Any] = {"slug": registry.slug}
            if registry.display_name:
                row["display_name"] = registry.display_name
            if registry.default_profile:
                row["default_profile_slug"] = registry.default_profile
            row["profile_count"] = len(registry.profiles)
            rows.append(row)
        return rows

    def list_profiles(self, registry_slug: str | None = None) -> list[dict[str, Any]]:
        """The profiles of ``registry_slug`` (default: the default registry) as written, keys redacted."""
        self._require_open("list_profiles")
        registry = self._registry(registry_slug)
        return [profile_document(registry.profiles[slug]) for slug in sorted(registry.profiles)]

    def resolve(
        self, profile: str | Mapping[str, Any] | None = None, *, registry: str | None = None
    ) -> InferenceSettings:
        """The settings of ``profile`` (a slug, or ``{registry, profile}``); neither: the default."""
        self._require_open("resolve")
        registry_slug, profile_slug = parse_resolve_input(profile)
        if registry is not None and registry.strip():
            registry_slug = _slug(registry, "registry slug")
        name = profile_slug or ""
        if registry_slug is not None:
            found = self._registry(registry_slug)
            chosen = profile_slug or self._default_profile or found.default_profile or "default"
            name = f"{found.slug}/{chosen}"
        resolved = self._resolve(name)
        if resolved.profile is None:
            raise ConfigError(f"profile not found: {name or 'default'}")
        return InferenceSettings(resolved, provenance_of(resolved, self._sources))

    def close(self) -> None:
        self.closed = True

    def _resolve(self, name: str) -> ResolvedSettings:
        if self._resolver is not None:
            return self._resolver(name)
        from geppetto.profiles.resolve import resolve_in_catalog

        return resolve_in_catalog(self._catalog, name)

    def _registry(self, slug: str | None) -> Registry:
        if slug is None or not slug.strip():
            found = self._default_registry()
        else:
            found = self._catalog.registry(_slug(slug, "registry slug"))
        if found is None:
            known = ", ".join(sorted(r.slug for r in self._catalog.registries())) or "none"
            wanted = slug or "(default)"
            raise ConfigError(f"registry not found: {wanted} (registries: {known})")
        return found

    def _default_registry(self) -> Registry | None:
        top = self._catalog.default_registry()
        if top is not None:
            return top
        registries = self._catalog.registries()
        return registries[0] if registries else None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"InferenceRegistry(sources={self._sources!r}, {state})"


def profile_document(entry: ProfileEntry) -> dict[str, Any]:
    """One profile in the registry format (``slug``, ``display_name``, ``stack``, ...), redacted."""
    out: dict[str, Any] = {"slug": entry.slug}
    if entry.display_name:
        out["display_name"] = entry.display_name
    if entry.description:
        out["description"] = entry.description
    if entry.stack:
        out["stack"] = [
            ({"registry_slug": ref.registry} if ref.registry else {}) | {"profile_slug": ref.profile}
            for ref in entry.stack
        ]
    for key in ("inference_settings", "metadata", "extensions"):
        value = entry.document.get(key)
        if isinstance(value, Mapping) and value:
            out[key] = dict(value)
    if "inference_settings" not in out and entry.fields:
        out["inference_settings_fields"] = dict(entry.fields)  # legacy formats: flat fields
    redact_secrets(out)
    _redact_flat_keys(out.get("inference_settings_fields"))
    return out


def _redact_flat_keys(fields: dict[str, Any] | None) -> None:
    from geppetto.profiles.inference_settings import SNAPSHOT_REDACTED
    from geppetto.settings.redact import is_secret_field

    for name in list(fields or {}):
        if is_secret_field(name) and fields is not None:
            fields[name] = SNAPSHOT_REDACTED


def load_registries(
    sources: str | Sequence[str],
    *,
    home: str | os.PathLike[str] | None = None,
    base: str | os.PathLike[str] | None = None,
) -> InferenceRegistry:
    """Read registry ``sources`` (relative paths from ``base``, default the cwd; ``~`` is ``home``).

    Every source must load: the first unreadable one, or a registry slug defined twice, is a
    :class:`ConfigError` here rather than at first use.
    """
    from geppetto.profiles.sources import load_registry_source

    entries = parse_sources(sources)
    home_dir = Path(home) if home is not None else Path(os.environ.get("HOME") or Path.home())
    cwd = Path(base) if base is not None else Path.cwd()
    loaded = [load_registry_source(entry, home_dir, cwd) for entry in entries]
    catalog = Catalog(loaded)
    for source in loaded:
        if source.error:
            raise ConfigError(source.error)
    return InferenceRegistry(catalog, entries)


def configured_registry(
    *,
    default_profile: str | None = None,
    profile_file: str | os.PathLike[str] | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
    where: str = "configured_registry",
) -> InferenceRegistry:
    """The profile sources the host configured, as a registry that the host owns.

    ``resolve(name)`` is :func:`resolve_run_settings` (``default_profile`` when no name is given,
    then ``PINOCCHIO_PROFILE``, config, the default registry's default; like the reference,
    ``{registry}`` alone selects ``default_profile`` in that registry). With no profile source
    at all (only the built-in ``echo``/``local``): ``<where> requires a configured profile registry``.
    """
    from geppetto.profiles.resolve import load_catalog, resolve_run_settings

    options: dict[str, Any] = {
        "profile_file": profile_file,
        "profile_registries": profile_registries,
        "config_file": config_file,
        "environ": environ,
        "home": home,
    }
    catalog = load_catalog(**options)
    configured = [s for s in catalog.sources if s.role != "builtin" and (s.exists or s.explicit)]
    if not configured:
        raise ConfigError(f"{where} requires a configured profile registry")

    def resolver(name: str) -> ResolvedSettings:
        return resolve_run_settings(profile=name or default_profile, **options)

    labels = [s.label for s in configured]
    chosen = default_profile.strip() if default_profile and default_profile.strip() else None
    return InferenceRegistry(catalog, labels, resolver=resolver, owned=False, default_profile=chosen)
