"""All profile sources of a run, in precedence order, with lookup and stack expansion.

Precedence of sources (a name found in an earlier one wins): ``--profile-registries`` sources
(later ones first), the explicit profile file (``--profile-file``/``PINOCCHIO_PROFILE_FILE``/config),
``~/.config/geppetto/profiles.yaml``, pinocchio's default ``profiles.yaml`` (replaced by an explicit
profile file), then the built-ins. ``registry/profile`` names one registry explicitly.

Broken sources are kept with their error. A lookup raises a broken *explicit* source's error when
that source ranks above the match (it might have defined the profile) and anyone's error when
the profile is found nowhere; a broken default file otherwise only produces a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geppetto.errors import ConfigError
from geppetto.profiles.formats import normalize_slug
from geppetto.profiles.model import ProfileEntry, Registry, Source

MAX_STACK_DEPTH = 32


@dataclass(slots=True)
class Lookup:
    """Result of finding a profile: the entry (or ``None``) and the broken sources passed over.

    ``blocking`` are broken explicit sources ranked above the match (or all of them when nothing
    matched): they fail the run. ``skipped`` are broken default files: a warning, unless the
    requested profile is found nowhere.
    """

    entry: ProfileEntry | None
    blocking: list[Source] = field(default_factory=list)
    skipped: list[Source] = field(default_factory=list)


class Catalog:
    """Sources in load order (``registries`` in the order given, then the others by precedence)."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        registries = [s for s in sources if s.role == "registries"]
        others = [s for s in sources if s.role != "registries"]
        self.priority: list[Source] = [*reversed(registries), *others]
        self._mark_duplicates()

    def _mark_duplicates(self) -> None:
        """A registry slug defined twice: the later source (in load order) becomes unusable."""
        owners: dict[str, str] = {}
        for source in self.sources:
            if source.error:
                continue
            for registry in source.registries:
                if registry.kind != "registry":
                    continue
                if registry.slug in owners:
                    source.error = (
                        f"{source.label}: duplicate registry slug {registry.slug!r} "
                        f"(already defined by {owners[registry.slug]})"
                    )
                    break
            if not source.error:
                for registry in source.registries:
                    owners.setdefault(registry.slug, source.label)

    # -- lookups ---------------------------------------------------------------------------

    def broken(self) -> list[Source]:
        return [s for s in self.priority if s.error]

    def registries(self) -> list[Registry]:
        """Usable registries, highest precedence first."""
        return [r for s in self.priority if not s.error for r in s.registries]

    def registry(self, slug: str) -> Registry | None:
        return next((r for r in self.registries() if r.slug == slug), None)

    def find(self, name: str) -> Lookup:
        """The profile a run selecting ``name`` gets (see the module docstring)."""
        registry_part, _, profile_part = name.rpartition("/")
        scoped = bool(registry_part) and any(
            r.slug == registry_part for s in self.priority for r in s.registries
        )
        result = Lookup(entry=None)
        for source in self.priority:
            if source.error:
                if not scoped or any(r.slug == registry_part for r in source.registries):
                    (result.blocking if source.explicit else result.skipped).append(source)
                continue
            for registry in source.registries:
                if scoped and registry.slug != registry_part:
                    continue
                entry = _profile_in(registry, profile_part if scoped else name)
                if entry is not None:
                    result.entry = entry
                    return result
        return result

    def get(self, registry_slug: str, profile_slug: str) -> ProfileEntry | None:
        registry = self.registry(registry_slug)
        return None if registry is None else _profile_in(registry, profile_slug)

    def default_registry(self) -> Registry | None:
        """The first registry of the last ``--profile-registries`` source (the reference's rule)."""
        for source in self.priority:
            if source.role != "registries":
                return None
            if source.error:
                raise ConfigError(source.error)
            if source.registries:
                return source.registries[0]
        return None

    def known_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for registry in self.registries():
            for slug in sorted(registry.profiles):
                seen.setdefault(slug, None)
        return list(seen)

    def listing(self) -> list[tuple[str, ProfileEntry]]:
        """Every profile with the name that selects it (``registry/slug`` when shadowed)."""
        rows: list[tuple[str, ProfileEntry]] = []
        taken: set[str] = set()
        for registry in self.registries():
            for slug in sorted(registry.profiles):
                name = slug if slug not in taken else f"{registry.slug}/{slug}"
                taken.add(slug)
                rows.append((name, registry.profiles[slug]))
        return rows

    def summary(self, entry: ProfileEntry) -> tuple[str, str, str]:
        """Provider, model and problem (``""`` if none) of ``entry`` with its stack merged: what
        ``profiles list`` and the web chat's picker show."""
        from geppetto.settings.apitypes import infer_api_type, normalize_api_type

        try:
            layers = self.expand(entry)
        except ConfigError as exc:
            return "invalid", "", str(exc)
        fields: dict[str, Any] = {}
        for layer in layers:
            fields.update(layer.fields)
        model = str(fields.get("ai-engine") or "")
        api_type = str(fields.get("ai-api-type") or "")
        if api_type:
            provider = normalize_api_type(api_type)
        elif model:
            provider = "local" if model.lower().endswith(".gguf") else infer_api_type(model)
        else:
            provider = "(default)"
        return provider, model, ""

    # -- stacks ----------------------------------------------------------------------------

    def expand(self, leaf: ProfileEntry) -> list[ProfileEntry]:
        """The stack of ``leaf``, base first, leaf last; each profile once (depth-first)."""
        layers: list[ProfileEntry] = []
        visited: set[tuple[str, str]] = set()
        path: list[tuple[str, str]] = []

        def walk(entry: ProfileEntry) -> None:
            if entry.error:
                raise ConfigError(entry.error)
            current = (entry.registry, entry.slug)
            path.append(current)
            for index, ref in enumerate(entry.stack):
                target = (ref.registry or entry.registry, ref.profile)
                where = f"{entry.source}: profile {entry.ref}: stack[{index}]"
                chain = " -> ".join("/".join(p) for p in [*path, target])
                if target in path:
                    start = path.index(target)
                    cycle = " -> ".join("/".join(p) for p in [*path[start:], target])
                    raise ConfigError(f"{where}: stack cycle detected: {cycle}")
                if len(path) + 1 > MAX_STACK_DEPTH:
                    raise ConfigError(f"{where}: stack depth exceeds {MAX_STACK_DEPTH} ({chain})")
                if target in visited:
                    continue
                base = self.get(*target)
                if base is None:
                    raise ConfigError(f"{where}: {self._missing_ref(*target)}")
                walk(base)
            path.pop()
            visited.add(current)
            layers.append(entry)

        walk(leaf)
        return layers

    def _missing_ref(self, registry_slug: str, profile_slug: str) -> str:
        if self.registry(registry_slug) is None:
            message = f"referenced registry {registry_slug!r} not found"
        else:
            message = f"referenced profile {profile_slug!r} not found in registry {registry_slug!r}"
        broken = self.broken()
        if broken:
            message += " (unreadable sources: " + "; ".join(s.error for s in broken) + ")"
        return message


def _profile_in(registry: Registry, name: str) -> ProfileEntry | None:
    entry = registry.profiles.get(name)
    if entry is None and registry.kind == "registry":
        slug = normalize_slug(name)
        entry = registry.profiles.get(slug) if slug else None
    return entry
