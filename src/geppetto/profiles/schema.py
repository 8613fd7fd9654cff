"""What profile and config files may contain, and turning their sections into flat fields.

Two shapes are read: pinocchio's ``section slug -> field -> value`` (``ai-chat: {ai-engine: ...}``)
and the registry format's ``inference_settings`` (``chat: {engine: ...}, api: {api_keys: {...}}``).
Both become ``{reference field: value}``. Reference sections and fields this runtime does not
model (caching, embeddings, ``ai-inference`` overrides, ...) are accepted and ignored so existing
files keep loading; anything else unknown is an error that names it and suggests a close match.
Error texts never quote a value: a misplaced key must not end up in a message.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from geppetto.errors import ConfigError
from geppetto.settings import fields as settings_fields
from geppetto.settings.apitypes import ALIASES, SPECS
from geppetto.settings.sections import SECTION_SLUGS

# Reference sections with no effect here; any field inside them is accepted.
IGNORED_SECTIONS = frozenset(
    {"embeddings", "ai-inference", "ollama-model", "rerank", "profile-settings", "model_info", "inference"}
)
# Reference fields of modelled sections that have no effect here.
IGNORED_FIELDS = frozenset(
    {"ai-cache-type", "ai-cache-max-size", "ai-cache-max-entries", "ai-cache-directory"}
)
_EXTRA_KEY_PREFIXES = ("embeddings", "rerank")

# inference_settings section names (and their slugs) -> Settings attribute.
_INFERENCE_SECTIONS = {name: name for name in SECTION_SLUGS} | {
    slug: name for name, slug in SECTION_SLUGS.items()
}
_TIMEOUT_ALIASES = ("timeout_second", "timeout_seconds")
_IGNORED_API_KEYS = frozenset({"allow_http", "allow_local_networks"})


@functools.cache
def field_table() -> dict[str, tuple[str, str, str]]:
    """``field -> (Settings section attribute, attribute, kind)`` for every modelled field."""
    specs = settings_fields.field_specs()
    return {name: (spec.section, spec.attr, spec.kind) for name, spec in specs.items()}


@functools.cache
def _attr_fields() -> dict[tuple[str, str], str]:
    return {(section, attr): name for name, (section, attr, _) in field_table().items()}


@functools.cache
def key_prefixes() -> frozenset[str]:
    return frozenset((*SPECS, *ALIASES, *_EXTRA_KEY_PREFIXES))


def normalize_field(name: object) -> str:
    return str(name).strip().lower().replace("_", "-")


def suggest(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or ``""``."""
    match = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _credential_kind(name: str) -> str:
    for suffix in ("-api-key", "-base-url"):
        if name.endswith(suffix):
            return suffix
    return ""


def _all_field_names() -> list[str]:
    names = set(field_table()) | IGNORED_FIELDS
    for prefix in key_prefixes():
        names.update((f"{prefix}-api-key", f"{prefix}-base-url"))
    return sorted(names)


def _section_fields(section: str) -> list[str]:
    names = [name for name, (sec, _, _) in field_table().items() if sec == section]
    if section == "chat":
        names.extend(IGNORED_FIELDS)
    return names


_GOT = re.compile(r",? got .*$", re.DOTALL)


def check_value(name: str, value: Any) -> str:
    """``""`` if ``value`` fits field ``name``, else why not (without quoting the value)."""
    if _credential_kind(name) and name not in field_table():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return ""
        return f"invalid value for {name}: expected a string, got {type(value).__name__}"
    spec = field_table().get(name)
    if spec is None:
        return ""
    kind = spec[2]
    if kind.endswith("str") and not isinstance(value, str | int | float):
        return f"invalid value for {name}: expected a string, got {type(value).__name__}"
    try:
        settings_fields.coerce(name, kind, value)
    except ConfigError as exc:
        if kind.removeprefix("opt") in ("int", "float"):
            return str(exc)  # numeric errors show only numbers (geppetto.settings.numbers)
        return _GOT.sub("", str(exc)) + f", got {type(value).__name__}"
    return ""


def check_field(name: str, section: str | None) -> str:
    """``""`` if ``name`` is a known (or accepted reference) field, else an error with a suggestion."""
    if name in field_table() or name in IGNORED_FIELDS:
        return ""
    kind = _credential_kind(name)
    if kind and name[: -len(kind)] in key_prefixes():
        return ""
    candidates = _section_fields(section) if section else []
    hint = suggest(name, candidates) or suggest(name, _all_field_names())
    where = f" in section {SECTION_SLUGS.get(section, section)}" if section else ""
    return f"unknown field {name!r}{where}{hint}"


def layers_to_fields(
    data: Mapping[Any, Any], *, strict_sections: bool = True, allow_flat: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Flatten ``section slug -> field -> value``; returns the fields and the problems found.

    ``strict_sections=False`` (pinocchio's ``config.yaml``, which also holds other tools'
    settings) skips unknown sections instead of reporting them. ``allow_flat`` accepts known
    fields at the top level (older config files).
    """
    out: dict[str, Any] = {}
    errors: list[str] = []
    slug_sections = settings_fields.SLUG_SECTIONS
    for raw_slug, values in data.items():
        slug = str(raw_slug).strip()
        if slug in IGNORED_SECTIONS or slug == "repositories":
            continue
        if allow_flat and not isinstance(values, Mapping):
            name = normalize_field(slug)
            problem = check_field(name, None)
            if not problem:
                _add(out, errors, name, values, None)
            elif strict_sections:
                errors.append(problem)
            continue
        if slug not in slug_sections:
            if strict_sections:
                known = [*slug_sections, *IGNORED_SECTIONS]
                errors.append(f"unknown section {slug!r}{suggest(slug, known)}")
            continue
        if values is None:
            continue
        if not isinstance(values, Mapping):
            errors.append(f"section {slug} must be a mapping of field: value, got {type(values).__name__}")
            continue
        section = slug_sections[slug]
        if section == "api":
            _api_section(values, out, errors)
            continue
        for raw_name, value in values.items():
            _add(out, errors, normalize_field(raw_name), value, section)
    return out, errors


def _add(out: dict[str, Any], errors: list[str], name: str, value: Any, section: str | None) -> None:
    problem = check_field(name, section)
    if not problem and value is not None and name not in IGNORED_FIELDS:
        problem = check_value(name, value)
        if not problem:
            out[name] = value
    if problem:
        errors.append(problem)


def _api_section(values: Mapping[Any, Any], out: dict[str, Any], errors: list[str]) -> None:
    for raw_key, content in values.items():
        key = str(raw_key).strip()
        if key in _IGNORED_API_KEYS:
            continue
        if key in ("api_keys", "base_urls"):
            if content is None:
                continue
            if not isinstance(content, Mapping):
                errors.append(f"api.{key} must be a mapping, got {type(content).__name__}")
                continue
            suffix = "-api-key" if key == "api_keys" else "-base-url"
            for raw_name, value in content.items():
                name = normalize_field(raw_name)
                if not name.endswith(suffix):
                    errors.append(f"api.{key}: entry {name!r} must be named <type>{suffix}")
                    continue
                _add(out, errors, name, value, "api")
        elif key in ("outbound_policy", "outbound-policy"):
            _add(out, errors, "outbound-policy", content, "api")
        else:
            errors.append(f"unknown field {key!r} in section api{suggest(key, ['api_keys', 'base_urls'])}")


def inference_settings_to_fields(data: Mapping[Any, Any]) -> tuple[dict[str, Any], list[str]]:
    """Flatten a registry profile's ``inference_settings`` (``chat: {engine: ...}`` and friends)."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    for raw_section, values in data.items():
        name = str(raw_section).strip()
        if name in IGNORED_SECTIONS:
            continue
        section = _INFERENCE_SECTIONS.get(name)
        if section is None:
            known = [*SECTION_SLUGS, *IGNORED_SECTIONS]
            errors.append(f"unknown section {name!r} in inference_settings{suggest(name, known)}")
            continue
        if values is None:
            continue
        if not isinstance(values, Mapping):
            errors.append(f"inference_settings.{name} must be a mapping, got {type(values).__name__}")
            continue
        if section == "api":
            _api_section(values, out, errors)
            continue
        for raw_key, value in values.items():
            key = str(raw_key).strip()
            field_name = _attr_fields().get((section, key))
            if field_name is None and section == "client" and key in _TIMEOUT_ALIASES:
                field_name = "timeout"
            if field_name is None:
                field_name = normalize_field(key)
                if field_name not in field_table() and not _credential_kind(field_name):
                    attrs = [attr for (sec, attr) in _attr_fields() if sec == section]
                    errors.append(f"unknown field {key!r} in inference_settings.{name}{suggest(key, attrs)}")
                    continue
            _add(out, errors, field_name, value, section)
    return out, errors
