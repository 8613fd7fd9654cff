"""The resolved settings of a run and how they are shown: values with provenance, keys redacted.

The provenance shape follows the reference's ``InferenceSettings`` wrapper (``registrySlug``,
``profileSlug``, ``stackLineage``, ``sources``) plus ``values``: for every field that is not at its
default, the layer (``profile``/``config``/``env``/``flags``) and source that set it, and for
profile values the stack layer. Secret values are replaced by ``REDACTED`` everywhere here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from geppetto.profiles.model import DEFAULT_ORIGIN, LineageEntry, Origin
from geppetto.profiles.schema import field_table
from geppetto.settings.redact import REDACTED, is_secret_field, redact_text
from geppetto.settings.sections import Settings

if TYPE_CHECKING:
    from geppetto.profiles.catalog import Catalog
    from geppetto.profiles.config import ConfigFile
    from geppetto.profiles.model_info import ModelInfo


@dataclass(slots=True)
class ResolvedSettings:
    """Merged settings, where each value came from, and which profile was selected (and how)."""

    settings: Settings
    origins: dict[str, Origin] = field(default_factory=dict)
    profile: str | None = None
    registry: str | None = None
    profile_source: str | None = None
    selected_by: str = ""
    lineage: list[LineageEntry] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    # the stack's merged model_info and carried sections (registry format; see profiles.model_info)
    model_info: dict[str, Any] | None = None
    extra_sections: dict[str, Any] = field(default_factory=dict)
    # the stack's ``mcpServers``, base to leaf: a layer's entry replaces a lower one of that name
    mcp_servers: dict[str, Any] = field(default_factory=dict)

    def pricing(self) -> ModelInfo | None:
        """The stack's ``model_info`` as an object (what prices a run), ``None`` if none is declared."""
        from geppetto.profiles.model_info import ModelInfo

        return ModelInfo.from_dict(self.model_info) if self.model_info else None

    def origin(self, name: str) -> Origin:
        return self.origins.get(name, DEFAULT_ORIGIN)

    def is_set(self, name: str) -> bool:
        """Whether ``name`` was set by any layer above the defaults."""
        return name in self.origins

    def secrets(self) -> list[str]:
        return [value for value in self.settings.api.api_keys.values() if value]

    def redact(self, text: str) -> str:
        return redact_text(text, self.secrets())

    def values(self, *, include_defaults: bool = False) -> list[tuple[str, Any, Origin]]:
        """``(field, shown value, origin)`` sorted by field; secrets redacted."""
        names = set(self.origins)
        if include_defaults:
            names.update(field_table())
        return [(name, shown_value(self.settings, name), self.origin(name)) for name in sorted(names)]

    def provenance(self) -> dict[str, Any]:
        return {
            "registrySlug": self.registry,
            "profileSlug": self.profile,
            "profileSource": self.profile_source,
            "selectedBy": self.selected_by,
            "stackLineage": [entry.to_dict() for entry in self.lineage],
            "sources": list(self.sources),
            "values": {name: origin.to_dict() for name, origin in sorted(self.origins.items())},
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the redacted settings snapshot (by section slug) and the provenance."""
        return {
            "profile": self.profile,
            "settings": self.settings.to_dict(redact=True),
            "provenance": self.provenance(),
            "warnings": [self.redact(w) for w in self.warnings],
        }

    def __repr__(self) -> str:
        return f"ResolvedSettings(profile={self.profile!r}, settings={self.settings!r})"


def engine_api_type(resolved: ResolvedSettings) -> str:
    """The API type the engine will use (``""``: the engine factory's default)."""
    chat = resolved.settings.chat
    if chat.api_type.strip():
        return chat.api_type.strip().lower()
    model = chat.engine.strip()
    if not model:
        return ""
    if model.lower().endswith(".gguf"):
        return "local"
    return resolved.settings.resolved_api_type()


def shown_value(settings: Settings, name: str) -> Any:
    """The current value of field ``name`` for display (secrets as ``REDACTED``)."""
    spec = field_table().get(name)
    if spec is not None:
        value = getattr(getattr(settings, spec[0]), spec[1])
    elif name.endswith("-api-key"):
        value = settings.api.api_keys.get(name, "")
    else:
        value = settings.api.base_urls.get(name, "")
    if is_secret_field(name) and value:
        return REDACTED
    return value


def _credential_values(values: Mapping[str, Any]) -> Iterable[str]:
    for name, value in values.items():
        if is_secret_field(str(name)) and isinstance(value, str | int) and str(value).strip():
            yield str(value).strip()


def collect_secrets(
    catalog: Catalog | None, environ: Mapping[str, str], configs: Iterable[ConfigFile] = ()
) -> list[str]:
    """Every key value a message could leak: from profiles, config files and the environment."""
    found: set[str] = set(_credential_values({k: v for k, v in environ.items() if is_secret_field(k)}))
    for config in configs:
        found.update(_credential_values(config.fields))
    if catalog is not None:
        for source in catalog.sources:
            for registry in source.registries:
                for entry in registry.profiles.values():
                    found.update(_credential_values(entry.fields))
    return sorted(found)
