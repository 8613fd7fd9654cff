"""Which stored sessions are being answered: one request at a time per session, from any front end.

The OpenAI-compatible API (a continuation through ``X-Geppetto-Session-Id``) and the web chat share
one :class:`SessionClaims` per application, so a web reply and a ``/v1`` continuation of the same
session cannot overlap: both would extend the same latest turn and one reply would drop out of the
history. The second one is refused at once (409) rather than queued.
"""

from __future__ import annotations

from aiohttp import web


class SessionClaims:
    """Session ids with a run in flight (all on the server's loop: no lock needed)."""

    __slots__ = ("_busy",)

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def busy(self, session_id: str) -> bool:
        return session_id in self._busy

    def claim(self, session_id: str) -> bool:
        """Take ``session_id``; False when another request holds it."""
        if session_id in self._busy:
            return False
        self._busy.add(session_id)
        return True

    def release(self, session_id: str) -> None:
        self._busy.discard(session_id)

    def held(self) -> set[str]:
        return set(self._busy)


SESSION_CLAIMS = web.AppKey("geppetto.serve.session_claims", SessionClaims)


def session_claims(app: web.Application) -> SessionClaims:
    """The application's claims, made on first use (call while setting the application up)."""
    claims = app.get(SESSION_CLAIMS)
    if claims is None:
        claims = app[SESSION_CLAIMS] = SessionClaims()
    return claims
