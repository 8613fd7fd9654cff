"""Store errors: each names the database file and says what the user can do about it."""

from __future__ import annotations

from geppetto.errors import GeppettoError


class StoreError(GeppettoError):
    """The turn store could not be opened, read or written."""

    code = "store_error"


class StoreLockedError(StoreError):
    """Another process held the write lock for longer than the busy timeout."""

    code = "store_locked"


class StoreCorruptError(StoreError):
    """The file is damaged or is not a geppetto turn store."""

    code = "store_corrupt"


class StoreVersionError(StoreError):
    """The database carries migrations this version does not know: a newer geppetto wrote it."""

    code = "store_version"


class SessionNotFound(StoreError):
    """No stored session matches the given id (or id prefix)."""

    code = "session_not_found"


class TurnNotFound(StoreError):
    """No stored turn matches the given index or id."""

    code = "turn_not_found"


__all__ = [
    "SessionNotFound",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "TurnNotFound",
]
