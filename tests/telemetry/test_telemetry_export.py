"""Exporting: the CLI's --otel over OTLP/HTTP to a loopback collector (decoded with
opentelemetry-proto), --otel console, the flags' errors, configure_sdk, and MCP client spans."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from geppetto.engines import FunctionEngine
from geppetto.mcp import MCPServer
from geppetto.session import EngineBuilder, Session
from geppetto.telemetry import configure_sdk, is_instrumented
from geppetto.tools import ToolRegistry
from geppetto.turns import Block, BlockKind, Turn

from .conftest import Telemetry

ROOT = Path(__file__).resolve().parents[2]
BASIC_MCP_SERVER = ROOT / "tests" / "mcp" / "servers" / "basic.py"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "geppetto",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class Collector:
    """An OTLP/HTTP collector stub: keeps every decoded export request."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []

    async def on_traces(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        self.traces.append(ExportTraceServiceRequest.FromString(await request.read()))
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    async def on_metrics(self, request: web.Request) -> web.Response:
        self.metrics.append(ExportMetricsServiceRequest.FromString(await request.read()))
        body = ExportMetricsServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.traces
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def resource_attributes(self) -> dict[str, str]:
        resource = self.traces[0].resource_spans[0].resource
        return {a.key: a.value.string_value for a in resource.attributes}

    def metric_names(self) -> set[str]:
        return {
            metric.name
            for request in self.metrics
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }


async def test_cli_exports_traces_and_metrics_over_otlp_http() -> None:
    collector = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", collector.on_traces)
    app.router.add_post("/v1/metrics", collector.on_metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = cli_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="geppetto-e2e")
        code, out, err = await run_cli(
            "infer", "--ai-api-type", "echo", "--no-store", "hello telemetry", "--otel", env=env
        )
    finally:
        await runner.cleanup()
    assert code == 0, err
    assert "hello telemetry" in out
    spans = {span.name: span for span in collector.spans()}
    assert set(spans) == {"invoke_agent", "chat echo"}
    run, call = spans["invoke_agent"], spans["chat echo"]
    assert call.parent_span_id == run.span_id and call.trace_id == run.trace_id
    call_attributes = {a.key: a.value.string_value for a in call.attributes}
    assert call_attributes["gen_ai.operation.name"] == "chat"
    assert call_attributes["gen_ai.request.model"] == "echo"
    assert collector.resource_attributes()["service.name"] == "geppetto-e2e"
    assert "gen_ai.client.operation.duration" in collector.metric_names()


async def test_cli_console_exporter_writes_spans_to_stderr_only() -> None:
    code, out, err = await run_cli(
        "infer", "--ai-api-type", "echo", "--no-store", "--output", "json", "--otel=console", "hi there",
        env=cli_env(),
    )
    assert code == 0, err
    assert '"name": "invoke_agent"' in err and '"gen_ai.operation.name": "chat"' in err
    turn = json.loads(out)  # stdout holds only the final turn's JSON
    assert "hi there" in [b["payload"].get("text") for b in turn["blocks"]]


async def test_cli_flag_errors_are_one_clear_line() -> None:
    code, _out, err = await run_cli("infer", "--ai-api-type", "echo", "--otel-content", "x", env=cli_env())
    assert code == 1
    assert err.strip() == "error: --otel-content needs --otel: add --otel console or --otel otlp"
    code, _out, err = await run_cli("infer", "--ai-api-type", "echo", "--otel", "hello", env=cli_env())
    assert code == 2
    assert "write --otel=otlp" in err


def test_configure_sdk_instruments_and_shutdown_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    spans = InMemorySpanExporter()
    metrics_out = io.StringIO()
    handle = configure_sdk(
        "console",
        set_global=False,
        span_exporter=spans,
        metric_exporter=ConsoleMetricExporter(out=metrics_out),
    )
    assert handle is not None and is_instrumented()
    try:
        Session(EngineBuilder(FunctionEngine(lambda t: t.append(Block.assistant("ok")) or t))).run(
            Turn.builder().user("x").build()
        )
    finally:
        handle.shutdown()
    assert not is_instrumented()
    assert {s.name for s in spans.get_finished_spans()} == {"invoke_agent", "chat function"}
    assert "gen_ai.client.operation.duration" in metrics_out.getvalue()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert configure_sdk("console", set_global=False) is None and not is_instrumented()


async def test_mcp_tool_calls_get_client_spans_under_their_tool_span(otel: Telemetry) -> None:
    registry = ToolRegistry()
    registry.add_mcp(MCPServer.stdio("basic", sys.executable, [str(BASIC_MCP_SERVER)], include=["echo"]))

    def engine(turn: Turn) -> Turn:
        done = any(b.kind is BlockKind.TOOL_USE for b in turn.blocks)
        turn.append(Block.assistant("done") if done else Block.tool_call("c1", "basic_echo", {"text": "hi"}))
        return turn

    try:
        await Session(EngineBuilder(FunctionEngine(engine)).with_tools(registry)).arun(
            Turn.builder().user("go").build()
        )
    finally:
        await registry.aclose()
    tool_span = otel.one("execute_tool basic_echo")
    mcp_span = otel.one("tools/call echo")
    assert mcp_span.parent is not None and mcp_span.parent.span_id == tool_span.context.span_id
    attributes = dict(mcp_span.attributes or {})
    assert {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "network.transport": "pipe",
        "geppetto.mcp.server": "basic",
    }.items() <= attributes.items()
    assert "gen_ai.tool.call.arguments" not in attributes  # content is opt-in here too
    listing = otel.one("tools/list")
    assert listing.parent is not None and listing.parent.span_id == otel.one("invoke_agent").context.span_id


async def test_js_scripts_report_to_the_hosts_telemetry(tmp_path: Path) -> None:
    script = tmp_path / "echo.js"
    script.write_text(
        "const { engines, turns, runInference } = require('geppetto');\n"
        "const seed = { blocks: [turns.newUserBlock('ping')] };\n"
        "console.log(runInference(engines.echo({ reply: 'pong' }), seed).blocks[1].payload.text);\n"
    )
    code, out, err = await run_cli("js", "run", str(script), "--no-store", "--otel=console", env=cli_env())
    assert code == 0, err
    assert out.splitlines()[0] == "pong"
    assert '"name": "invoke_agent"' in err and '"name": "chat echo"' in err


def test_nothing_of_opentelemetry_is_imported_unless_telemetry_is_on() -> None:
    import subprocess

    code = (
        "import sys, geppetto, geppetto.session, geppetto.telemetry, geppetto.mcp.connection\n"
        "from geppetto.cli import build_parser\n"
        "args = build_parser().parse_args(['infer', '--otel', 'console', '--otel-content', 'x'])\n"
        "assert args.otel == 'console' and args.otel_content\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_batch_reports_one_run_span_per_item(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "prompt": "one"}\n{"id": "b", "prompt": "two"}\n')
    code, _out, err = await run_cli(
        "batch", str(items), "-o", str(tmp_path / "out.jsonl"), "--ai-api-type", "echo", "--quiet",
        "--otel=console", env=cli_env(),
    )  # fmt: skip
    assert code == 0, err
    assert err.count('"name": "invoke_agent"') == 2
