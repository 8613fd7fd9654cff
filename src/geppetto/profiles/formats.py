"""The two profile file formats: pinocchio's profile map and the registry format.

Pinocchio (``~/.config/pinocchio/profiles.yaml``)::

    gemini-2.5-flash-lite:
      ai-chat: {ai-engine: gemini-2.5-flash-lite, ai-api-type: gemini}

Registry (one registry per YAML file or SQLite row)::

    slug: workspace
    profiles:
      fast:
        stack: [{profile_slug: base}]
        inference_settings: {chat: {api_type: openai, engine: gpt-4o-mini}}

A problem inside one profile is recorded on that profile (raised only if a run uses it); a problem
with the registry as a whole (no slug, bad slugs, wrong shape) makes the whole source unusable.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from geppetto.profiles.model import ProfileEntry, Registry, StackRef
from geppetto.profiles.model_info import check_model_info
from geppetto.profiles.schema import inference_settings_to_fields, layers_to_fields, suggest
from geppetto.profiles.yamlio import SourceError

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$")
PINOCCHIO_REGISTRY = "pinocchio"
# inference_settings sections carried as written (merged over the stack) for the APIs that read them
CARRIED_SECTIONS = ("embeddings", "rerank", "inference")

_REGISTRY_KEYS = ("slug", "display_name", "description", "profiles", "metadata")
_PROFILE_KEYS = (
    "slug",
    "display_name",
    "description",
    "stack",
    "inference_settings",
    "metadata",
    "extensions",
    "runtime",
    "mcpServers",
)
_PROFILE_HINTS = frozenset({"inference_settings", "stack", "display_name", "description", "extensions"})


def normalize_slug(value: object) -> str | None:
    """The slug rules: trimmed, lower-cased, ``[a-z0-9]`` at both ends, ``._-`` inside, <= 128 chars."""
    if not isinstance(value, str):
        return None
    slug = value.strip().lower()
    return slug if SLUG_PATTERN.match(slug) else None


def _slug_error(what: str, value: object) -> str:
    return (
        f"invalid {what} slug {str(value)!r}: use lower-case letters, digits, '.', '_' and '-' "
        "(starting and ending with a letter or digit, at most 128 characters)"
    )


def looks_like_registry(data: Any) -> bool:
    """Whether a parsed YAML document is in the registry format (else: a pinocchio profile map)."""
    if not isinstance(data, Mapping):
        return False
    if isinstance(data.get("slug"), str) or "registries" in data or "default_profile_slug" in data:
        return True
    profiles = data.get("profiles")
    return isinstance(profiles, Mapping) and any(
        isinstance(p, Mapping) and _PROFILE_HINTS & set(map(str, p)) for p in profiles.values()
    )


def parse_pinocchio(data: Any, label: str, registry: str = PINOCCHIO_REGISTRY) -> Registry:
    """A pinocchio profile map (``profile -> section slug -> field -> value``); names are kept as-is."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SourceError(f"{label}: expected a mapping of profile names, got {type(data).__name__}")
    result = Registry(slug=registry, source=label, kind="pinocchio")
    for raw_name, layers in data.items():
        name = str(raw_name).strip()
        entry = ProfileEntry(slug=name, registry=registry, source=label)
        if layers is None:
            layers = {}
        if not isinstance(layers, Mapping):
            entry.error = f"{label}: profile {name}: expected a mapping of section: fields"
        else:
            entry.fields, errors = layers_to_fields(layers)
            if errors:
                entry.error = f"{label}: profile {name}: " + "; ".join(errors)
        result.profiles[name] = entry
    return result


def parse_registry(data: Any, label: str) -> Registry:
    """One registry document; :class:`SourceError` when the registry as a whole is invalid."""
    if not isinstance(data, Mapping):
        raise SourceError(f"{label}: a profile registry must be a mapping, got {type(data).__name__}")
    if "registries" in data:
        raise SourceError(f"{label}: top-level registries is not supported: put one registry per file")
    if "default_profile_slug" in data:
        raise SourceError(
            f"{label}: default_profile_slug is not supported in YAML: the default profile is "
            "'default' if present, else the alphabetically first"
        )
    if "slug" not in data:
        if "profiles" not in data:
            raise SourceError(
                f"{label}: legacy profile-map format is not supported in a registry source "
                "(pass it with --profile-file instead)"
            )
        raise SourceError(f"{label}: missing slug: a registry needs 'slug: <name>'")
    slug = normalize_slug(data["slug"])
    if slug is None:
        raise SourceError(f"{label}: {_slug_error('registry', data['slug'])}")
    for key in data:
        if str(key) not in _REGISTRY_KEYS:
            raise SourceError(
                f"{label}: registry {slug}: unknown key {key!r}{suggest(str(key), _REGISTRY_KEYS)}"
            )
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, Mapping):
        raise SourceError(f"{label}: registry {slug}: profiles must be a mapping of slug: profile")
    result = Registry(
        slug=slug,
        source=label,
        kind="registry",
        display_name=str(data.get("display_name") or ""),
        description=str(data.get("description") or ""),
    )
    for raw_key, body in profiles.items():
        key = normalize_slug(raw_key)
        if key is None:
            raise SourceError(f"{label}: registry {slug}: {_slug_error('profile', raw_key)}")
        if key in result.profiles:
            raise SourceError(f"{label}: registry {slug}: duplicate profile slug {key!r}")
        result.profiles[key] = _parse_profile(key, body, slug, label)
    return result


def _parse_profile(key: str, body: Any, registry: str, label: str) -> ProfileEntry:
    entry = ProfileEntry(slug=key, registry=registry, source=label)
    where = f"{label}: profile {registry}/{key}: "
    if body is None:
        return entry
    if not isinstance(body, Mapping):
        entry.error = where + f"expected a mapping, got {type(body).__name__}"
        return entry
    errors: list[str] = []
    for name in body:
        if str(name) not in _PROFILE_KEYS:
            errors.append(f"unknown key {name!r}{suggest(str(name), _PROFILE_KEYS)}")
    if "slug" in body and normalize_slug(body["slug"]) != key:
        errors.append(f"slug {str(body['slug'])!r} does not match its key {key!r}")
    entry.display_name = str(body.get("display_name") or "")
    entry.description = str(body.get("description") or "")
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("version") is not None:
        entry.version = str(metadata["version"])
    entry.stack = _parse_stack(body.get("stack"), errors)
    entry.mcp_servers = _parse_mcp_servers(body.get("mcpServers"), errors)
    settings = body.get("inference_settings")
    if isinstance(settings, Mapping):
        entry.fields, problems = inference_settings_to_fields(settings)
        errors.extend(problems)
        _carried_sections(entry, settings, errors)
    elif settings is not None:
        errors.append(f"inference_settings must be a mapping, got {type(settings).__name__}")
    if errors:
        entry.error = where + "; ".join(errors)
    entry.document = {str(k): copy.deepcopy(v) for k, v in body.items()}
    return entry


def _carried_sections(entry: ProfileEntry, settings: Mapping[Any, Any], errors: list[str]) -> None:
    """``model_info`` (validated) and the sections kept as written for the API that uses them."""
    info = settings.get("model_info")
    if info is not None:
        problems = check_model_info(info)
        errors.extend(problems)
        if not problems:
            entry.model_info = copy.deepcopy(dict(info))
    for name in CARRIED_SECTIONS:
        value = settings.get(name)
        if isinstance(value, Mapping):
            entry.extra_sections[name] = copy.deepcopy(dict(value))
    api = settings.get("api")
    if isinstance(api, Mapping):  # per-service access (embeddings, rerank): see settings.service_access
        keys = ("allow_http", "allow_local_networks")
        access = {key: copy.deepcopy(api[key]) for key in keys if key in api}
        if access:
            entry.extra_sections["api"] = access


def _parse_mcp_servers(servers: Any, errors: list[str]) -> dict[str, Any]:
    """A profile's ``mcpServers`` (the config files' object): checked for shape here, each entry
    in full by :func:`geppetto.mcp.load_mcp_config` when a run starts the servers."""
    if servers is None:
        return {}
    if not isinstance(servers, Mapping) or not all(isinstance(v, Mapping) for v in servers.values()):
        errors.append('mcpServers must map server names to {"command": ...} or {"url": ...} objects')
        return {}
    return {str(name): copy.deepcopy(dict(entry)) for name, entry in servers.items()}


def _parse_stack(stack: Any, errors: list[str]) -> tuple[StackRef, ...]:
    if stack is None:
        return ()
    if not isinstance(stack, list):
        errors.append("stack must be a list of {registry_slug, profile_slug}")
        return ()
    refs: list[StackRef] = []
    for index, item in enumerate(stack):
        registry: object = ""
        profile: object = None
        if isinstance(item, str):
            registry, _, profile = item.rpartition("/")
        elif isinstance(item, Mapping):
            registry = item.get("registry_slug") or ""
            profile = item.get("profile_slug")
        else:
            errors.append(f"stack[{index}] must be a mapping with profile_slug")
            continue
        profile_slug = normalize_slug(profile)
        registry_slug = normalize_slug(registry) if registry else ""
        if profile_slug is None:
            errors.append(f"stack[{index}]: {_slug_error('profile', profile)}")
        elif registry_slug is None:
            errors.append(f"stack[{index}]: {_slug_error('registry', registry)}")
        else:
            refs.append(StackRef(profile=profile_slug, registry=registry_slug))
    return tuple(refs)
