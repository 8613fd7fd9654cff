"""Switching telemetry on and off, and building SDK providers for the CLI.

``instrument()`` needs only ``opentelemetry-api``: it reports to the given providers or to the
global ones (whatever the application configured: Logfire, an OTLP SDK setup, ...). Without a
configured SDK the API's providers are no-ops, so spans cost little but exist; without
``instrument()`` no sink exists at all. ``configure_sdk()`` needs the ``otel`` extra
(``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``) and honours the standard
``OTEL_*`` variables (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_EXPORTER_OTLP_ENDPOINT``/``_HEADERS``/``_TIMEOUT``, ``OTEL_TRACES_SAMPLER``,
``OTEL_SDK_DISABLED``, ...) through the SDK itself.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from geppetto.errors import ConfigError
from geppetto.telemetry import state
from geppetto.telemetry.sink import TelemetrySink

INSTRUMENTATION_NAME = "geppetto"
EXPORTERS = ("console", "otlp")
EXPORT_TIMEOUT_S = 3.0


def instrument(
    *, tracer_provider: Any = None, meter_provider: Any = None, content: bool = False
) -> TelemetrySink:
    """Trace and measure every geppetto run in this process from now on (idempotent: a second
    call replaces the first). ``content=True`` also records prompts, completions and tool
    arguments/results on the spans; keep it off where those may hold personal data."""
    from opentelemetry import metrics, trace

    from geppetto.telemetry.mcp import MCPTracer

    version = _version()
    tracer = trace.get_tracer(INSTRUMENTATION_NAME, version, tracer_provider=tracer_provider)
    meter = metrics.get_meter(INSTRUMENTATION_NAME, version, meter_provider=meter_provider)
    sink = TelemetrySink(tracer, meter, content=content)
    state.mcp = MCPTracer(tracer, content=content)
    state.sink = sink
    return sink


def uninstrument() -> None:
    """Stop tracing new runs (runs already going keep their sink until they end)."""
    state.sink = None
    state.mcp = None


def is_instrumented() -> bool:
    return state.sink is not None


@dataclass
class SDKHandle:
    """The providers ``configure_sdk`` built; ``shutdown()`` flushes and stops them."""

    tracer_provider: Any
    meter_provider: Any

    def shutdown(self) -> None:
        uninstrument()
        for provider in (self.tracer_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception as exc:  # exporting must never turn a finished command into a failure
                from geppetto.terminal_text import safe_text

                print(f"warning: telemetry export failed: {safe_text(str(exc))}", file=sys.stderr)


def configure_sdk(
    exporter: str = "otlp",
    *,
    content: bool = False,
    set_global: bool = True,
    span_exporter: Any = None,
    metric_exporter: Any = None,
) -> SDKHandle | None:
    """Build SDK providers exporting to the console (stderr) or over OTLP/HTTP, make them global
    (so other instrumentations, e.g. the ``mcp`` SDK's, report there too) and ``instrument()``.

    Returns ``None`` (and instruments nothing) when ``OTEL_SDK_DISABLED=true``.
    ``span_exporter``/``metric_exporter`` replace the exporters (tests).
    """
    if exporter not in EXPORTERS:
        raise ConfigError(f"unknown telemetry exporter {exporter!r}: use one of {', '.join(EXPORTERS)}")
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise ConfigError(
            "telemetry export needs the OpenTelemetry SDK: pip install 'geppetto[otel]'"
        ) from None
    resource = Resource.create(_default_resource())
    if span_exporter is None or metric_exporter is None:
        default_spans, default_metrics = _exporters(exporter)
        span_exporter = span_exporter or default_spans
        metric_exporter = metric_exporter or default_metrics
    tracer_provider = TracerProvider(resource=resource)
    processor = SimpleSpanProcessor if exporter == "console" else BatchSpanProcessor
    tracer_provider.add_span_processor(processor(span_exporter))
    reader = PeriodicExportingMetricReader(metric_exporter)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    if set_global:
        from opentelemetry import metrics, trace

        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, content=content)
    return SDKHandle(tracer_provider, meter_provider)


def _default_resource() -> dict[str, str]:
    """``service.name=geppetto`` unless the environment names the service."""
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return {} if named else {"service.name": "geppetto"}


def _exporters(exporter: str) -> tuple[Any, Any]:
    if exporter == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr), ConsoleMetricExporter(out=sys.stderr)
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            "OTLP export needs opentelemetry-exporter-otlp-proto-http: pip install 'geppetto[otel]'"
        ) from None
    return OTLPSpanExporter(timeout=_timeout("TRACES")), OTLPMetricExporter(timeout=_timeout("METRICS"))


def _timeout(signal: str) -> float | None:
    """A command flushes its telemetry on exit: without a configured timeout, give an unreachable
    collector 3 s per signal (the exporter's own default, 10 s with retries, holds the exit ~20 s)."""
    names = ("OTEL_EXPORTER_OTLP_TIMEOUT", f"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT")
    return None if any(os.environ.get(name) for name in names) else EXPORT_TIMEOUT_S


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("geppetto")
    except Exception:
        return "0"
