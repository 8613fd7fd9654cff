"""Provider adapters: streaming throughput against each raw SDK on the same replayed stream.

For every provider family a loopback server replays one long text stream (``--chunks`` content
deltas in that provider's wire format, written at once so the numbers are client-side cost).
Each round measures, in this process and run:

* the geppetto engine (request building, SSE/NDJSON decoding, accumulator, events, blocks);
* the provider's official SDK iterating the same stream with its own typed chunks (Ollama has
  no SDK on our stack: raw aiohttp + orjson stands in).

Reported: chunks/s of each, the ratio (target >= 0.9 of the raw SDK) and the time from the call
to the first text event / first SDK chunk. Timings are medians over ``--rounds``.

    .venv/bin/python bench/bench_providers.py [--chunks N] [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report
from geppetto.engines.base import RunContext
from geppetto.engines.providers import ProviderEngine, engine_from_options
from geppetto.events.types import Event, EventType
from geppetto.turns import Turn

KEY = "bench-key"


# -- streams -----------------------------------------------------------------------------------


def _sse(events: list[Any], *, named: bool = False, crlf: bool = False) -> bytes:
    sep = b"\r\n\r\n" if crlf else b"\n\n"
    out = []
    for event in events:
        head = b"event: " + event["type"].encode() + b"\n" if named else b""
        out.append(head + b"data: " + orjson.dumps(event) + sep)
    return b"".join(out)


def openai_chat_stream(n: int) -> bytes:
    base = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    ]
    events += [
        {**base, "choices": [{"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}]}
        for i in range(n)
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append(
        {**base, "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1}}
    )
    return _sse(events) + b"data: [DONE]\n\n"


def responses_stream(n: int) -> bytes:
    response = {"id": "resp_b", "object": "response", "status": "in_progress", "model": "m", "output": []}
    item = {"id": "msg_b", "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    events: list[Any] = [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": item},
    ]
    events += [
        {
            "type": "response.output_text.delta",
            "sequence_number": i + 2,
            "item_id": "msg_b",
            "output_index": 0,
            "content_index": 0,
            "delta": f"t{i} ",
            "logprobs": [],
        }
        for i in range(n)
    ]
    usage = {
        "input_tokens": 1,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": n,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": n + 1,
    }
    done = {**response, "status": "completed", "usage": usage}
    events.append({"type": "response.completed", "sequence_number": n + 2, "response": done})
    return _sse(events, named=True)


def anthropic_stream(n: int) -> bytes:
    message = {
        "id": "msg_b",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    events: list[Any] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f"t{i} "}}
        for i in range(n)
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": n},
        },
        {"type": "message_stop"},
    ]
    return _sse(events, named=True)


def gemini_stream(n: int) -> bytes:
    events = []
    for i in range(n):
        candidate: dict[str, Any] = {"content": {"parts": [{"text": f"t{i} "}], "role": "model"}, "index": 0}
        if i == n - 1:
            candidate["finishReason"] = "STOP"
        usage = {"promptTokenCount": 1, "candidatesTokenCount": i + 1, "totalTokenCount": i + 2}
        events.append(
            {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "m", "responseId": "r"}
        )
    return b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events)


def ollama_stream(n: int) -> bytes:
    lines = [
        {
            "model": "m",
            "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": f"t{i} "},
            "done": False,
        }
        for i in range(n)
    ]
    lines.append(
        {
            "model": "m",
            "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 1,
            "eval_count": n,
        }
    )
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


# -- server ------------------------------------------------------------------------------------


class StreamServer:
    def __init__(self) -> None:
        self.body = b""
        self.content_type = "text/event-stream"
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": self.content_type})
        await response.prepare(request)
        await response.write(self.body)
        await response.write_eof()
        return response


# -- measurement -------------------------------------------------------------------------------


class FirstText:
    """Sink that notes when the first text event arrives and counts text events."""

    def __init__(self) -> None:
        self.first = 0.0
        self.count = 0

    def publish(self, event: Event) -> None:
        if event.type is EventType.PARTIAL:
            if not self.count:
                self.first = time.perf_counter()
            self.count += 1


async def run_adapter(engine: ProviderEngine, n: int) -> tuple[float, float]:
    sink = FirstText()
    started = time.perf_counter()
    await engine.run(Turn.builder().user("hi").build(), RunContext(sink=sink))
    elapsed = time.perf_counter() - started
    assert sink.count == n, f"{engine.name}: {sink.count} text events, expected {n}"
    return elapsed, sink.first - started


RawRun = Callable[[], Awaitable[tuple[float, float]]]


def raw_openai_chat(client: Any, n: int) -> RawRun:
    async def run() -> tuple[float, float]:
        started, first, count = time.perf_counter(), 0.0, 0
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
                first = first or time.perf_counter()
        assert count == n
        return time.perf_counter() - started, first - started

    return run


def raw_responses(client: Any, n: int) -> RawRun:
    async def run() -> tuple[float, float]:
        started, first, count = time.perf_counter(), 0.0, 0
        stream = await client.responses.create(model="m", input="hi", stream=True)
        async for event in stream:
            if event.type == "response.output_text.delta":
                count += 1
                first = first or time.perf_counter()
        assert count == n
        return time.perf_counter() - started, first - started

    return run


def raw_anthropic(client: Any, n: int) -> RawRun:
    async def run() -> tuple[float, float]:
        started, first, count = time.perf_counter(), 0.0, 0
        stream = await client.messages.create(
            model="m", max_tokens=1000, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for event in stream:
            if event.type == "content_block_delta":
                count += 1
                first = first or time.perf_counter()
        assert count == n
        return time.perf_counter() - started, first - started

    return run


def raw_gemini(client: Any, n: int) -> RawRun:
    async def run() -> tuple[float, float]:
        started, first, count = time.perf_counter(), 0.0, 0
        async for chunk in await client.aio.models.generate_content_stream(model="m", contents="hi"):
            if chunk.text:
                count += 1
                first = first or time.perf_counter()
        assert count == n
        return time.perf_counter() - started, first - started

    return run


def raw_ollama(session: Any, url: str, n: int) -> RawRun:
    async def run() -> tuple[float, float]:
        started, first, count = time.perf_counter(), 0.0, 0
        body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        async with session.post(url + "/api/chat", data=body) as resp:
            buffer = b""
            async for chunk in resp.content.iter_any():
                lines = (buffer + chunk).split(b"\n")
                buffer = lines.pop()
                for line in lines:
                    if orjson.loads(line)["message"]["content"]:
                        count += 1
                        first = first or time.perf_counter()
        assert count == n
        return time.perf_counter() - started, first - started

    return run


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import aiohttp
    import anthropic
    import openai
    from google import genai
    from google.genai import types

    n = args.chunks
    server = StreamServer()
    await server.start()
    url = server.url
    openai_client = openai.AsyncOpenAI(
        api_key=KEY, base_url=url + "/v1", http_client=openai.DefaultAioHttpClient()
    )
    anthropic_client = anthropic.AsyncAnthropic(
        api_key=KEY, base_url=url, http_client=anthropic.DefaultAioHttpClient()
    )
    gemini_client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url))
    session = aiohttp.ClientSession()

    families: list[tuple[str, bytes, str, ProviderEngine, RawRun, str]] = [
        (
            "openai-chat",
            openai_chat_stream(n),
            "text/event-stream",
            engine_from_options("openai", "m", openai_base_url=url + "/v1", openai_api_key=KEY, environ={}),
            raw_openai_chat(openai_client, n),
            "openai SDK",
        ),
        (
            "openai-responses",
            responses_stream(n),
            "text/event-stream",
            engine_from_options(
                "openai-responses", "m", openai_base_url=url + "/v1", openai_api_key=KEY, environ={}
            ),
            raw_responses(openai_client, n),
            "openai SDK",
        ),
        (
            "anthropic",
            anthropic_stream(n),
            "text/event-stream",
            engine_from_options("claude", "m", claude_base_url=url, claude_api_key=KEY, environ={}),
            raw_anthropic(anthropic_client, n),
            "anthropic SDK",
        ),
        (
            "gemini",
            gemini_stream(n),
            "text/event-stream",
            engine_from_options("gemini", "m", gemini_base_url=url, gemini_api_key=KEY, environ={}),
            raw_gemini(gemini_client, n),
            "google-genai SDK",
        ),
        (
            "ollama",
            ollama_stream(n),
            "application/x-ndjson",
            engine_from_options("ollama", "m", ollama_base_url=url, environ={}),
            raw_ollama(session, url, n),
            "raw aiohttp+orjson",
        ),
    ]
    rows = []
    for name, body, content_type, engine, raw, raw_label in families:
        server.body, server.content_type = body, content_type
        await run_adapter(engine, n)  # warm-up: imports, connections
        await raw()
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(args.rounds):  # interleaved so machine noise hits both alike
            ours.append(await run_adapter(engine, n))
            theirs.append(await raw())
        our_time = statistics.median(t for t, _ in ours)
        raw_time = statistics.median(t for t, _ in theirs)
        rows.append(
            {
                "family": name,
                "geppetto chunks/s": round(n / our_time),
                "baseline": raw_label,
                "baseline chunks/s": round(n / raw_time),
                "ratio": raw_time / our_time,
                "geppetto first event ms": statistics.median(f for _, f in ours) * 1000,
                "baseline first chunk ms": statistics.median(f for _, f in theirs) * 1000,
            }
        )
        await engine.aclose()
    await openai_client.close()
    await anthropic_client.close()
    await gemini_client.aio.aclose()
    await session.close()
    if server.runner is not None:
        await server.runner.cleanup()
    report(
        f"Provider streaming: {n} text chunks, median of {args.rounds} rounds (ratio >= 0.9 is the target)",
        rows,
        args.json,
    )


if __name__ == "__main__":
    asyncio.run(main())
