"""One request's run: a session of the runtime, streamed or not, cancelled when the client leaves.

Every run is registered in :class:`RunRegistry` until its handle settles, so shutdown can wait for
or cancel in-flight runs and know that each has reached the store (the session persists before
its handle settles).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

import orjson
from aiohttp import web

from geppetto.errors import ConfigError, InferenceCancelled
from geppetto.events.types import Event, PartialEvent
from geppetto.serve.errors import APIError
from geppetto.serve.response import ChunkWriter, completion, pending_tool_calls, reply_text
from geppetto.session.session import ExecutionHandle, Session
from geppetto.turns.model import Turn

log = logging.getLogger("geppetto.serve")

SESSION_HEADER = "X-Geppetto-Session-Id"
_POLL_S = 0.2  # how often a run checks that its client is still connected


class RunRegistry:
    """The handles of the runs in flight (for graceful shutdown)."""

    def __init__(self) -> None:
        self.handles: set[ExecutionHandle] = set()
        self.accepting = True
        # Stored sessions a request is continuing (X-Geppetto-Session-Id): one at a time, else
        # both would append to the same latest turn and one reply would drop out of the history.
        self.continuing: set[str] = set()

    def add(self, handle: ExecutionHandle) -> None:
        self.handles.add(handle)
        handle.add_done_callback(self._discard)

    def _discard(self, handle: ExecutionHandle) -> None:
        self.handles.discard(handle)

    def cancel_all(self) -> None:
        for handle in list(self.handles):
            handle.cancel()

    async def drain(self, grace: float) -> None:
        """Let runs finish for ``grace`` seconds, then cancel the rest and wait until each settled
        (and so was stored)."""
        self.accepting = False
        pending = [_settled(handle) for handle in list(self.handles)]
        if not pending:
            return
        _done, late = await asyncio.wait([asyncio.ensure_future(p) for p in pending], timeout=grace)
        self.cancel_all()
        if late:
            await asyncio.wait(late)


async def _settled(handle: ExecutionHandle) -> None:
    with contextlib.suppress(BaseException):
        await handle


def run_error(exc: BaseException, redact: Callable[[str], str]) -> APIError:
    """A failed run as an OpenAI error (the message scrubbed of the profile's keys)."""
    message = redact(str(exc))
    log.warning("run failed: %s", message)
    code = getattr(exc, "code", "")
    if code == "context_overflow":
        return APIError(400, message, param="messages", code="context_length_exceeded")
    if isinstance(exc, ConfigError) and code != "local_model_not_installed":
        return APIError(400, f"inference failed: {message}")
    return APIError(500, f"inference failed: {message}", type="server_error")


class _Watch:
    """Cancels ``handle`` when the client's connection closes (aiohttp does not cancel handlers
    by default, so runs would otherwise go on for nobody). A timer, not a task: it costs nothing
    for the many runs that end before its first check."""

    __slots__ = ("_handle", "_request", "_timer", "left")

    def __init__(self, request: web.Request, handle: ExecutionHandle) -> None:
        self.left = False
        self._request = request
        self._handle = handle
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(_POLL_S, self._check)

    def _check(self) -> None:
        if self._handle.done():
            self._timer = None
            return
        transport = self._request.transport
        if transport is None or transport.is_closing():
            self.left = True
            self._timer = None
            self._handle.cancel()
            return
        self._timer = asyncio.get_running_loop().call_later(_POLL_S, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _finish_cancelled(handle: ExecutionHandle) -> None:
    """The handler itself was cancelled: stop the run and wait until its partial turn is stored."""
    handle.cancel()
    await asyncio.shield(_settled(handle))


def _headers(session: Session) -> dict[str, str]:
    return {SESSION_HEADER: session.id}


async def run_plain(
    request: web.Request,
    session: Session,
    seed: Turn,
    model: str,
    runs: RunRegistry,
    redact: Callable[[str], str],
) -> web.Response:
    start = len(seed.blocks)
    handle = session.start(seed)
    runs.add(handle)
    watch = _Watch(request, handle)
    try:
        turn = await handle
    except asyncio.CancelledError:
        await _finish_cancelled(handle)
        raise
    except InferenceCancelled:
        raise APIError(499 if watch.left else 503, "the request was cancelled", type="server_error") from None
    except Exception as exc:
        raise run_error(exc, redact) from None
    finally:
        watch.stop()
    body = completion(turn, start, model, handle.inference_id, int(time.time()))
    return web.Response(body=orjson.dumps(body), content_type="application/json", headers=_headers(session))


class _DeltaSink:
    """Text deltas of the run, handed to the request's loop (engines may publish from a worker)."""

    __slots__ = ("_loop", "_owner", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = loop
        self._owner = threading.get_ident()

    def publish(self, event: Event) -> None:
        if type(event) is PartialEvent and event.delta:
            self.put(event.delta)

    def put(self, item: str | None) -> None:
        if threading.get_ident() == self._owner:
            self.queue.put_nowait(item)
        else:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)


async def run_stream(
    request: web.Request,
    session: Session,
    seed: Turn,
    model: str,
    include_usage: bool,
    runs: RunRegistry,
    redact: Callable[[str], str],
) -> web.StreamResponse:
    """SSE chunks as OpenAI sends them. Headers go out with the first delta, so a run that fails
    before producing anything is still answered with a proper error status."""
    start = len(seed.blocks)
    loop = asyncio.get_running_loop()
    sink = _DeltaSink(loop)
    handle = session.start(seed, sinks=[sink], loop=loop)
    runs.add(handle)
    handle.add_done_callback(lambda _h: sink.put(None))
    watch = _Watch(request, handle)
    chunks = ChunkWriter(model, handle.inference_id)
    response: web.StreamResponse | None = None
    sent: list[str] = []

    async def send(data: bytes, last: bool = False) -> None:
        nonlocal response
        if response is None:
            response = web.StreamResponse(headers={**_headers(session), "Cache-Control": "no-cache"})
            response.content_type = "text/event-stream"
            await response.prepare(request)
            data = chunks.delta({"role": "assistant", "content": ""}, with_usage=include_usage) + data
        if last:
            await response.write_eof(data)
        else:
            await response.write(data)

    held = b""  # deltas read together with the end of the run go out with the tail, in one write
    try:
        while True:
            item = await sink.queue.get()
            if item is None:
                break
            parts = [item]
            ended = False
            while not sink.queue.empty():  # batch what has piled up into one write
                more = sink.queue.get_nowait()
                if more is None:
                    ended = True
                    break
                parts.append(more)
            text = "".join(parts)
            sent.append(text)
            if ended:
                held = chunks.text(text, include_usage)
                break
            await send(chunks.text(text, include_usage))
        try:
            turn = await handle
        except InferenceCancelled:
            if response is None:
                raise APIError(
                    499 if watch.left else 503, "the request was cancelled", type="server_error"
                ) from None
            return response
        except Exception as exc:
            error = run_error(exc, redact)
            if response is None:
                raise error from None
            await response.write_eof(held + ChunkWriter.error(error.body()))
            return response
        await send(held + _tail(chunks, turn, start, "".join(sent), include_usage), last=True)
        assert response is not None
        return response
    except asyncio.CancelledError:
        await _finish_cancelled(handle)
        raise
    except ConnectionError:  # the client left while we wrote: nobody to answer
        await _finish_cancelled(handle)
        return response if response is not None else web.Response(status=499)
    finally:
        watch.stop()


def _tail(chunks: ChunkWriter, turn: Turn, start: int, streamed: str, include_usage: bool) -> bytes:
    """What follows the deltas: text engines did not stream, tool calls, the finish chunk, usage."""
    from geppetto.serve.response import finish_reason

    out = []
    text = reply_text(turn, start)
    if text.startswith(streamed) and len(text) > len(streamed):
        out.append(chunks.text(text[len(streamed) :], include_usage))
    calls = pending_tool_calls(turn, start)
    if calls:
        indexed = [{"index": index, **call} for index, call in enumerate(calls)]
        out.append(chunks.delta({"tool_calls": indexed}, with_usage=include_usage))
    out.append(chunks.delta({}, finish_reason(turn, bool(calls)), include_usage))
    if include_usage:
        out.append(chunks.usage(turn))
    out.append(ChunkWriter.DONE)
    return b"".join(out)
