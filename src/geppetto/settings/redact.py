"""Secret redaction for anything that may be shown: settings dumps, errors, logs.

Keys are never partially shown. Text redaction removes the exact secret values the runtime
knows about and, as a second line of defence, anything shaped like a well-known key format
(providers sometimes echo a masked or full key back in a 401 message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "***"

_KEY_SHAPES = re.compile(
    r"(?:sk-(?:ant-|proj-|or-)?[A-Za-z0-9_\-*]{8,}"  # OpenAI, Anthropic, OpenRouter
    r"|AIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|gsk_[A-Za-z0-9]{16,}"  # Groq
    r"|(?<=Bearer )[A-Za-z0-9._\-]{12,})"
)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and key-shaped token replaced by ``***``."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)


def is_secret_field(name: str) -> bool:
    """Field names whose values are credentials (``openai-api-key``, ``api_key``, ...)."""
    lowered = name.lower().replace("_", "-")
    return lowered.endswith(("api-key", "-token", "secret")) or lowered in ("key", "password")
