"""Where profiles and config files live, and loading one source without letting its errors escape.

Default locations follow the reference: ``$XDG_CONFIG_HOME`` else ``~/.config``, then
``pinocchio/profiles.yaml`` (pinocchio's profiles), ``geppetto/profiles.yaml`` (this project's),
``geppetto/config.yaml`` and pinocchio's first existing ``config.yaml``. Every loader returns a
:class:`Source` whose ``error`` says what went wrong, so one unreadable file never stops the
others from being read; whether the error matters is decided when a profile is looked up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from geppetto.profiles.formats import looks_like_registry, parse_pinocchio, parse_registry
from geppetto.profiles.model import Source
from geppetto.profiles.sqlite_source import is_sqlite_file, read_sqlite_registries
from geppetto.profiles.yamlio import SourceError, read_yaml


@dataclass(frozen=True, slots=True)
class Locations:
    """Default file locations for one home directory and environment."""

    home: Path
    config_home: Path

    @property
    def pinocchio_profiles(self) -> Path:
        return self.config_home / "pinocchio" / "profiles.yaml"

    @property
    def geppetto_profiles(self) -> Path:
        return self.config_home / "geppetto" / "profiles.yaml"

    @property
    def geppetto_config(self) -> Path:
        return self.config_home / "geppetto" / "config.yaml"

    @property
    def pinocchio_configs(self) -> tuple[Path, ...]:
        """Candidates in the reference's order; the first existing one is read."""
        return (
            self.config_home / "pinocchio" / "config.yaml",
            self.home / ".pinocchio" / "config.yaml",
            Path("/etc/pinocchio/config.yaml"),
        )


def locations(environ: Mapping[str, str], home: str | os.PathLike[str] | None = None) -> Locations:
    home_dir = Path(home) if home is not None else Path(environ.get("HOME") or Path.home())
    xdg = environ.get("XDG_CONFIG_HOME", "").strip()
    return Locations(home=home_dir, config_home=Path(xdg) if xdg else home_dir / ".config")


def expand_path(value: str, home: Path, base: Path | None = None) -> Path:
    """``~`` is ``home`` (not the process's); relative paths are relative to ``base`` (or the cwd)."""
    text = value.strip()
    if text == "~" or text.startswith("~/"):
        return home / text[2:]
    path = Path(text)
    return path if path.is_absolute() or base is None else base / path


def split_sources(value: str | Sequence[str] | None) -> list[str]:
    """``a.yaml,b.db`` or a list of such strings -> individual source specs."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def load_registry_source(spec: str, home: Path, base: Path | None = None) -> Source:
    """One ``--profile-registries`` entry: ``PATH``, ``yaml:PATH``, ``yaml://PATH``, ``sqlite:PATH``
    or ``sqlite-dsn:DSN`` (a bare path is SQLite by extension or header, else YAML)."""
    source = Source(label=spec, role="registries", explicit=True)
    try:
        if spec.startswith("sqlite-dsn:"):
            dsn = spec[len("sqlite-dsn:") :]
            source.label = dsn
            source.registries = read_sqlite_registries(dsn=dsn, label=dsn)
            return source
        kind = ""
        target = spec
        for prefix, prefix_kind in (("yaml://", "yaml"), ("yaml:", "yaml"), ("sqlite:", "sqlite")):
            if spec.startswith(prefix):
                kind, target = prefix_kind, spec[len(prefix) :]
                break
        path = expand_path(target, home, base)
        source.label = str(path)
        if not path.exists():
            source.exists = False
            raise SourceError(f"profile registry {path} does not exist")
        if kind == "sqlite" or (not kind and is_sqlite_file(path)):
            source.registries = read_sqlite_registries(path=path)
        else:
            source.registries = [parse_registry(read_yaml(path), str(path))]
    except SourceError as exc:
        source.error = str(exc)
    return source


def load_profile_file(path: Path, *, role: str, explicit: bool, legacy_slug: str) -> Source:
    """A profile file in either format (pinocchio map or one registry), or a SQLite registry file.

    A missing default file is normal (no error); a missing explicit one is an error.
    """
    source = Source(label=str(path), role=role, explicit=explicit)
    if not path.exists():
        source.exists = False
        if explicit:
            source.error = f"profile file {path} does not exist"
        return source
    try:
        if is_sqlite_file(path):
            source.registries = read_sqlite_registries(path=path)
            return source
        data = read_yaml(path)
        if looks_like_registry(data):
            source.registries = [parse_registry(data, str(path))]
        else:
            source.registries = [parse_pinocchio(data, str(path), legacy_slug)]
    except SourceError as exc:
        source.error = str(exc)
    return source
