"""Where the turn store lives when the user does not say: the XDG data dir, like simonw/llm's log."""

from __future__ import annotations

import os
from pathlib import Path

STORE_ENV = "GEPPETTO_STORE"
STORE_FILE = "turns.db"


def default_store_path() -> Path:
    """``$GEPPETTO_STORE``, else ``$XDG_DATA_HOME/geppetto/turns.db``, else
    ``~/.local/share/geppetto/turns.db``."""
    override = os.environ.get(STORE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "geppetto" / STORE_FILE
