"""``geppetto rpc``: the runtime as a subprocess speaking JSON lines, for embedding in any program.

Requests arrive on stdin, one JSON object per line::

    {"id": 1, "method": "run", "params": {"prompt": "hi"}}
    {"id": 2, "method": "run", "params": {"session": "<id>", "prompt": "and then?", "system": "be brief"}}
    {"id": 3, "method": "cancel", "params": {"session": "<id>"}}      # or {"run": 2}: a run request id
    {"id": 4, "method": "history", "params": {"session": "<id>", "last": 2}}
    {"id": 5, "method": "sessions", "params": {"limit": 10}}

``run`` params: ``prompt`` (or ``turn``, a whole seed turn in the turn JSON format), optional
``session`` (continue that session: in memory, else resumed from the store; unknown ids are an
error unless ``"create": true``), optional ``system`` (replaces the system prompt from this turn
on). Without ``session`` a new session is created; its id comes back with every line of the run.
Runs are asynchronous: several sessions can run at once, and ``cancel`` works while one runs.

Responses go to stdout, one JSON object per line, each with a ``type`` and the request ``id``::

    {"type": "ready", "version": "0.1.0", "store": "/path/turns.db"}      # once, at start (store null
                                                                          #   with --no-store)
    {"type": "event", "id": 1, "session": "<id>", "event": {"type": "partial", "meta": {...}, "delta": "RE"}}
    {"type": "result", "id": 1, "session": "<id>", "outcome": "completed", "text": "READY", "turn": {...}}
    {"type": "error", "id": 1, "session": "<id>", "outcome": "cancelled", "turn": {...},
     "error": {"code": "cancelled", "message": "inference cancelled"}}
    {"type": "result", "id": 3, "session": "<id>", "cancelled": true}
    {"type": "result", "id": 4, "session": "<id>", "turns": [{...}, {...}]}
    {"type": "result", "id": 5, "sessions": [{"id": ..., "turn_count": ..., ...}]}
    {"type": "warning", "message": "turn ... was not saved: ..."}

Every run ends with exactly one ``result`` or ``error`` line, after all its ``event`` lines; a
failed or cancelled run's ``error`` line carries the partial turn as stored. ``text`` is the
reply of this run only. A ``cancel`` result acknowledges the request and precedes the run's
last line, which says how the run really ended. Error codes are the runtime's (``cancelled``,
``session_already_active``, ``session_not_active``, ``session_not_found``, ``store_locked``, ...)
plus ``bad_request`` (a line that is not a JSON object, missing or wrong params, an ``id`` that
is not a string or a number, a line over the input limit) and ``unknown_method``. A malformed
line gets an ``error`` line and the process goes on. At end of input the process waits for the
runs in flight, then exits 0; on SIGINT it cancels them (they are stored as cancelled) and
exits 130.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import sys
import threading
from typing import Any, BinaryIO

import orjson

from geppetto.background import background_loop
from geppetto.cli.sessions import ReportingPersister, open_store
from geppetto.errors import ConfigError, GeppettoError, SessionNotActive
from geppetto.events.sinks import CallbackSink
from geppetto.events.types import Event
from geppetto.inputs import LIMITS, describe_size, read_line
from geppetto.session import EngineBuilder, ExecutionHandle, Session
from geppetto.store import SessionNotFound, TurnStore
from geppetto.turns import Block, BlockKind, Turn, TurnMetaKeys, new_id, turn_from_dict, turn_to_dict

RequestId = str | int | float | None


class BadRequest(GeppettoError):
    code = "bad_request"


class UnknownMethod(GeppettoError):
    code = "unknown_method"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else "a value"


class RpcServer:
    """Reads requests, owns the sessions, writes one JSON line per response or event."""

    def __init__(
        self, builder: EngineBuilder, store: TurnStore | None, out: BinaryIO, *, version: str = ""
    ) -> None:
        self.builder = builder
        self.store = store
        self.persister = ReportingPersister(store, self._warn) if store is not None else None
        self.version = version
        self._out = out
        self._write_lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._runs: dict[RequestId, ExecutionHandle] = {}
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._state_lock = threading.Lock()
        self.closed = False

    # -- output ----------------------------------------------------------------------------

    def emit(self, message: dict[str, Any]) -> None:
        data = orjson.dumps(message, default=str) + b"\n"
        with self._write_lock:
            if self.closed:
                return
            try:
                self._out.write(data)
                self._out.flush()
                return
            except (BrokenPipeError, ValueError):
                self.closed = True  # the reader went away; finish quietly
        self.cancel_all()  # and stop generating for nobody (the runs are stored as cancelled)

    def _warn(self, message: str) -> None:
        self.emit({"type": "warning", "message": message})

    def _error(self, request_id: RequestId, exc: BaseException, **extra: Any) -> None:
        code = getattr(exc, "code", "internal_error")
        self.emit({"type": "error", "id": request_id, **extra, "error": {"code": code, "message": str(exc)}})

    # -- input -----------------------------------------------------------------------------

    def serve(self, lines: BinaryIO) -> int:
        store_path = str(self.store.path) if self.store is not None else None
        self.emit({"type": "ready", "version": self.version, "store": store_path})
        number = 0
        try:
            while not self.closed:
                line, fits = read_line(lines, LIMITS.rpc_line)
                if not line and fits:
                    break
                number += 1
                if not fits:
                    limit = describe_size(LIMITS.rpc_line)
                    self._error(None, BadRequest(f"line {number} is larger than the {limit} limit; skipped"))
                elif line.strip():
                    self.handle_line(line, number)
        except KeyboardInterrupt:
            self.cancel_all()
            raise
        finally:
            self.wait_all()
        return 0

    def handle_line(self, line: bytes, number: int) -> None:
        request_id: RequestId = None
        try:
            try:
                request = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"line {number} is not valid JSON: {exc}") from None
            if not isinstance(request, dict):
                raise BadRequest(f"line {number}: a request must be a JSON object")
            raw_id = request.get("id")
            if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int | float)):
                raise BadRequest(f"line {number}: id must be a string or a number, got {_json_kind(raw_id)}")
            request_id = raw_id
            params = request.get("params") or {}
            if not isinstance(params, dict):
                raise BadRequest(f"line {number}: params must be a JSON object")
            method = request.get("method")
            if method == "run":
                self.run(request_id, params)
            elif method == "cancel":
                self.cancel(request_id, params)
            elif method == "history":
                self.history(request_id, params)
            elif method == "sessions":
                self.sessions(request_id, params)
            else:
                raise UnknownMethod(f"unknown method {method!r}; expected run, cancel, history or sessions")
        except GeppettoError as exc:
            self._error(request_id, exc)
        except Exception as exc:  # a bug must not take the other sessions down
            self._error(request_id, exc)

    # -- methods ---------------------------------------------------------------------------

    def run(self, request_id: RequestId, params: dict[str, Any]) -> None:
        session = self._session_for(params)
        seed = self._seed(session, params)
        sink = CallbackSink(lambda event: self._event(request_id, session.id, event))
        handle = session.start(seed, sinks=[sink])  # schedules on the runtime loop, returns at once
        with self._state_lock:
            self._runs[request_id] = handle
        if self.closed:  # the pipe closed before the run was registered: cancel_all missed it
            handle.cancel()
        future = asyncio.run_coroutine_threadsafe(
            self._finish(request_id, session, handle, len(seed.blocks)), background_loop()
        )
        with self._state_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._state_lock:
            self._pending.discard(future)

    def _event(self, request_id: RequestId, session_id: str, event: Event) -> None:
        self.emit({"type": "event", "id": request_id, "session": session_id, "event": event.to_dict()})

    async def _finish(
        self, request_id: RequestId, session: Session, handle: ExecutionHandle, before: int
    ) -> None:
        try:
            turn = await handle
        except GeppettoError as exc:
            partial = session.latest()
            outcome = "cancelled" if exc.code == "cancelled" else "failed"
            turn_dict = turn_to_dict(partial) if partial is not None else None
            self._error(request_id, exc, session=session.id, outcome=outcome, turn=turn_dict)
        else:
            text = "\n".join(b.text for b in turn.blocks[before:] if b.kind is BlockKind.LLM_TEXT and b.text)
            self.emit(
                {
                    "type": "result",
                    "id": request_id,
                    "session": session.id,
                    "outcome": "completed",
                    "text": text,
                    "turn": turn_to_dict(turn),
                }
            )
        finally:
            with self._state_lock:
                if self._runs.get(request_id) is handle:
                    del self._runs[request_id]

    def cancel(self, request_id: RequestId, params: dict[str, Any]) -> None:
        """Acknowledge, then cancel: the ``cancel`` result always precedes the run's own last line."""
        if "run" in params:
            run_id = params["run"]
            if not isinstance(run_id, str | int | float):
                raise BadRequest("params.run must be the id of a run request")
            with self._state_lock:
                handle = self._runs.get(run_id)
            if handle is None or not handle.is_running:
                raise SessionNotActive(f"no active run with request id {run_id!r}")
        else:
            session_id = _required_session(params)
            with self._state_lock:
                running = [h for h in self._runs.values() if h.session_id == session_id and h.is_running]
            if not running:
                raise SessionNotActive()
            handle = running[0]
        self.emit({"type": "result", "id": request_id, "session": handle.session_id, "cancelled": True})
        handle.cancel()

    def history(self, request_id: RequestId, params: dict[str, Any]) -> None:
        session_id = _required_session(params)
        last = params.get("last")
        if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 0):
            raise BadRequest("params.last must be a non-negative integer")
        session = self._sessions.get(session_id)
        if session is not None:
            turns = session.turns()
            if last is not None:
                turns = turns[len(turns) - last :] if last else []
        elif self.store is not None:
            session_id = self.store.resolve_session(session_id)
            turns = self.store.load_turns(session_id, last=last) if last != 0 else []
        else:
            raise SessionNotFound(f"no session {session_id!r} in this process (the store is off)")
        self.emit(
            {
                "type": "result",
                "id": request_id,
                "session": session_id,
                "turns": [turn_to_dict(t) for t in turns],
            }
        )

    def sessions(self, request_id: RequestId, params: dict[str, Any]) -> None:
        limit = params.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise BadRequest("params.limit must be a positive integer")
        stored = self.store.list_sessions(limit=limit) if self.store is not None else []
        self.emit({"type": "result", "id": request_id, "sessions": [info.to_dict() for info in stored]})

    # -- helpers ---------------------------------------------------------------------------

    def _session_for(self, params: dict[str, Any]) -> Session:
        session_id = _optional_session(params)
        if session_id is None:
            fresh = Session(self.builder, store=self.persister)
            self._sessions[fresh.id] = fresh
            return fresh
        known = self._sessions.get(session_id)
        if known is not None:
            return known
        if self.store is not None:
            try:
                full_id = self.store.resolve_session(session_id)
            except SessionNotFound:
                if not params.get("create"):
                    raise
            else:
                session = self._sessions.get(full_id) or Session(
                    self.builder,
                    session_id=full_id,
                    turns=self.store.load_turns(full_id),
                    store=self.persister,
                )
                self._sessions[full_id] = session
                return session
        if not params.get("create"):
            raise SessionNotFound(f'no session {session_id!r}; pass "create": true to start one with this id')
        session = Session(self.builder, session_id=session_id, store=self.persister)
        self._sessions[session_id] = session
        return session

    def _seed(self, session: Session, params: dict[str, Any]) -> Turn:
        system = params.get("system")
        if system is not None and not isinstance(system, str):
            raise BadRequest("params.system must be a string")
        if "turn" in params:
            seed = turn_from_dict(params["turn"])
        else:
            prompt = params.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise BadRequest("run needs params.prompt (a non-empty string) or params.turn")
            latest = session.latest()
            seed = Turn(latest.blocks, latest.metadata, latest.data) if latest is not None else Turn()
            seed.metadata.pop(TurnMetaKeys.INFERENCE_ID.id, None)
            seed.metadata.pop(TurnMetaKeys.INFERENCE_RESULT.id, None)
            seed.blocks.append(Block.user(prompt))
        seed.id = seed.id or new_id()
        if system is not None:
            seed.blocks = [block for block in seed.blocks if block.kind is not BlockKind.SYSTEM]
            if system:
                seed.blocks.insert(0, Block.system(system))
        return seed

    def cancel_all(self) -> None:
        with self._state_lock:
            handles = list(self._runs.values())
        for handle in handles:
            handle.cancel()

    def wait_all(self) -> None:
        """Wait for the runs in flight (their result lines are written before this returns)."""
        while True:
            with self._state_lock:
                pending = list(self._pending)
            if not pending:
                return
            try:
                concurrent.futures.wait(pending)
            except KeyboardInterrupt:
                self.cancel_all()


def _optional_session(params: dict[str, Any]) -> str | None:
    value = params.get("session")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("params.session must be a non-empty string")
    return value.strip()


def _required_session(params: dict[str, Any]) -> str:
    session_id = _optional_session(params)
    if session_id is None:
        raise BadRequest("params.session (a session id) is required")
    return session_id


def run(args: argparse.Namespace) -> int:
    from geppetto.cli import VERSION
    from geppetto.cli.mcp import command_tools
    from geppetto.cli.profiles import builder_from_args

    try:
        builder = builder_from_args(args)
    except GeppettoError as exc:
        raise ConfigError(f"failed to create engine: {exc}") from None
    mcp = command_tools(args)  # --mcp / --mcp-config: the servers stop when the pipe closes
    store = None
    try:
        if mcp is not None:
            builder.with_tools(mcp.registry())
        store = open_store(args)
        server = RpcServer(builder, store, sys.stdout.buffer, version=VERSION)
        return server.serve(sys.stdin.buffer)
    finally:
        if store is not None:
            store.close()
        if mcp is not None:
            mcp.close()
