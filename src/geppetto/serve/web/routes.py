"""HTTP handlers of the web chat: the page, its static files, and the JSON/SSE API under ``/api/``.

API (JSON bodies; errors are ``{"error": {"message", "code"}}`` with a 4xx/5xx status):

* ``GET /api/profiles`` -> ``{"profiles": [{name, provider, model, error}], "default": name}``
* ``GET /api/sessions`` -> ``{"sessions": [{id, title, turn_count, updated_at_ms, running, ...}]}``
* ``GET /api/sessions/{id}`` -> the session, its latest turn as ``messages``, outcome, profile
* ``DELETE /api/sessions/{id}`` -> ``{"deleted": id, "turns": n}`` (409 while it is answering)
* ``POST /api/sessions/{id}/fork`` ``{"at": index|turn id}`` (optional) -> ``{"id": new id}``
* ``POST /api/chat`` ``{"message", "session"?, "profile"?}`` -> ``text/event-stream``: one
  ``data: {json}`` record per event: ``session``, then ``text``/``reasoning`` deltas,
  ``tool-call``, ``tool-result``, and finally ``done`` (``outcome`` completed|cancelled|failed).
  Closing the connection cancels the run; the partial reply is stored as a cancelled turn.

State-changing requests must be ``application/json`` and, when the browser sends an ``Origin``,
come from this server's own origin: another site's page cannot post to the chat. On a loopback
socket the API answers only to loopback host names (no DNS rebinding). Authentication is the
embedding server's: the page sends ``Authorization: Bearer KEY`` on ``/api/`` requests once the
user has entered the key after a 401 (``/`` and ``/static/`` hold no data and need none).
"""

from __future__ import annotations

import asyncio
import contextlib
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from geppetto.errors import GeppettoError
from geppetto.serve.security import foreign_host
from geppetto.serve.web.chats import ChatRun, ChatRuns, check_profile
from geppetto.serve.web.profiles import redactor
from geppetto.serve.web.views import session_document, session_summary

MAX_MESSAGE_CHARS = 512 * 1024
# How often a stream that has nothing to send checks whether its client is still there.
DISCONNECT_POLL_S = 0.2

_STATIC_TYPES = {
    "app.js": "text/javascript",
    "markdown.js": "text/javascript",
    "app.css": "text/css",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_STATUS = {
    "session_not_found": 404,
    "turn_not_found": 404,
    "session_already_active": 409,
    "config_error": 400,
    "turn_error": 400,
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _error(status: int, message: str, code: str) -> web.Response:
    body = orjson.dumps({"error": {"message": message, "code": code}})
    return web.Response(status=status, body=body, content_type="application/json")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _static_file(name: str) -> bytes:
    return (resources.files("geppetto.serve.web") / "static" / name).read_bytes()


class WebChatRoutes:
    """The handlers, bound to one :class:`ChatRuns`."""

    def __init__(self, runs: ChatRuns) -> None:
        self.runs = runs
        self.store = runs.store
        self.profiles = runs.profiles

    def add_to(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/", self.page)
        router.add_get("/static/{name}", self.static)
        router.add_get("/api/profiles", self.guard(self.list_profiles))
        router.add_get("/api/sessions", self.guard(self.list_sessions))
        router.add_get("/api/sessions/{id}", self.guard(self.open_session))
        router.add_delete("/api/sessions/{id}", self.guard(self.delete_session))
        router.add_post("/api/sessions/{id}/fork", self.guard(self.fork_session))
        router.add_post("/api/chat", self.guard(self.chat))

    def guard(self, handler: Any) -> Any:
        """Same-origin and content-type checks, and errors in one JSON shape."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                _check_host(request)
                if request.method not in ("GET", "HEAD"):
                    _check_origin(request)
                result: web.StreamResponse = await handler(request)
                return result
            except ApiError as exc:
                return _error(exc.status, str(exc), exc.code)
            except GeppettoError as exc:
                return _error(_STATUS.get(exc.code, 500), str(exc), exc.code)
            except web.HTTPRequestEntityTooLarge:
                return _error(413, "the request body is too large", "too_large")

        return guarded

    # -- page ------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        body = _static_file("index.html")
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        content_type = _STATIC_TYPES.get(name)
        if content_type is None:  # a fixed list: no path ever reaches the filesystem
            raise web.HTTPNotFound(text=f"no static file {name!r}")
        return web.Response(
            body=_static_file(name), content_type=content_type, charset="utf-8", headers=_PAGE_HEADERS
        )

    # -- JSON API --------------------------------------------------------------------------

    async def list_profiles(self, request: web.Request) -> web.Response:
        choices = await asyncio.to_thread(self.profiles.choices)
        return _json({"profiles": [c.to_dict() for c in choices], "default": self.profiles.default()})

    async def list_sessions(self, request: web.Request) -> web.Response:
        limit = _int_param(request, "limit", 200, 1, 10_000)
        infos = await asyncio.to_thread(self.store.list_sessions, limit=limit)
        running = self.runs.running()
        return _json({"sessions": [session_summary(i, running=i.id in running) for i in infos]})

    async def open_session(self, request: web.Request) -> web.Response:
        def read() -> dict[str, Any]:
            sid = self.store.resolve_session(request.match_info["id"])
            info = self.store.session_info(sid)
            stored = self.store.get_turn(sid)
            document = session_document(info, stored, running=self.runs.is_running(sid))
            if document["error"]:  # stored as the run raised it: scrub the profile's secrets
                profile = document["profile"] or ""
                document["error"] = redactor(self.profiles, profile)(document["error"])
            return document

        return _json(await asyncio.to_thread(read))

    async def delete_session(self, request: web.Request) -> web.Response:
        sid = request.match_info["id"]
        if not self.runs.is_running(sid):  # a running new session is not stored yet
            sid = await asyncio.to_thread(self.store.resolve_session, sid)
        if self.runs.is_running(sid):
            raise ApiError(409, f"session {sid} is answering; stop the reply before deleting it", "busy")
        count = await asyncio.to_thread(self.store.delete_session, sid)
        return _json({"deleted": sid, "turns": count})

    async def fork_session(self, request: web.Request) -> web.Response:
        body = await _json_body(request, allow_empty=True)
        at = body.get("at")
        if at is not None and (isinstance(at, bool) or not isinstance(at, int | str)):
            raise ApiError(400, "'at' must be a turn index (integer) or a turn id (string)", "bad_request")
        sid = await asyncio.to_thread(self.store.resolve_session, request.match_info["id"])
        fork_id = await asyncio.to_thread(self.store.fork, sid, at=at)
        return _json({"id": fork_id, "forked_from": sid}, status=201)

    # -- streaming replies -----------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        message = body.get("message")
        if not isinstance(message, str) or not message.strip():
            raise ApiError(400, "'message' must be a non-empty string", "bad_request")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ApiError(400, f"'message' is longer than {MAX_MESSAGE_CHARS} characters", "too_large")
        session = body.get("session")
        if session is not None:
            if not isinstance(session, str):
                raise ApiError(400, "'session' must be a session id (string) or null", "bad_request")
            if not self.runs.is_running(session):  # else start() refuses it below
                session = await asyncio.to_thread(self.store.resolve_session, session)
        profile = body.get("profile", self.profiles.default())
        if not isinstance(profile, str):
            raise ApiError(400, "'profile' must be a profile name (string)", "bad_request")
        await asyncio.to_thread(check_profile, self.profiles, profile)
        run = await self.runs.start(session, profile, message.strip())
        return await _stream(request, run, new=session is None)


async def _stream(request: web.Request, run: ChatRun, *, new: bool) -> web.StreamResponse:
    """Send the run's records as server-sent events until it ends or the client goes away."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "X-Content-Type-Options": "nosniff",
        }
    )
    getter: asyncio.Future[dict[str, Any] | None] | None = None
    try:
        await response.prepare(request)
        opening = {"type": "session", "session_id": run.session_id, "profile": run.profile, "new": new}
        await _send(response, opening)
        queue = run.queue
        ended = False
        while not ended:
            if getter is None:  # kept across polls: cancelling a get() could lose its item
                getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter}, timeout=DISCONNECT_POLL_S)
            if not done:
                if _gone(request):
                    break
                continue
            records = [getter.result()]
            getter = None
            while not queue.empty():  # everything queued so far goes out in one write
                records.append(queue.get_nowait())
            chunk: list[bytes] = []
            for record in records:
                if record is None:
                    chunk.append(_frame(run.outcome()))
                    ended = True
                    break
                chunk.append(_frame(record))
            await response.write(b"".join(chunk))
    except ConnectionError:
        pass  # the browser went away (Stop, reload, closed tab): cancelled below
    finally:
        if getter is not None:
            getter.cancel()
        if not run.handle.done():
            run.handle.cancel()
            with contextlib.suppress(GeppettoError, asyncio.CancelledError):
                await run.handle  # stored (as a cancelled run) before the handler returns
    return response


def _frame(record: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(record) + b"\n\n"


async def _send(response: web.StreamResponse, record: dict[str, Any]) -> None:
    await response.write(_frame(record))


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _check_host(request: web.Request) -> None:
    """On a loopback socket, answer only to loopback names: another site whose DNS name rebinds to
    127.0.0.1 must not read the sessions (beyond loopback, the server's API key guards them)."""
    name = foreign_host(request)
    if name is not None:
        raise ApiError(
            403, f"this server only answers to localhost and loopback addresses, not {name!r}", "forbidden"
        )


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise ApiError(403, "cross-origin requests to the web chat API are refused", "forbidden")
    if request.method == "POST" and request.content_type != "application/json":
        raise ApiError(415, "send the request body as application/json", "unsupported_media_type")


async def _json_body(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip() and allow_empty:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}", "bad_request") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "bad_request")
    return body


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"'{name}' must be a whole number", "bad_request") from None
    if not low <= value <= high:
        raise ApiError(400, f"'{name}' must be between {low} and {high}", "bad_request")
    return value


__all__ = ["ApiError", "WebChatRoutes"]
