"""``geppetto serve``: an OpenAI-compatible HTTP API over profiles and engines (aiohttp.web).

``create_app(...)`` returns the ``aiohttp.web.Application`` for embedding; ``serve(...)`` runs it
with the bind checks and graceful shutdown the command uses. ``app[STATE]`` (a ``ServerState``)
holds the models, the runs in flight and the store, for routes added beside the API.
"""

from __future__ import annotations

from geppetto.serve.app import STATE, ServerState, create_app
from geppetto.serve.runs import SESSION_HEADER
from geppetto.serve.server import serve

__all__ = ["SESSION_HEADER", "STATE", "ServerState", "create_app", "serve"]
