"""OpenTelemetry traces and metrics for geppetto runs, on the GenAI semantic conventions.

``instrument()`` turns it on for the process (every session, agent and JS run); ``uninstrument()``
turns it off. Nothing here imports OpenTelemetry until ``instrument()`` runs, and with telemetry off
no sink is installed at all. ``configure_sdk()`` builds an SDK tracer and meter provider with a
console or OTLP/HTTP exporter (the ``otel`` extra) for the CLI's ``--otel`` flag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geppetto.telemetry.setup import (
        SDKHandle,
        configure_sdk,
        instrument,
        is_instrumented,
        uninstrument,
    )
    from geppetto.telemetry.sink import TelemetrySink

__all__ = ["SDKHandle", "TelemetrySink", "configure_sdk", "instrument", "is_instrumented", "uninstrument"]

_LAZY = {
    "SDKHandle": "geppetto.telemetry.setup",
    "configure_sdk": "geppetto.telemetry.setup",
    "instrument": "geppetto.telemetry.setup",
    "is_instrumented": "geppetto.telemetry.setup",
    "uninstrument": "geppetto.telemetry.setup",
    "TelemetrySink": "geppetto.telemetry.sink",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geppetto.telemetry' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
