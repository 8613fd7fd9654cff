"""The web chat: a page at ``/`` over the turn store, with its own JSON/SSE API under ``/api/``.

>>> app = web.Application()
>>> add_web_chat(app, store="turns.db", default_profile="gpt-4o-mini")
>>> web.run_app(app, host="127.0.0.1", port=8080)

Sessions are the same stored conversations ``geppetto chat`` and ``geppetto sessions`` use. The
page is static files shipped in this package (``static/``: no build step, no CDN), rendered with
a small Markdown renderer that builds DOM nodes from text, so model output never becomes markup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiohttp import web

from geppetto.prompts import REFERENCE_SYSTEM_PROMPT
from geppetto.serve.claims import session_claims
from geppetto.serve.web.chats import ChatRuns
from geppetto.serve.web.profiles import CatalogProfiles, ProfileChoice, WebProfiles
from geppetto.serve.web.routes import WebChatRoutes
from geppetto.store import TurnStore

WEB_CHAT_RUNS: web.AppKey[ChatRuns] = web.AppKey("geppetto_web_chat_runs", ChatRuns)


def add_web_chat(
    app: web.Application,
    *,
    store: TurnStore | str | os.PathLike[str] | None = None,
    profiles: WebProfiles | None = None,
    default_profile: str | None = None,
    profile_file: str | os.PathLike[str] | None = None,
    profile_registries: str | Sequence[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    flags: Mapping[str, object] | None = None,
    system_prompt: str = REFERENCE_SYSTEM_PROMPT,
) -> ChatRuns:
    """Add the page (``GET /``, ``/static/*``) and its API (``/api/*``) to ``app``.

    ``store``: a :class:`TurnStore`, a path, or ``None`` for the default store (``$GEPPETTO_STORE``,
    else ``~/.local/share/geppetto/turns.db``); a store opened here is closed with the app.
    ``profiles``: what the picker offers and how each runs; by default the CLI's profile sources
    (``profile_file``, ``profile_registries``, ``config_file``, settings ``flags``) with
    ``default_profile`` preselected. ``system_prompt`` starts every new conversation (``""``: none).
    On shutdown running replies are cancelled and stored. A session answers one request at a time,
    here and through ``create_app``'s ``/v1`` on the same app (409 for the second). Returns the
    runs (for embedding apps).
    """
    owned = not isinstance(store, TurnStore)
    turn_store = store if isinstance(store, TurnStore) else TurnStore(Path(store) if store else None)
    if profiles is None:
        profiles = CatalogProfiles(
            default_profile=default_profile,
            profile_file=profile_file,
            profile_registries=profile_registries,
            config_file=config_file,
            flags=flags,
        )
    runs = ChatRuns(turn_store, profiles, system_prompt=system_prompt, claims=session_claims(app))
    WebChatRoutes(runs).add_to(app)
    app[WEB_CHAT_RUNS] = runs

    async def stop_runs(_: web.Application) -> None:
        await runs.cancel_all()

    async def close_store(_: web.Application) -> None:
        if owned:
            turn_store.close()

    app.on_shutdown.append(stop_runs)
    app.on_cleanup.append(close_store)
    return runs


__all__ = ["WEB_CHAT_RUNS", "CatalogProfiles", "ChatRuns", "ProfileChoice", "WebProfiles", "add_web_chat"]
