"""Data types shared by the profile readers, the catalog and the resolver.

A *profile* is a named set of reference fields (``ai-engine``, ``openai-base-url``, ...) kept flat,
so that every source format (pinocchio's ``profile -> section -> field``, the registry format's
``inference_settings``, SQLite rows, built-ins) ends up in the same shape and the resolver can
record, field by field, which source and which stack layer set a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where a value came from, lowest to highest precedence.
LAYERS = ("default", "profile", "config", "env", "flags")

BUILTIN_SOURCE = "builtin"


@dataclass(frozen=True, slots=True)
class Origin:
    """Who set one field: the precedence layer, the file/variable/flag, and for profile values the
    stack layer (registry and profile slug) that set it."""

    layer: str
    source: str = ""
    registry: str = ""
    profile: str = ""

    def describe(self) -> str:
        if self.layer == "profile":
            return f"profile {self.registry}/{self.profile} ({self.source})"
        if self.layer == "default":
            return "default"
        return f"{self.layer} {self.source}".strip()

    def to_dict(self) -> dict[str, str]:
        out = {"layer": self.layer, "source": self.source}
        if self.layer == "profile":
            out.update(registrySlug=self.registry, profileSlug=self.profile)
        return out


DEFAULT_ORIGIN = Origin("default")


@dataclass(frozen=True, slots=True)
class StackRef:
    """One base profile of a stack; an empty ``registry`` means the referring profile's registry."""

    profile: str
    registry: str = ""


@dataclass(slots=True)
class ProfileEntry:
    """One profile as read from its source, fields already validated.

    ``error`` holds a validation problem found while reading; it is raised only when a run uses
    the profile, so one bad profile never blocks the others in the same file.
    """

    slug: str
    registry: str
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    stack: tuple[StackRef, ...] = ()
    display_name: str = ""
    description: str = ""
    version: str = ""
    error: str = ""
    # registry format only: the declared model (validated), the sections this runtime carries
    # without interpreting (embeddings, rerank, inference), and the document as written (listing)
    model_info: dict[str, Any] | None = None
    extra_sections: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    # registry format only: the profile's own ``mcpServers`` (name -> entry, as in config files)
    mcp_servers: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.slug}"


@dataclass(slots=True)
class Registry:
    """A named set of profiles from one source.

    ``kind`` is ``registry`` (the registry format), ``pinocchio`` (a legacy profile map) or
    ``builtin``. Only the registry format has an implicit default profile (``default`` if present,
    else the alphabetically first); a pinocchio file's default is its ``default`` profile, if any.
    """

    slug: str
    source: str
    kind: str
    profiles: dict[str, ProfileEntry] = field(default_factory=dict)
    display_name: str = ""
    description: str = ""

    @property
    def default_profile(self) -> str | None:
        if "default" in self.profiles:
            return "default"
        if self.kind == "registry" and self.profiles:
            return min(self.profiles)
        return None


@dataclass(slots=True)
class Source:
    """One place profiles are read from, with what it held or why it could not be read.

    ``explicit`` sources were named by the user (flag, environment or config); a broken explicit
    source fails the runs that may need it, a broken implicit one (a default path) only warns
    unless the requested profile is found nowhere else.
    """

    label: str
    role: str  # registries | profile-file | geppetto-profiles | builtin
    explicit: bool = False
    registries: list[Registry] = field(default_factory=list)
    error: str = ""
    exists: bool = True


@dataclass(frozen=True, slots=True)
class LineageEntry:
    """One layer of a resolved stack, base first."""

    registry: str
    profile: str
    source: str
    version: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"registrySlug": self.registry, "profileSlug": self.profile, "source": self.source}
        if self.version:
            out["version"] = self.version
        return out
