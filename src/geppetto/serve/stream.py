"""The event sink of a streamed completion: run events -> ``chat.completion.chunk`` SSE frames.

Deltas are kept as they arrive and written by whoever is free: while the run is suspended (a
provider waiting on the network) a writer task, made when the first delta arrives, sends
everything that piled up in one write; when the run ends before that task was needed (the echo
engine never suspends) the handler sends the whole answer in one write. Consecutive deltas of one
kind become one chunk. Text is ``delta.content``, reasoning ``delta.reasoning_content`` (as
DeepSeek and vLLM send it), and tool calls go out as the engine announces them: index, id and
name first, then the argument fragments, in OpenAI's shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from threading import get_ident
from typing import Any

from aiohttp import web

from geppetto.events.canonical import ToolCallArgumentsDeltaEvent, ToolCallStartedEvent
from geppetto.events.types import Event, PartialEvent, PartialThinkingEvent
from geppetto.serve.response import ChunkWriter, finish_reason, pending_tool_calls, reasoning_text, reply_text
from geppetto.turns.model import Turn

_CONTENT, _REASONING, _TOOL = 0, 1, 2
_KEYS = ("content", "reasoning_content")


def _nothing() -> None:
    return None


class StreamSink:
    """Collects one run's deltas and writes them to the client (see the module doc)."""

    # The events acted on: engines and the session build no other (see events.sinks.wanted_types).
    event_types = frozenset(
        {PartialEvent, PartialThinkingEvent, ToolCallStartedEvent, ToolCallArgumentsDeltaEvent}
    )

    __slots__ = (
        "_chunks",
        "_gone",
        "_headers",
        "_include_usage",
        "_kicked",
        "_loop",
        "_model",
        "_owner",
        "_pending",
        "_request",
        "_stream_tools",
        "_wake",
        "_writer",
        "ended",
        "on_gone",
        "reasoning",
        "response",
        "text",
        "tools",
    )

    def __init__(
        self,
        request: web.Request,
        headers: dict[str, str],
        model: str,
        include_usage: bool,
        stream_tools: bool,
    ) -> None:
        self._request = request
        self._headers = headers
        self._model = model
        self._include_usage = include_usage
        self._stream_tools = stream_tools
        self._loop = asyncio.get_running_loop()
        self._owner = get_ident()
        self._chunks: ChunkWriter | None = None
        self._pending: list[tuple[int, Any]] = []
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._kicked = False
        self._gone = False
        self.ended = False
        self.response: web.StreamResponse | None = None
        self.on_gone: Callable[[], None] = _nothing
        self.text: list[str] = []  # what went out as content, for the tail
        self.reasoning: list[str] = []
        self.tools: dict[str, list[Any]] = {}  # call id -> [index, streamed argument fragments]

    # -- the sink side (the run's task, or an engine's worker thread) ------------------------

    def publish(self, event: Event) -> None:
        kind = type(event)
        if kind is PartialEvent:
            item: tuple[int, Any] = (_CONTENT, event.delta)  # type: ignore[attr-defined]
        elif kind is PartialThinkingEvent:
            item = (_REASONING, event.delta)  # type: ignore[attr-defined]
        elif kind is ToolCallStartedEvent and self._stream_tools:
            item = (_TOOL, (event.tool_call_id, event.tool_name, None))  # type: ignore[attr-defined]
        elif kind is ToolCallArgumentsDeltaEvent and self._stream_tools:
            item = (_TOOL, (event.tool_call_id, None, event.delta))  # type: ignore[attr-defined]
        else:
            return
        if self._chunks is None:
            self.bind(event.meta.inference_id)
        if get_ident() == self._owner:
            self._add(item)
        else:  # an engine's worker thread: hand it to the loop
            self._loop.call_soon_threadsafe(self._add, item)

    def bind(self, inference_id: str) -> None:
        """Fix the completion id (the run's inference id) before the first chunk is built."""
        if self._chunks is None:
            self._chunks = ChunkWriter(self._model, inference_id)

    def _add(self, item: tuple[int, Any]) -> None:
        self._pending.append(item)
        if self._writer is None:
            if not self._kicked and not self.ended:
                self._kicked = True
                self._loop.call_soon(self._kick)
        elif self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _kick(self) -> None:
        """A loop turn after the first delta: if the run is still going, a writer takes over."""
        if not self.ended and self._pending:
            self._writer = self._loop.create_task(self._write_loop())

    async def _write_loop(self) -> None:
        try:
            while True:
                if self._pending:
                    await self._send(self.take())
                    continue
                if self.ended:
                    return
                self._wake = self._loop.create_future()
                await self._wake
                self._wake = None
        except ConnectionError:
            self._gone = True
            self.on_gone()

    # -- the handler side -----------------------------------------------------------------

    def take(self) -> bytes:
        """The frames of what is pending (consecutive deltas of one kind merged)."""
        pending, self._pending = self._pending, []
        if not pending:
            return b""
        chunks = self._chunks
        assert chunks is not None
        usage = self._include_usage
        out: list[bytes] = []
        index = 0
        while index < len(pending):
            kind, value = pending[index]
            index += 1
            if kind == _TOOL:
                out.append(chunks.delta({"tool_calls": [self._tool_delta(*value)]}, with_usage=usage))
                continue
            parts = [value]
            while index < len(pending) and pending[index][0] == kind:
                parts.append(pending[index][1])
                index += 1
            text = "".join(parts)
            (self.text if kind == _CONTENT else self.reasoning).append(text)
            out.append(chunks.delta({_KEYS[kind]: text}, with_usage=usage))
        return b"".join(out)

    def _tool_delta(self, call_id: str, name: str | None, fragment: str | None) -> dict[str, Any]:
        state = self.tools.get(call_id)
        if state is None:
            state = self.tools[call_id] = [len(self.tools), []]
            if fragment is None:  # tool-call-started: the call's head
                head = {"name": name or "", "arguments": ""}
                return {"index": state[0], "id": call_id, "type": "function", "function": head}
        state[1].append(fragment or "")
        return {"index": state[0], "function": {"arguments": fragment or ""}}

    async def _send(self, data: bytes) -> None:
        response = self.response
        if response is None:
            response = self.response = web.StreamResponse(headers=self._headers)
            response.content_type = "text/event-stream"
            await response.prepare(self._request)
            assert self._chunks is not None
            opening = {"role": "assistant", "content": ""}
            data = self._chunks.delta(opening, with_usage=self._include_usage) + data
        await response.write(data)

    async def settle(self) -> bool:
        """The run has ended: let a writer send what it holds. False when the client has gone."""
        self.ended = True
        writer = self._writer
        if writer is not None:
            if self._wake is not None and not self._wake.done():
                self._wake.set_result(None)
            await writer
        return not self._gone

    async def finish(self, data: bytes) -> web.StreamResponse:
        """The last write. When nothing went out yet the whole stream is one response with a
        length (one send instead of headers, chunks and a terminator: SSE clients read it alike)."""
        response = self.response
        if response is None:
            assert self._chunks is not None
            opening = self._chunks.delta({"role": "assistant", "content": ""}, with_usage=self._include_usage)
            headers = {**self._headers, "Content-Type": "text/event-stream"}
            response = self.response = web.Response(body=opening + data, headers=headers)
            return response
        await response.write_eof(data)
        return response

    def close(self) -> None:
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()

    @property
    def chunks(self) -> ChunkWriter:
        assert self._chunks is not None
        return self._chunks

    @property
    def include_usage(self) -> bool:
        return self._include_usage


def tail(sink: StreamSink, turn: Turn, start: int) -> bytes:
    """What follows the deltas: reasoning and text the engine did not stream (function engines),
    tool calls or argument ends not streamed, the finish chunk, usage, ``[DONE]``."""
    chunks, usage = sink.chunks, sink.include_usage
    out: list[bytes] = []
    for key, produced, streamed in (
        ("reasoning_content", reasoning_text(turn, start), "".join(sink.reasoning)),
        ("content", reply_text(turn, start), "".join(sink.text)),
    ):
        if produced.startswith(streamed) and len(produced) > len(streamed):
            out.append(chunks.delta({key: produced[len(streamed) :]}, with_usage=usage))
    calls = pending_tool_calls(turn, start)
    deltas: list[dict[str, Any]] = []
    for call in calls:
        state = sink.tools.get(call["id"])
        if state is None:
            deltas.append({"index": len(sink.tools) + len(deltas), **call})
            continue
        arguments, streamed = call["function"]["arguments"], "".join(state[1])
        if not streamed:
            deltas.append({"index": state[0], "function": {"arguments": arguments}})
        elif arguments.startswith(streamed) and len(arguments) > len(streamed):
            deltas.append({"index": state[0], "function": {"arguments": arguments[len(streamed) :]}})
    if deltas:
        out.append(chunks.delta({"tool_calls": deltas}, with_usage=usage))
    out.append(chunks.delta({}, finish_reason(turn, bool(calls)), usage))
    if usage:
        out.append(chunks.usage(turn))
    out.append(ChunkWriter.DONE)
    return b"".join(out)
