"""Config files: ``~/.config/geppetto/config.yaml`` and pinocchio's ``config.yaml``.

Format (the reference's): ``section slug -> field -> value``, plus ``profile-settings`` with
``profile``, ``profile-file`` and ``profile-registries`` to select profiles. Pinocchio's file also
holds settings of pinocchio's own commands, so unknown sections are skipped there (``repositories``
always is); in geppetto's file they are errors. Known fields at the top level are accepted (older
flat files). Pinocchio's file is the first existing of ``$XDG_CONFIG_HOME/pinocchio``,
``~/.pinocchio`` and ``/etc/pinocchio``; geppetto's values win over pinocchio's, and a file named
with ``--config-file`` wins over both.

An ``mcpServers`` key (the Claude Desktop / Cursor object) names MCP servers for ``infer``,
``chat``, ``rpc`` and ``mcp list|call``; it is kept as read (:mod:`geppetto.mcp` checks it) and a
server named in a later file replaces the same-named one of an earlier file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geppetto.profiles.schema import layers_to_fields, suggest
from geppetto.profiles.sources import Locations, expand_path, split_sources
from geppetto.profiles.yamlio import SourceError, read_yaml

_SELECTION_KEYS = ("profile", "profile-file", "profile-registries")
MCP_SERVERS_KEY = "mcpServers"


@dataclass(slots=True)
class ConfigFile:
    """What one config file sets: settings fields and profile selection (paths already expanded)."""

    path: Path
    fields: dict[str, Any] = field(default_factory=dict)
    profile: str = ""
    profile_file: str = ""
    profile_registries: list[str] = field(default_factory=list)
    mcp_servers: dict[str, Any] = field(default_factory=dict)


def read_config(path: Path, *, home: Path, strict: bool) -> ConfigFile | None:
    """``None`` when ``path`` does not exist; :class:`SourceError` naming the file when invalid."""
    if not path.exists():
        return None
    if path.is_dir():
        raise SourceError(f"{path} is a directory, not a config file")
    data = read_yaml(path)  # also a pipe or device (<(...), /dev/stdin), read up to the size limit
    config = ConfigFile(path=path)
    if data is None:
        return config
    if not isinstance(data, Mapping):
        raise SourceError(f"{path}: expected a mapping of section: fields, got {type(data).__name__}")
    selection = data.get("profile-settings")
    if selection is not None:
        _read_selection(config, selection, home)
    servers = data.get(MCP_SERVERS_KEY)
    if servers is not None:
        if not isinstance(servers, Mapping):
            raise SourceError(f"{path}: {MCP_SERVERS_KEY} must be a mapping of server name: settings")
        config.mcp_servers = {str(name): entry for name, entry in servers.items()}
    rest = {key: value for key, value in data.items() if key not in ("profile-settings", MCP_SERVERS_KEY)}
    config.fields, errors = layers_to_fields(rest, strict_sections=strict, allow_flat=True)
    if errors:
        raise SourceError(f"{path}: " + "; ".join(errors))
    return config


def _read_selection(config: ConfigFile, selection: Any, home: Path) -> None:
    where = f"{config.path}: profile-settings"
    if not isinstance(selection, Mapping):
        raise SourceError(f"{where} must be a mapping")
    base = config.path.parent
    for raw_key, value in selection.items():
        key = str(raw_key).strip().replace("_", "-")
        if key not in _SELECTION_KEYS:
            raise SourceError(f"{where}: unknown field {raw_key!r}{suggest(key, _SELECTION_KEYS)}")
        if value is None:
            continue
        if key == "profile-registries":
            if not isinstance(value, str | list):
                raise SourceError(f"{where}: profile-registries must be a string or a list")
            config.profile_registries = [_expand_source(s, home, base) for s in split_sources(value)]
            continue
        if not isinstance(value, str):
            raise SourceError(f"{where}: {key} must be a string, got {type(value).__name__}")
        if key == "profile":
            config.profile = value.strip()
        elif value.strip():
            config.profile_file = str(expand_path(value, home, base))


def _expand_source(spec: str, home: Path, base: Path) -> str:
    """Relative registry paths in a config file are relative to that file."""
    for prefix in ("yaml://", "yaml:", "sqlite:"):
        if spec.startswith(prefix):
            return prefix + str(expand_path(spec[len(prefix) :], home, base))
    if spec.startswith("sqlite-dsn:"):
        return spec
    return str(expand_path(spec, home, base))


def configured_mcp_servers(
    config_file: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[Path]]:
    """The merged ``mcpServers`` of the config files (later files win per name) and the files
    that set any; reads the files only, imports nothing of ``mcp``."""
    import os

    from geppetto.profiles.sources import locations

    env = os.environ if environ is None else environ
    locs = locations(env)
    explicit = expand_path(config_file, locs.home, Path.cwd()) if config_file else None
    merged: dict[str, Any] = {}
    files: list[Path] = []
    for config in read_configs(locs, explicit):
        if config.mcp_servers:
            merged.update(config.mcp_servers)
            files.append(config.path)
    return merged, files


def read_configs(locs: Locations, explicit: Path | None = None) -> list[ConfigFile]:
    """The config files that exist, lowest precedence first (pinocchio's, then geppetto's, then
    ``explicit``: the ``--config-file`` the user named, which must exist)."""
    found: list[ConfigFile] = []
    for candidate in locs.pinocchio_configs:
        config = read_config(candidate, home=locs.home, strict=False)
        if config is not None:
            found.append(config)
            break
    config = read_config(locs.geppetto_config, home=locs.home, strict=True)
    if config is not None:
        found.append(config)
    if explicit is not None:
        # Lenient like pinocchio's own file: a pinocchio config may be named here.
        named = read_config(explicit, home=locs.home, strict=False)
        if named is None:
            raise SourceError(f"--config-file: no such file: {explicit}")
        found.append(named)
    return found
