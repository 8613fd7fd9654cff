"""Settings: what to run, where, with which keys. No I/O besides reading the environment.

Names are imported lazily: the CLI reads the field list at start-up, and the outbound-policy
checks (which pull in asyncio and DNS helpers) should only load when a request is built.
"""

from __future__ import annotations

from geppetto._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ApiSettings": "geppetto.settings.sections",
    "ApiTypeSpec": "geppetto.settings.apitypes",
    "ChatSettings": "geppetto.settings.sections",
    "ClaudeSettings": "geppetto.settings.sections",
    "ClientSettings": "geppetto.settings.sections",
    "Credentials": "geppetto.settings.credentials",
    "Family": "geppetto.settings.apitypes",
    "GeminiSettings": "geppetto.settings.sections",
    "OllamaSettings": "geppetto.settings.sections",
    "OpenAISettings": "geppetto.settings.sections",
    "OutboundPolicy": "geppetto.settings.outbound",
    "REDACTED": "geppetto.settings.redact",
    "Settings": "geppetto.settings.sections",
    "acheck_outbound_url": "geppetto.settings.outbound",
    "apply_env": "geppetto.settings.fields",
    "apply_fields": "geppetto.settings.fields",
    "apply_layers": "geppetto.settings.fields",
    "check_outbound_url": "geppetto.settings.outbound",
    "flag_fields": "geppetto.settings.fields",
    "infer_api_type": "geppetto.settings.apitypes",
    "is_reasoning_model": "geppetto.settings.apitypes",
    "is_secret_field": "geppetto.settings.redact",
    "key_is_required": "geppetto.settings.credentials",
    "known_api_types": "geppetto.settings.apitypes",
    "known_fields": "geppetto.settings.fields",
    "missing_key_message": "geppetto.settings.credentials",
    "normalize_api_type": "geppetto.settings.apitypes",
    "redact_text": "geppetto.settings.redact",
    "resolve_api_key": "geppetto.settings.credentials",
    "resolve_base_url": "geppetto.settings.credentials",
    "set_field": "geppetto.settings.fields",
    "spec_for": "geppetto.settings.apitypes",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
