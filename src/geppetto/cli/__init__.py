"""The ``geppetto`` command line. Parsing only here; each command imports what it needs when it runs,
so ``geppetto --help`` stays fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from geppetto.cli.batch_commands import add_batch_command
from geppetto.cli.embed import add_embed_commands
from geppetto.cli.errors import run_guarded
from geppetto.cli.js_commands import add_js_commands
from geppetto.cli.mcp_commands import add_mcp_commands, add_mcp_options
from geppetto.cli.otel import add_otel_flags
from geppetto.cli.profile_commands import add_profile_commands, add_profile_options
from geppetto.cli.serve import add_serve_command
from geppetto.cli.store_commands import add_store_commands, add_store_options
from geppetto.cli.usage_commands import add_usage_commands
from geppetto.prompts import REFERENCE_SYSTEM_PROMPT as REFERENCE_SYSTEM_PROMPT

VERSION = "0.1.0"


# Flags with their own help text; every other settings field is accepted but hidden from --help.
_DOCUMENTED_FLAGS = {
    "ai-max-response-tokens": "maximum tokens in the reply (a whole number of at least 1)",
    "ai-temperature": "sampling temperature, 0 to 2",
    "timeout": "seconds to wait between stream chunks, or a duration such as 30s or 2m",
    "outbound-policy": "permissive (default) or strict: https only, no private or loopback hosts",
    "openai-base-url": "base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama /v1, ...)",
    "openai-api-key": "OpenAI key (default: $OPENAI_API_KEY)",
    "openai-responses-base-url": "base URL for the OpenAI Responses API",
    "openai-responses-api-key": "key for the Responses API (default: the OpenAI key)",
    "claude-base-url": "Anthropic base URL",
    "claude-api-key": "Anthropic key (default: $ANTHROPIC_API_KEY)",
    "gemini-base-url": "Gemini base URL",
    "gemini-api-key": "Gemini key (default: $GEMINI_API_KEY, then $GOOGLE_API_KEY)",
    "ollama-base-url": "Ollama server (default: http://localhost:11434)",
    "ollama-api-key": "Ollama key, for hosted Ollama (default: $OLLAMA_API_KEY)",
}


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--<field>`` per settings field (reference names: ``--openai-base-url``, ...)."""
    from geppetto.settings.fields import flag_fields

    for name in flag_fields():
        if name not in ("ai-api-type", "ai-engine"):
            shown = _DOCUMENTED_FLAGS.get(name, argparse.SUPPRESS)
            parser.add_argument(f"--{name}", default=None, help=shown)


def settings_options(args: argparse.Namespace) -> dict[str, object]:
    """The settings flags the user actually gave, keyed by field name with underscores."""
    from geppetto.settings.fields import flag_fields

    options = {}
    for name in flag_fields():
        value = getattr(args, name.replace("-", "_"), None)
        if value is not None and name not in ("ai-api-type", "ai-engine"):
            options[name.replace("-", "_")] = value
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geppetto",
        description="Run LLM inferences from the terminal: typed turns, streaming engines, middlewares.",
    )
    parser.add_argument("--version", action="version", version=f"geppetto {VERSION}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    infer = commands.add_parser("infer", help="run one inference and print the final turn")
    infer.add_argument("prompt", nargs="?", help="the user prompt (read from stdin when omitted)")
    infer.add_argument(
        "--ai-api-type",
        default=None,
        help="engine type (default: the profile's, else local): echo, openai, claude, gemini, ...",
    )
    infer.add_argument("--ai-engine", default="", help="model name for the engine")
    add_settings_flags(infer)
    add_profile_options(infer)
    infer.add_argument("--system", default=REFERENCE_SYSTEM_PROMPT, help="system prompt ('' for none)")
    infer.add_argument(
        "--images",
        action="append",
        metavar="FILE|URL",
        help="attach an image (JPEG/PNG/GIF/WebP file or URL) to the prompt; repeatable or comma-separated",
    )
    infer.add_argument("--stream", action="store_true", help="print the reply as it arrives")
    infer.add_argument("--output", choices=("text", "yaml", "json"), default="text", help="final turn format")
    add_store_options(infer)
    add_mcp_options(infer)
    add_otel_flags(infer)
    infer.set_defaults(handler="geppetto.cli.infer:run")

    turns = commands.add_parser("turns", help="inspect turn files")
    turn_commands = turns.add_subparsers(dest="turns_command", metavar="SUBCOMMAND")
    show = turn_commands.add_parser("show", help="pretty-print a YAML or JSON turn file")
    show.add_argument("file", help="path to the turn file ('-' for stdin)")
    show.add_argument("--format", choices=("pretty", "lines", "yaml", "json"), default="pretty")
    show.add_argument("--ids", action="store_true", help="include turn and block ids")
    show.add_argument("--metadata", action="store_true", help="include metadata and data")
    show.set_defaults(handler="geppetto.cli.turns:show")
    turns.set_defaults(subparser=turns)
    add_store_commands(commands)
    add_profile_commands(commands)
    add_js_commands(commands)
    add_mcp_commands(commands)
    add_serve_command(commands)
    add_batch_command(commands)
    add_usage_commands(commands)
    add_embed_commands(commands)  # embed and rerank
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        target = getattr(args, "subparser", parser)
        target.print_help(sys.stderr)
        return 2
    debug = args.debug or bool(os.environ.get("GEPPETTO_DEBUG"))
    return run_guarded(handler, args, debug=debug)
