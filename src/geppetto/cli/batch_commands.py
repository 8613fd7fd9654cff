"""The argument parser of ``geppetto batch`` (argparse only; the handler is ``geppetto.cli.batch``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


class _LazyParser(argparse.ArgumentParser):
    """A subcommand parser that adds its arguments only when it is used (parsing or help), so
    building the whole parser for ``geppetto --help`` or another command stays as fast as before."""

    _fill: Callable[[argparse.ArgumentParser], None] | None = None

    def _ensure(self) -> None:
        fill, self._fill = self._fill, None
        if fill is not None:
            fill(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._ensure()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._ensure()
        return super().format_help()

    def format_usage(self) -> str:
        self._ensure()
        return super().format_usage()


def add_batch_command(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="run every item of a JSONL/CSV/Parquet file; results to JSONL, resumable",
        description=(
            "Run one inference per input item (JSONL, CSV or Parquet; each with an 'id' and a 'prompt', "
            "a 'turn', or the fields of --template) and append one JSON result per item to OUTPUT. "
            "Re-running with the same OUTPUT skips the items it already holds."
        ),
    )
    batch.__class__ = _LazyParser
    batch._fill = _add_arguments


def _add_arguments(batch: argparse.ArgumentParser) -> None:
    from geppetto.cli import add_settings_flags
    from geppetto.cli.otel import add_otel_flags
    from geppetto.cli.profile_commands import add_profile_options

    batch.add_argument("input", metavar="INPUT", help="the items: .jsonl, .csv or .parquet")
    batch.add_argument(
        "-o", "--output", default=None, help="results JSONL, appended and resumable (default: stdout)"
    )
    batch.add_argument(
        "--format",
        choices=("jsonl", "csv", "parquet"),
        default=None,
        help="input format (default: by extension)",
    )
    batch.add_argument(
        "--template", default=None, help="prompt template over the item's fields, e.g. 'Classify: {text}'"
    )
    batch.add_argument(
        "--schema", metavar="FILE", default=None, help="JSON schema file: ask for structured output"
    )
    batch.add_argument("--system", default="", help="system prompt for items without their own")
    batch.add_argument("--full", action="store_true", help="include the final turn in each result")
    batch.add_argument(
        "--concurrency", type=_positive_int, default=8, help="items in flight at once (default 8)"
    )
    batch.add_argument(
        "--requests-per-minute",
        "--rpm",
        dest="rpm",
        type=_positive_float,
        default=None,
        help="request limit per profile (the provider's rate-limit headers may lower it)",
    )
    batch.add_argument(
        "--tokens-per-minute",
        "--tpm",
        dest="tpm",
        type=_positive_float,
        default=None,
        help="token limit per profile (the provider's rate-limit headers may lower it)",
    )
    batch.add_argument(
        "--limit",
        action="append",
        metavar="PROFILE=RPM[/TPM]",
        default=[],
        help="limits of one profile, e.g. fast=500/200000 or slow=/10000 (repeatable; overrides --rpm/--tpm)",
    )
    batch.add_argument(
        "--retry-failed", action="store_true", help="on resume, run again the items that failed"
    )
    batch.add_argument(
        "--ordered", action="store_true", help="write results in input order (default: as they finish)"
    )
    batch.add_argument(
        "--fail-fast", action="store_true", help="stop at the first bad input line or failed item"
    )
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    batch.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local (default): this process; ray: a Ray Data pipeline",
    )
    batch.add_argument("--address", default=None, help="Ray cluster address for --executor ray")
    batch.add_argument(
        "--provider-batch",
        action="store_true",
        help="use the provider's batch API (OpenAI /v1/batches, Anthropic message batches)",
    )
    batch.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="with --provider-batch: seconds between status checks (default 10)",
    )
    batch.add_argument("--ai-api-type", default=None, help="engine type (default: the profile's)")
    batch.add_argument("--ai-engine", default="", help="model name for the engine")
    add_settings_flags(batch)
    add_profile_options(batch)
    add_otel_flags(batch)  # the local executor's runs; Ray workers do not report
    batch.set_defaults(handler="geppetto.cli.batch:run")
