"""``InferenceSettings``: registry-resolved settings with their provenance, as the reference hands them out.

What ``InferenceRegistry.resolve`` returns and what ``geppetto.engines.engine_from_settings``
(and JS ``engine().inference(settings)``, ``agent().inference(settings)``) accept. It holds the
resolved :class:`~geppetto.settings.Settings` (never shown raw), the provenance (registry and
profile slugs, stack lineage, sources, the reference's ``profile.*`` metadata) and the profile's
:class:`~geppetto.profiles.model_info.ModelInfo`.

``to_json()`` is the reference's snapshot: the settings in the registry's ``inference_settings``
shape, holding the fields some layer set (so it can be pasted back into a registry file), plus
``model_info``, the carried sections and ``provenance``. Every value under a key named like a
secret (``api_keys``, ``apiKey``, ``token``, ...) is ``[REDACTED]``, wherever it appears.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geppetto.profiles.model_info import ModelInfo
from geppetto.profiles.result import ResolvedSettings
from geppetto.profiles.schema import field_table
from geppetto.settings.sections import Settings

SNAPSHOT_REDACTED = "[REDACTED]"
SECRET_KEYS = frozenset({"api_keys", "apiKeys", "api_key", "apiKey", "key", "secret", "token"})


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where settings came from: the reference's ``registrySlug``/``profileSlug``/``stackLineage``/
    ``sources``/``metadata`` (empty parts are left out of :meth:`to_dict`, as there)."""

    registry_slug: str = ""
    profile_slug: str = ""
    stack_lineage: tuple[dict[str, Any], ...] = ()
    sources: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.registry_slug:
            out["registrySlug"] = self.registry_slug
        if self.profile_slug:
            out["profileSlug"] = self.profile_slug
        if self.stack_lineage:
            out["stackLineage"] = copy.deepcopy(list(self.stack_lineage))
        if self.sources:
            out["sources"] = list(self.sources)
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out


def _version(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def provenance_of(resolved: ResolvedSettings, sources: list[str]) -> Provenance:
    """The reference provenance of a resolved profile (``sources``: the registry sources asked)."""
    lineage = []
    for entry in resolved.lineage:
        item: dict[str, Any] = {"registrySlug": entry.registry, "profileSlug": entry.profile}
        if entry.version:
            item["version"] = _version(entry.version)
        if entry.source:
            item["source"] = entry.source
        lineage.append(item)
    metadata: dict[str, Any] = {}
    if resolved.profile is not None:
        leaf = resolved.lineage[-1] if resolved.lineage else None
        metadata = {
            "profile.registry": resolved.registry or "",
            "profile.slug": resolved.profile,
            "profile.version": _version(leaf.version) if leaf and leaf.version else 0,
            "profile.source": resolved.profile_source or "",
            "profile.stack.lineage": [
                {
                    "registry_slug": e.registry,
                    "profile_slug": e.profile,
                    "version": _version(e.version) if e.version else 0,
                    "source": e.source,
                }
                for e in resolved.lineage
            ],
        }
    return Provenance(
        registry_slug=resolved.registry or "",
        profile_slug=resolved.profile or "",
        stack_lineage=tuple(lineage),
        sources=tuple(sources),
        metadata=metadata,
    )


class InferenceSettings:
    """Resolved settings plus provenance and model info; immutable (``clone()`` gives a copy)."""

    __slots__ = ("_model_info", "_resolved", "provenance")

    def __init__(self, resolved: ResolvedSettings, provenance: Provenance | None = None) -> None:
        self._resolved = resolved
        self.provenance = provenance if provenance is not None else provenance_of(resolved, [])
        info = resolved.model_info
        self._model_info = ModelInfo.from_dict(info) if info else None

    @classmethod
    def from_settings(cls, settings: Settings) -> InferenceSettings:
        """Wrap plain settings (no profile): every field that differs from its default counts as set."""
        from geppetto.profiles.model import Origin

        defaults = Settings()
        origins = {
            name: Origin("flags", "settings")
            for name, (section, attr, _) in field_table().items()
            if getattr(getattr(settings, section), attr) != getattr(getattr(defaults, section), attr)
        }
        for name, value in (*settings.api.api_keys.items(), *settings.api.base_urls.items()):
            if value:
                origins[name] = Origin("flags", "settings")
        return cls(ResolvedSettings(settings=settings.copy(), origins=origins))

    # -- what engines and the JS layer read ------------------------------------------------------

    @property
    def resolved(self) -> ResolvedSettings:
        """The resolution result (settings, per-field origins, environment for key variables)."""
        return self._resolved

    @property
    def settings(self) -> Settings:
        """A copy of the settings (they hold keys: never print them, use :meth:`to_json`)."""
        return self._resolved.settings.copy()

    @property
    def model_info(self) -> ModelInfo | None:
        return self._model_info

    @property
    def extra_sections(self) -> dict[str, Any]:
        """Sections carried for other APIs (``embeddings``, ``rerank``, ``inference``), copied."""
        return copy.deepcopy(self._resolved.extra_sections)

    def mcp_servers(self) -> list[Any]:
        """The profile's ``mcpServers`` as :class:`~geppetto.mcp.MCPServer` objects (for
        ``ToolRegistry.add_mcp``); checked in full here, so a bad entry is a clear ``ConfigError``."""
        if not self._resolved.mcp_servers:
            return []
        from geppetto.mcp import load_mcp_config

        return list(load_mcp_config({"mcpServers": copy.deepcopy(self._resolved.mcp_servers)}))

    @property
    def metadata(self) -> dict[str, Any]:
        """The provenance map engines built from these settings expose (``registrySlug``, ...)."""
        return self.provenance.to_dict()

    # -- the reference wrapper's methods ---------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The redacted snapshot (``chat``, ``api``, ..., ``model_info``) plus ``provenance``."""
        snapshot = self._sections()
        if self._model_info is not None:
            snapshot["model_info"] = self._model_info.to_dict()
        for name, section in self._resolved.extra_sections.items():
            snapshot[name] = {**snapshot.get(name, {}), **copy.deepcopy(section)}
        redact_secrets(snapshot)
        snapshot["provenance"] = self.provenance.to_dict()
        return snapshot

    def clone(self) -> InferenceSettings:
        source = self._resolved
        resolved = dataclasses.replace(
            source,
            settings=source.settings.copy(),
            origins=dict(source.origins),
            model_info=copy.deepcopy(source.model_info),
            extra_sections=copy.deepcopy(source.extra_sections),
        )
        return InferenceSettings(resolved, self.provenance)

    def debug(self) -> dict[str, Any]:
        api = self._resolved.settings.api
        return {
            "kind": "InferenceSettings",
            "snapshot": self.to_json(),
            "provenance": self.provenance.to_dict(),
            "apiKeyNames": sorted(name for name, value in api.api_keys.items() if value),
            "baseURLNames": sorted(name for name, value in api.base_urls.items() if value),
        }

    def _sections(self) -> dict[str, Any]:
        """The set fields in the ``inference_settings`` shape (``chat: {engine: ...}``, ...)."""
        settings = self._resolved.settings
        out: dict[str, Any] = {}
        table = field_table()
        for name in sorted(self._resolved.origins):
            spec = table.get(name)
            if spec is not None:
                section, attr, _ = spec
                value = copy.deepcopy(getattr(getattr(settings, section), attr))
                if section == "api" and attr == "outbound_policy":
                    out.setdefault("api", {})["outbound_policy"] = value
                else:
                    out.setdefault(section, {})[attr] = value
            elif name.endswith("-api-key") and settings.api.api_keys.get(name):
                out.setdefault("api", {}).setdefault("api_keys", {})[name] = settings.api.api_keys[name]
            elif name.endswith("-base-url") and settings.api.base_urls.get(name):
                out.setdefault("api", {}).setdefault("base_urls", {})[name] = settings.api.base_urls[name]
        return out

    def __repr__(self) -> str:
        p = self.provenance
        return f"InferenceSettings(registry={p.registry_slug!r}, profile={p.profile_slug!r})"


def redact_secrets(value: Any) -> None:
    """In place: every value under a secret-named key becomes ``[REDACTED]`` (maps keep their keys)."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key in SECRET_KEYS:
                value[key] = _redacted(child)
            else:
                redact_secrets(child)
    elif isinstance(value, list):
        for child in value:
            redact_secrets(child)


def _redacted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict.fromkeys(value, SNAPSHOT_REDACTED)
    if isinstance(value, list):
        return [SNAPSHOT_REDACTED] * len(value)
    return None if value is None else SNAPSHOT_REDACTED
