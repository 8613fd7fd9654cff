"""``create_app``: the OpenAI-compatible API as an ``aiohttp.web.Application``.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /healthz``. Every error, routing
ones included, is answered in OpenAI's error shape. Embed it with ``web.AppRunner(app)``;
``geppetto serve`` (:func:`geppetto.serve.server.serve`) adds signal handling and the bind checks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from geppetto.engines.base import Engine
from geppetto.middleware.chain import Middleware
from geppetto.serve.claims import SessionClaims, session_claims
from geppetto.serve.errors import APIError, bad_request
from geppetto.serve.limits import Limiter, QueueFull
from geppetto.serve.models import Model, ModelCatalog, ProfileSources, check_profiles, profile_names
from geppetto.serve.runs import SESSION_HEADER, RunRegistry, run_plain, run_stream
from geppetto.serve.security import Handler, add_cors_headers, auth_middleware, cors_middleware, local_guard
from geppetto.serve.wire import ChatRequest, parse_body
from geppetto.session.session import Session
from geppetto.turns.model import Turn

log = logging.getLogger("geppetto.serve")

DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_QUEUE_SIZE = 64
DEFAULT_SHUTDOWN_GRACE = 10.0


@dataclass(slots=True)
class ServerState:
    catalog: ModelCatalog
    runs: RunRegistry
    store: Any
    owns_store: bool
    max_request_bytes: int
    shutdown_grace: float
    created: int
    claims: SessionClaims
    has_api_key: bool = False


STATE = web.AppKey("geppetto.serve.state", ServerState)


def create_app(
    *,
    engines: Mapping[str, Engine] | None = None,
    profiles: Sequence[str] | None = None,
    profile_file: str | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | None = None,
    settings: Mapping[str, object] | None = None,
    default_profile: str | None = None,
    store: Any = None,
    api_key: str | None = None,
    cors_origins: Sequence[str] = (),
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    tools: Any = None,
    middlewares: Sequence[Middleware] = (),
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
    web_chat: bool = False,
) -> web.Application:
    """The API server for embedding in an aiohttp application.

    Models: ``engines`` (model id -> engine object) and ``profiles`` (profile names, resolved as
    ``geppetto infer --profile NAME`` would, with ``settings`` as flag overrides); with neither,
    every profile the sources define. ``default_profile`` answers requests without ``model``.
    ``store`` is a :class:`~geppetto.store.TurnStore` (yours to close) or a path (opened and closed
    by the app); each run's final turn is saved there. ``tools`` (a ``ToolRegistry``, or a mapping
    model id -> registry) runs the tool loop server-side for those models. ``max_concurrency`` runs
    per model at once, ``queue_size`` more waiting, then 429. A named profile that no source
    defines is a :class:`~geppetto.errors.ConfigError` here, not a failure at the first request.
    ``web_chat`` adds the chat page at ``/`` (:func:`geppetto.serve.web.add_web_chat`) over the
    same profile sources and ``store`` (``None``: the default store, as ``geppetto chat`` uses).
    """
    if max_request_bytes < 1024:
        raise ValueError(f"max_request_bytes must be at least 1024, got {max_request_bytes}")
    sources = ProfileSources(profile_file, profile_registries, config_file, dict(settings or {}))
    names = list(profiles) if profiles is not None else ([] if engines else profile_names(sources))
    if profiles is not None:
        check_profiles(names, sources)
    models: list[Model] = []

    def tools_for(name: str) -> Any:
        return tools.get(name) if isinstance(tools, Mapping) else tools

    for name, engine in (engines or {}).items():
        limiter = Limiter(max_concurrency, queue_size)
        models.append(Model(name, limiter, engine=engine, tools=tools_for(name), middlewares=middlewares))
    for name in names:
        if any(model.name == name for model in models):
            continue
        limiter = Limiter(max_concurrency, queue_size)
        models.append(
            Model(
                name, limiter, profile=name, sources=sources, tools=tools_for(name), middlewares=middlewares
            )
        )
    catalog = ModelCatalog(models, default_profile)
    owns_store = store is not None and isinstance(store, str | Path)
    if owns_store:
        from geppetto.store import TurnStore

        store = TurnStore(store, defer_if_locked=True)
    state = ServerState(
        catalog,
        RunRegistry(),
        store,
        owns_store,
        max_request_bytes,
        shutdown_grace,
        int(time.time()),
        SessionClaims(),
        has_api_key=bool(api_key),
    )
    stack: list[Any] = [_errors]
    if cors_origins:
        stack.append(cors_middleware(cors_origins))
    if api_key:
        stack.append(auth_middleware(api_key))
    else:
        stack.append(local_guard(cors_origins))
    app = web.Application(middlewares=stack, client_max_size=max_request_bytes)
    app[STATE] = state
    state.claims = session_claims(app)  # shared with the web chat: one run per stored session
    if cors_origins:
        app.on_response_prepare.append(add_cors_headers)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", get_model)
    app.router.add_get("/healthz", healthz)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_store)
    if web_chat:
        from geppetto.serve.web import add_web_chat

        add_web_chat(
            app,
            store=state.store,
            default_profile=default_profile,
            profile_file=profile_file,
            profile_registries=profile_registries,
            config_file=config_file,
            flags=settings,
        )
    return app


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in OpenAI's shape: our :class:`APIError`, aiohttp's HTTP errors, crashes."""
    try:
        return await handler(request)
    except APIError as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[STATE].max_request_bytes
        return APIError(
            413, f"the request body is larger than {limit} bytes", code="request_too_large"
        ).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return APIError(exc.status, exc.reason, type="invalid_request_error").response()
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return APIError(500, "internal server error (see the server log)", type="server_error").response()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _model_object(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "geppetto"}


async def list_models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = [_model_object(name, state.created) for name in state.catalog.ids()]
    return web.json_response({"object": "list", "data": data})


async def get_model(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["model"]
    state.catalog.get(name)
    return web.json_response(_model_object(name, state.created))


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise APIError(413, f"the request body is larger than {limit} bytes", code="request_too_large")
    return await request.read()


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if not state.runs.accepting:
        raise APIError(503, "the server is shutting down", type="server_error")
    raw = await _read_body(request, state.max_request_bytes)
    req = parse_body(raw, state.catalog.default)
    model = state.catalog.get(req.model)
    if not model.ready:
        await model.aengine()
    builder = model.builder(req.tools)
    continuing = await _continued_session(state, request) if SESSION_HEADER in request.headers else None
    if continuing is None:
        return await _run_in_slot(request, state, model, req, Session(builder, store=state.store), req.seed)
    # claimed before its history is read: no request sees a stale one
    if not state.claims.claim(continuing):
        raise APIError(
            409,
            f"session {continuing} is still answering another request; send the next one after it",
            param=SESSION_HEADER,
            code="session_busy",
        )
    try:
        session, seed = await _session(state, builder, req.seed, continuing)
        return await _run_in_slot(request, state, model, req, session, seed)
    finally:
        state.claims.release(continuing)


async def _run_in_slot(
    request: web.Request, state: ServerState, model: Model, req: ChatRequest, session: Session, seed: Turn
) -> web.StreamResponse:
    try:
        await model.limiter.acquire()
    except QueueFull:
        raise APIError(
            429,
            f"model {model.name} is at its concurrency limit and its queue is full; retry shortly",
            type="requests",
            code="rate_limit_exceeded",
            headers={"Retry-After": "1"},
        ) from None
    try:
        if not state.runs.accepting:  # shutdown began while this request waited for a slot
            raise APIError(503, "the server is shutting down", type="server_error")
        if req.stream:
            return await run_stream(
                request,
                session,
                seed,
                req.model,
                req.include_usage,
                state.runs,
                model.redact,
                stream_tools=model.tools is None,  # a server-side tool loop answers its own calls
            )
        return await run_plain(request, session, seed, req.model, state.runs, model.redact)
    finally:
        model.limiter.release()


async def _continued_session(state: ServerState, request: web.Request) -> str | None:
    """The stored session ``X-Geppetto-Session-Id`` names (an id or a unique prefix), or ``None``."""
    wanted = request.headers.get(SESSION_HEADER, "").strip()
    if not wanted:
        return None
    if state.store is None:
        raise bad_request(f"{SESSION_HEADER} needs a turn store: start the server with --store PATH")
    from geppetto.store.errors import SessionNotFound, StoreError

    try:
        sid: str = await asyncio.to_thread(state.store.resolve_session, wanted)
    except SessionNotFound as exc:
        raise APIError(404, str(exc), param=SESSION_HEADER, code="session_not_found") from None
    except StoreError as exc:
        raise bad_request(str(exc), param=SESSION_HEADER) from None
    return sid


async def _session(state: ServerState, builder: Any, seed: Turn, sid: str) -> tuple[Session, Turn]:
    """Stored session ``sid``: its latest turn is the history and the request's messages are
    appended to it. The store is read in a worker thread (SQLite blocks)."""
    from geppetto.store.errors import StoreError

    try:
        history = await asyncio.to_thread(state.store.load_turns, sid, last=1)
    except StoreError as exc:
        raise bad_request(str(exc), param=SESSION_HEADER) from None
    if history:
        latest = history[-1]
        seed = Turn(blocks=[*latest.blocks, *seed.blocks], metadata={}, data={**latest.data, **seed.data})
    return Session(builder, session_id=sid, store=state.store), seed


async def _drain(app: web.Application) -> None:
    state = app[STATE]
    await state.runs.drain(state.shutdown_grace)


async def _close_store(app: web.Application) -> None:
    state = app[STATE]
    if state.owns_store and state.store is not None:
        state.store.close()


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
