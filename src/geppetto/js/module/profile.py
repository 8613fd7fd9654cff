"""``engines.fromProfile`` / ``engines.fromConfig``: engine options as scripts give them (spec §1.5).

:func:`resolve_profile_engine` is the one place where a profile name becomes engine settings
(DESIGN.md): a name that some profile source defines uses that profile (resolved through
``geppetto.profiles``, with the script's options as flags on top); any other name is treated as
a model name, like the reference seed, but only when that is what it looks like: the options say
what to run (``apiType``, ``provider``, ``baseURL`` or ``model``) or the name reads as a model
(:func:`~geppetto.settings.apitypes.looks_like_model_name`: ``gpt-...``, ``claude-...``, ``o3-mini``,
a ``.gguf`` file). Any other unknown name (``fromProfile("echoo")``, ``js run --profile nope``)
fails with the CLI's "profile ... not found" and the profiles that exist. With nothing
configured the factory's default engine (the embedded model) runs instead of the reference's
``4o-mini``. Errors are redacted like the CLI's: a key put in the wrong option never shows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geppetto.errors import ConfigError

if TYPE_CHECKING:  # engines pull in asyncio: not at import, `geppetto js run` starts without them
    from geppetto.engines.base import Engine

PROFILE_ENV = "PINOCCHIO_PROFILE"


def _text(opts: Mapping[str, Any], key: str, where: str) -> str:
    value = opts.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {key} must be a string")
    return value.strip()


def _positive(opts: Mapping[str, Any], key: str, where: str, *, allow_zero: bool = False) -> float | None:
    value = opts.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise TypeError(f"{where}: {key} must be a number {bound}")
    return float(value)


def engine_fields(opts: Mapping[str, Any], api_type: str, where: str) -> dict[str, Any]:
    """The §1.5 overrides as factory fields (``ai_temperature``, ``<type>_api_key``, ``timeout``...)."""
    fields: dict[str, Any] = {}
    for key, field in (("temperature", "ai_temperature"), ("topP", "ai_top_p")):
        number = _positive(opts, key, where, allow_zero=True)
        if number is not None:
            fields[field] = number
    max_tokens = _positive(opts, "maxTokens", where)
    if max_tokens is not None:  # whole-number check in geppetto.settings.numbers, not truncated here
        fields["ai_max_response_tokens"] = max_tokens
    seconds = _positive(opts, "timeoutSeconds", where)
    timeout_ms = _positive(opts, "timeoutMs", where)
    if timeout_ms is not None:
        seconds = float(max(1, int(timeout_ms // 1000)))
    if seconds is not None:
        fields["timeout"] = seconds
    api_key = _text(opts, "apiKey", where)
    if api_key:
        fields[f"{api_type}_api_key"] = api_key
    base_url = _text(opts, "baseURL", where)
    if base_url:
        fields[f"{api_type}_base_url"] = base_url
    return fields


@dataclass(frozen=True, slots=True)
class ProfileDefaults:
    """What the host chose for scripts: ``geppetto js run --profile``, ``--profile-file``,
    ``--profile-registries`` and ``--config-file``."""

    profile: str | None = None
    profile_file: str | None = None
    profile_registries: str | None = None
    config_file: str | None = None


def resolve_profile_engine(
    profile: str | None,
    opts: Mapping[str, Any],
    *,
    defaults: ProfileDefaults = ProfileDefaults(),
    where: str = "fromProfile",
) -> tuple[str, Engine]:
    """``(resolved profile name, engine)`` for a profile and the §1.5 options.

    Profile precedence: explicit ``profile`` > ``opts.profile`` > ``defaults.profile`` (the CLI's
    ``--profile``) > ``$PINOCCHIO_PROFILE``; profiles are looked up in ``defaults``' profile file
    and registries when set, else in the usual places. The model is the profile, except that ``opts.model``
    wins when no explicit profile was passed. The API type is ``opts.apiType`` / ``opts.provider``
    or inferred from the model. Nothing at all configured: the factory default engine, named
    ``"default"``. Construction errors say ``invalid settings for provider <p>: ...``, with every
    key the script or the environment holds redacted.
    """
    try:
        return _resolve_profile_engine(profile, opts, defaults, where)
    except ConfigError as exc:
        raise ConfigError(_redacted(str(exc), opts)) from None


def _redacted(message: str, opts: Mapping[str, Any]) -> str:
    from geppetto.profiles.result import collect_secrets
    from geppetto.settings.redact import redact_text

    secrets = collect_secrets(None, os.environ)
    api_key = opts.get("apiKey")
    if isinstance(api_key, str) and api_key.strip():
        secrets.append(api_key.strip())
    return redact_text(message, secrets)


def _names_a_model(name: str, opts: Mapping[str, Any]) -> bool:
    """Whether an unknown profile name may stand for a model name (see the module docstring)."""
    from geppetto.settings.apitypes import looks_like_model_name

    keys = ("apiType", "provider", "baseURL", "model")
    said = any(isinstance(opts.get(key), str) and opts[key].strip() for key in keys)
    return said or looks_like_model_name(name)


def _resolve_profile_engine(
    profile: str | None, opts: Mapping[str, Any], defaults: ProfileDefaults, where: str
) -> tuple[str, Engine]:
    from geppetto.engines.factory import DEFAULT_API_TYPE, create_engine
    from geppetto.settings.apitypes import infer_api_type, normalize_api_type

    explicit = profile.strip() if isinstance(profile, str) else ""
    resolved = (
        explicit
        or _text(opts, "profile", where)
        or (defaults.profile or "").strip()
        or os.environ.get(PROFILE_ENV, "").strip()
    )
    model = resolved
    requested_model = _text(opts, "model", where)
    if not explicit and requested_model:
        model = requested_model
    if resolved:
        from_files = _engine_from_profile_files(resolved, opts, explicit, requested_model, where, defaults)
        if from_files is not None:
            return resolved, from_files
    api_type = normalize_api_type(_text(opts, "apiType", where) or _text(opts, "provider", where))
    if not api_type:
        if not model:
            api_type = DEFAULT_API_TYPE
        elif model.lower().endswith(".gguf"):
            api_type = "local"
        else:
            api_type = infer_api_type(model)
    fields = engine_fields(opts, api_type, where)
    try:
        engine = create_engine(api_type, model, **fields)
    except ConfigError as exc:
        raise ConfigError(f"invalid settings for provider {api_type}: {exc}") from exc
    return resolved or "default", engine


def _engine_from_profile_files(
    name: str,
    opts: Mapping[str, Any],
    explicit: str,
    requested_model: str,
    where: str,
    defaults: ProfileDefaults,
) -> Engine | None:
    """The engine of profile ``name`` if a profile source defines it, else ``None``."""
    from geppetto.engines.factory import DEFAULT_API_TYPE
    from geppetto.engines.from_settings import engine_for
    from geppetto.profiles import engine_api_type, lookup_profile
    from geppetto.settings.apitypes import normalize_api_type

    sources = {
        "profile_file": defaults.profile_file,
        "profile_registries": defaults.profile_registries,
        "config_file": defaults.config_file,
    }
    found = lookup_profile(name, required=not _names_a_model(name, opts), **sources)
    if found is None:
        return None
    forced = normalize_api_type(_text(opts, "apiType", where) or _text(opts, "provider", where))
    api_type = forced or engine_api_type(found) or DEFAULT_API_TYPE
    flags = engine_fields(opts, api_type, where)
    if forced:
        flags["ai_api_type"] = forced
    if not explicit and requested_model:
        flags["ai_engine"] = requested_model
    resolved = lookup_profile(name, flags=flags, **sources) or found
    try:
        engine: Engine = engine_for(resolved)
    except ConfigError as exc:
        raise ConfigError(f"invalid settings for provider {api_type}: {exc}") from exc
    if resolved.model_info:  # a priced profile: sessions record what each run cost (geppetto.cost)
        from geppetto.engines.from_settings import SettingsEngine
        from geppetto.profiles.inference_settings import InferenceSettings

        engine = SettingsEngine(engine, InferenceSettings(resolved))
    return engine
