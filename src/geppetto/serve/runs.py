"""One request's run: a session of the runtime, streamed or not, cancelled when the client leaves.

The run executes inside the handler's own task (``Session.arun``): no task, waiter or queue per
request. Every run is registered in :class:`RunRegistry` while it is inside ``arun``, so shutdown
can wait for or cancel in-flight runs and know that each has reached the store (the session
persists before ``arun`` returns or raises).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import orjson
from aiohttp import web

from geppetto.errors import ConfigError, InferenceCancelled, SessionNotActive
from geppetto.serve.errors import APIError
from geppetto.serve.response import ChunkWriter, completion
from geppetto.serve.stream import StreamSink, tail
from geppetto.session.session import Session
from geppetto.turns.keys import TurnMetaKeys
from geppetto.turns.model import Turn

log = logging.getLogger("geppetto.serve")

SESSION_HEADER = "X-Geppetto-Session-Id"
_POLL_S = 0.2  # how often the registry checks that the clients of running requests are connected
_INFERENCE_ID = TurnMetaKeys.INFERENCE_ID.id


class Run:
    """A request whose session is running: ``left`` once its client went away."""

    __slots__ = ("left", "request", "session")

    def __init__(self, request: web.Request, session: Session) -> None:
        self.request = request
        self.session = session
        self.left = False

    def cancel(self) -> None:
        with contextlib.suppress(SessionNotActive):
            self.session.cancel_active()


class RunRegistry:
    """The runs in flight (for graceful shutdown and disconnect checks).

    One timer for all of them polls their transports every 0.2 s and cancels the runs whose client
    has gone (aiohttp does not cancel handlers by default, so runs would otherwise go on for
    nobody); it only runs while some request is in flight, and a request costs a set insertion.
    """

    def __init__(self) -> None:
        self.active: set[Run] = set()
        self.accepting = True
        self._timer: asyncio.TimerHandle | None = None
        self._idle: asyncio.Future[None] | None = None

    def enter(self, request: web.Request, session: Session) -> Run:
        run = Run(request, session)
        self.active.add(run)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(_POLL_S, self._check)
        return run

    def leave(self, run: Run) -> None:
        self.active.discard(run)
        if not self.active and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def _check(self) -> None:
        self._timer = None
        for run in list(self.active):
            transport = run.request.transport
            if not run.left and (transport is None or transport.is_closing()):
                run.left = True
                run.cancel()
        if self.active:
            self._timer = asyncio.get_running_loop().call_later(_POLL_S, self._check)

    def cancel_all(self) -> None:
        for run in list(self.active):
            run.cancel()

    async def drain(self, grace: float) -> None:
        """Let runs finish for ``grace`` seconds, then cancel the rest and wait until each ended
        (and so was stored)."""
        self.accepting = False
        if not self.active:
            return
        idle = self._idle = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(idle), grace)
        if self.active:
            self.cancel_all()
            await idle


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


def _cancelled(run: Run) -> APIError:
    return APIError(499 if run.left else 503, "the request was cancelled", type="server_error")


def inference_id(turn: Turn) -> str:
    return str(turn.metadata.get(_INFERENCE_ID) or "")


async def run_plain(
    request: web.Request,
    session: Session,
    seed: Turn,
    model: str,
    runs: RunRegistry,
    redact: Callable[[str], str],
) -> web.Response:
    start = len(seed.blocks)
    run = runs.enter(request, session)
    try:
        turn = await session.arun(seed)
    except InferenceCancelled:
        raise _cancelled(run) from None
    except Exception as exc:
        raise run_error(exc, redact) from None
    finally:
        runs.leave(run)
    body = completion(turn, start, model, inference_id(turn), int(time.time()))
    headers = {SESSION_HEADER: session.id, "Content-Type": "application/json"}
    return web.Response(body=orjson.dumps(body), headers=headers)


async def run_stream(
    request: web.Request,
    session: Session,
    seed: Turn,
    model: str,
    include_usage: bool,
    runs: RunRegistry,
    redact: Callable[[str], str],
    *,
    stream_tools: bool = True,
) -> web.StreamResponse:
    """SSE chunks as OpenAI sends them. Headers go out with the first delta, so a run that fails
    before producing anything is still answered with a proper error status. Deltas an engine
    publishes while the run is suspended are written by a writer task made at that moment; a run
    that never suspends (echo) is answered in one write after it ends, by the handler itself."""
    start = len(seed.blocks)
    headers = {SESSION_HEADER: session.id, "Cache-Control": "no-cache"}
    sink = StreamSink(request, headers, model, include_usage, stream_tools)
    run = runs.enter(request, session)
    sink.on_gone = run.cancel
    error: Exception | None = None
    turn: Turn | None = None
    try:
        try:
            turn = await session.arun(seed, sinks=[sink])
        except Exception as exc:  # InferenceCancelled included
            error = exc
        finally:
            runs.leave(run)
        if not await sink.settle():
            return sink.response or web.Response(status=499)  # the client left while we wrote
        if isinstance(error, InferenceCancelled):
            if sink.response is None:
                raise _cancelled(run) from None
            return sink.response
        if error is not None:
            api_error = run_error(error, redact)
            if sink.response is None:
                raise api_error from None
            return await sink.finish(sink.take() + ChunkWriter.error(api_error.body()))
        assert turn is not None
        sink.bind(inference_id(turn))
        return await sink.finish(sink.take() + tail(sink, turn, start))
    except ConnectionError:  # the client left while we wrote: nobody to answer
        return sink.response if sink.response is not None else web.Response(status=499)
    finally:
        sink.close()
