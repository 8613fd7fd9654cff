"""Telemetry test fixtures: in-memory span and metric exporters, a scripted OpenAI-compatible
loopback server. The OpenTelemetry SDK is required (the ``otel`` extra): without it these tests
fail at collection with the install command, they are never skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

try:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError as exc:  # pragma: no cover - CI installs the extra
    raise ImportError(
        f"the telemetry tests need the OpenTelemetry SDK ({exc}): pip install 'geppetto[otel]'"
    ) from None

from geppetto.telemetry import TelemetrySink, instrument, uninstrument

CANARY_KEY = "sk-canary-TELEMETRY-0123456789abcdef"


@dataclass
class Telemetry:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    sink: TelemetrySink
    tracer_provider: TracerProvider

    def spans(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def one(self, prefix: str) -> ReadableSpan:
        found = self.named(prefix)
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its histogram data points."""
        data = self.reader.get_metrics_data()
        out: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


def _telemetry(content: bool) -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    sink = instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, content=content)
    try:
        yield Telemetry(exporter, reader, sink, tracer_provider)
    finally:
        uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    """Telemetry on, content off (the default)."""
    yield from _telemetry(False)


@pytest.fixture
def otel_content() -> Iterator[Telemetry]:
    """Telemetry on with prompts, completions and tool arguments recorded."""
    yield from _telemetry(True)


# -- a scripted OpenAI-compatible server ------------------------------------------------------


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def tool_call_stream(call_id: str, name: str, arguments: str) -> bytes:
    head = {"id": "chatcmpl-tool", "model": "gpt-test-0613"}
    call = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return sse(
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}},
    )


def text_stream(text: str, *, response_id: str = "chatcmpl-text") -> bytes:
    head = {"id": response_id, "model": "gpt-test-0613"}
    words = text.split(" ")
    return sse(
        *(
            {**head, "choices": [{"index": 0, "delta": {"content": (" " if i else "") + w}}]}
            for i, w in enumerate(words)
        ),
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}},
    )


@dataclass
class ChatServer:
    """Answers ``POST /v1/chat/completions`` with queued replies: ``(status, body)``."""

    replies: list[tuple[int, bytes]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    engines: list[Any] = field(default_factory=list)  # closed with the server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        await request.read()
        status, body = self.replies.pop(0) if self.replies else (500, b'{"error": {"message": "no reply"}}')
        if status != 200:
            return web.Response(status=status, body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        await response.write_eof()
        return response


@pytest.fixture
async def chat_server() -> AsyncIterator[ChatServer]:
    server = ChatServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        for engine in server.engines:
            await engine.aclose()
        await runner.cleanup()


def openai_engine(server: ChatServer, model: str = "gpt-test") -> Any:
    from geppetto.engines.providers import create_provider_engine
    from geppetto.settings import Settings, apply_fields

    values = {
        "ai-api-type": "openai",
        "ai-engine": model,
        "openai-base-url": server.url,
        "openai-api-key": CANARY_KEY,
        "max-retries": 0,
    }
    engine = create_provider_engine(apply_fields(Settings(), values), environ={})
    server.engines.append(engine)
    return engine
