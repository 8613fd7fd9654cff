"""``geppetto serve``: an OpenAI-compatible HTTP API over profiles and engines (aiohttp.web).

``create_app(...)`` returns the ``aiohttp.web.Application`` for embedding; ``serve(...)`` runs it
with the bind checks and graceful shutdown the command uses.
"""

from __future__ import annotations

from geppetto.serve.app import create_app
from geppetto.serve.runs import SESSION_HEADER
from geppetto.serve.server import serve

__all__ = ["SESSION_HEADER", "create_app", "serve"]
