"""Where the turn store lives when the user does not say: the XDG data dir, like simonw/llm's log."""

from __future__ import annotations

import math
import os
from pathlib import Path

from geppetto.errors import ConfigError

STORE_ENV = "GEPPETTO_STORE"
STORE_FILE = "turns.db"
BUSY_TIMEOUT_ENV = "GEPPETTO_STORE_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 10.0


def default_store_path() -> Path:
    """``$GEPPETTO_STORE``, else ``$XDG_DATA_HOME/geppetto/turns.db``, else
    ``~/.local/share/geppetto/turns.db``."""
    override = os.environ.get(STORE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "geppetto" / STORE_FILE


def default_busy_timeout() -> float:
    """Seconds to wait for another process's lock: ``$GEPPETTO_STORE_BUSY_TIMEOUT``, else 10."""
    text = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{BUSY_TIMEOUT_ENV} must be a number of seconds above 0, got {text!r}")
    return value
