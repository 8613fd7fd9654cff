"""``geppetto tokens count [TEXT | -]``: the input tokens of a prompt for the selected engine.

The engine comes from the profile and flags like ``geppetto infer``'s. Anthropic and Gemini
answer with their count endpoints, the local model with its own tokenizer, and every other
engine with the documented estimate of :mod:`geppetto.engines.tokens`; the output says which.
An estimate needs no API key: when the provider's key is missing (and the provider needs one),
the count is estimated without building the engine, and the output says so (``"estimated":
true`` and a ``note`` in ``--json``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import orjson

from geppetto.errors import ConfigError, GeppettoError
from geppetto.terminal_text import safe_text

if TYPE_CHECKING:
    from geppetto.profiles.result import ResolvedSettings

_METHODS = {
    "provider": "counted by the provider",
    "tokenizer": "counted by the model's tokenizer",
    "estimate": "estimated: this engine has no count endpoint",
}


def read_text(args: argparse.Namespace) -> str:
    """TEXT, or stdin for ``-`` (or no TEXT with a pipe)."""
    if args.text is not None and args.text != "-":
        return str(args.text)
    if sys.stdin is None or (args.text is None and sys.stdin.isatty()):
        raise ConfigError("missing TEXT: pass it as an argument, or '-' (or a pipe) to read stdin")
    from geppetto.inputs import LIMITS, read_stream_text

    return read_stream_text(sys.stdin, LIMITS.prompt, "text on stdin").strip()


NO_KEY_NOTE = "estimated: no API key is set for {provider}, and an estimate needs none"


def _keyless(resolved: ResolvedSettings) -> tuple[str, str] | None:
    """``(api type, model)`` when the selected provider needs a key and none is configured."""
    from geppetto.engines import factory
    from geppetto.profiles.result import engine_api_type
    from geppetto.settings.apitypes import spec_for
    from geppetto.settings.credentials import key_is_required, resolve_api_key, resolve_base_url

    api_type = engine_api_type(resolved) or factory.DEFAULT_API_TYPE
    spec = spec_for(api_type)
    if spec is None:
        return None
    try:
        base_url = resolve_base_url(resolved.settings, api_type)
    except ConfigError:
        return None  # building the engine says what is missing
    if not key_is_required(spec, base_url):
        return None
    if resolve_api_key(resolved.settings, api_type, resolved.environ).api_key:
        return None
    return api_type, resolved.settings.chat.engine.strip()


def count(args: argparse.Namespace) -> int:
    from geppetto.cli.profiles import resolve_from_args
    from geppetto.engines.from_settings import engine_for
    from geppetto.engines.tokens import TokenCount, count_tokens, estimate_tokens
    from geppetto.turns import Turn

    text = read_text(args)
    builder = Turn.builder()
    if args.system:
        builder.system(args.system)
    turn = builder.user(text).build()
    note = ""
    try:
        resolved = resolve_from_args(args)
        for warning in resolved.warnings:
            sys.stderr.write(f"warning: {safe_text(resolved.redact(warning))}\n")
        keyless = _keyless(resolved)
        engine = None if keyless is not None else engine_for(resolved)
    except GeppettoError as exc:
        raise ConfigError(f"failed to create engine: {exc}") from None
    if keyless is not None:  # an estimate needs no key: do not fail for the lack of one
        provider, model_name = keyless
        result = TokenCount(estimate_tokens(turn), "estimate", provider, model_name)
        note = NO_KEY_NOTE.format(provider=provider)
    else:
        assert engine is not None
        result = count_tokens(engine, turn)  # its own errors say what failed, not "create engine"
    if args.json:
        out = {**result.to_dict(), "estimated": result.method == "estimate"}
        if note:
            out["note"] = note
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
        return 0
    model = f"{result.provider}:{result.model}" if result.model else result.provider
    sys.stdout.write(f"{result.input_tokens}\n")
    sys.stderr.write(f"{note or _METHODS[result.method]} ({safe_text(model)})\n")
    return 0
