"""``geppetto tokens count [TEXT | -]``: the input tokens of a prompt for the selected engine.

The engine comes from the profile and flags like ``geppetto infer``'s. Anthropic and Gemini
answer with their count endpoints, the local model with its own tokenizer, and every other
engine with the documented estimate of :mod:`geppetto.engines.tokens`; the output says which.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from geppetto.errors import ConfigError, GeppettoError
from geppetto.terminal_text import safe_text

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


def count(args: argparse.Namespace) -> int:
    from geppetto.cli.profiles import engine_from_args
    from geppetto.engines.tokens import count_tokens
    from geppetto.turns import Turn

    text = read_text(args)
    try:
        engine = engine_from_args(args)
    except GeppettoError as exc:
        raise ConfigError(f"failed to create engine: {exc}") from None
    builder = Turn.builder()
    if args.system:
        builder.system(args.system)
    result = count_tokens(engine, builder.user(text).build())
    if args.json:
        sys.stdout.write(orjson.dumps(result.to_dict()).decode() + "\n")
        return 0
    model = f"{result.provider}:{result.model}" if result.model else result.provider
    sys.stdout.write(f"{result.input_tokens}\n")
    sys.stderr.write(f"{_METHODS[result.method]} ({safe_text(model)})\n")
    return 0
