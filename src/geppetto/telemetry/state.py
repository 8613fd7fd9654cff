"""What telemetry is switched on, read by the layers that feed it (stdlib only, so any layer may
import it).

Both hooks stay ``None`` until :func:`geppetto.telemetry.instrument` runs: then every session run
gets :attr:`sink` next to its own sinks, and MCP requests go through :attr:`mcp`. With them
``None`` nothing of OpenTelemetry is imported or called (the zero-cost path: one attribute read
per run and per MCP request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geppetto.events.sinks import EventSink

sink: EventSink | None = None
"""The telemetry sink every session run publishes to, or ``None``."""

mcp: Any = None
"""The MCP request tracer (``geppetto.telemetry.mcp.MCPTracer``), or ``None``."""
