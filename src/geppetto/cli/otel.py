"""``--otel [console|otlp]`` and ``--otel-content``: OpenTelemetry for any command that runs
inferences.

``add_otel_flags(parser)`` adds the flags; ``start_otel(args)`` builds the SDK providers and
instruments the process (or returns ``None`` when ``--otel`` was not given), and the returned
handle's ``shutdown()`` flushes the exporters. ``run_guarded`` calls both for every command, so a
command only needs the flags. Only argparse is imported here: ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from geppetto.errors import ConfigError

if TYPE_CHECKING:
    from geppetto.telemetry.setup import SDKHandle

_EXPORTERS = ("console", "otlp")


def _exporter(value: str) -> str:
    if value not in _EXPORTERS and value != "auto":  # "auto": the flag without a value
        raise argparse.ArgumentTypeError(
            f"invalid exporter {value!r} (choose console or otlp; to put a prompt right after "
            "the flag, write --otel=otlp)"
        )
    return value


def add_otel_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("telemetry (OpenTelemetry; needs the 'otel' extra)")
    group.add_argument(
        "--otel",
        nargs="?",
        const="auto",
        type=_exporter,
        metavar="console|otlp",
        help="export traces and metrics: console (stderr) or otlp (OTLP/HTTP to "
        "$OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318); without a value, "
        "$OTEL_TRACES_EXPORTER if it names one, else otlp. Standard OTEL_* variables apply",
    )
    group.add_argument(
        "--otel-content",
        action="store_true",
        help="also record prompts, completions and tool arguments/results on the spans "
        "(off by default: they may hold personal data)",
    )


def start_otel(args: argparse.Namespace) -> SDKHandle | None:
    """Instrument the process as the flags say; ``None`` when telemetry stays off."""
    exporter = getattr(args, "otel", None)
    if exporter is None:
        if getattr(args, "otel_content", False):
            raise ConfigError("--otel-content needs --otel: add --otel console or --otel otlp")
        return None
    if exporter == "auto":
        wanted = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        exporter = wanted if wanted in _EXPORTERS else "otlp"
    from geppetto.telemetry.setup import configure_sdk

    return configure_sdk(exporter, content=bool(getattr(args, "otel_content", False)))
