"""One exception tree for the whole runtime.

Every error a user can meet derives from :class:`GeppettoError` and carries a stable ``code``
(the JS layer exposes it as ``err.code``). Messages that the reference system defined are kept
verbatim so scripts and tests written against it keep matching.
"""

from __future__ import annotations


class GeppettoError(Exception):
    """Base of every error raised by geppetto."""

    code = "geppetto_error"


class ConfigError(GeppettoError):
    """Settings, profiles or engine options are wrong or incomplete; the message says what to set."""

    code = "config_error"


class TurnError(GeppettoError, ValueError):
    """A turn, block or metadata value cannot be decoded, encoded or validated."""

    code = "turn_error"


class ProviderError(GeppettoError):
    """A provider request or stream failed. Never carries an API key."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retryable: bool = False,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.request_id = request_id


class EngineError(GeppettoError):
    """An engine (or a user function used as one) failed while producing a turn."""

    code = "engine_error"


class MiddlewareError(GeppettoError):
    """A middleware was configured wrongly (unknown name, bad options)."""

    code = "middleware_error"


class ToolError(GeppettoError):
    """A tool could not be registered, found or executed."""

    code = "tool_error"


class InferenceCancelled(GeppettoError):
    """The inference was cancelled; the session keeps the input turn and any partial output."""

    code = "cancelled"

    def __init__(self, message: str = "inference cancelled") -> None:
        super().__init__(message)


class InferenceTimeout(GeppettoError):
    """A run given a timeout (``timeoutMs``) did not finish in time; it was cancelled."""

    code = "timeout"

    def __init__(self, timeout_ms: float) -> None:
        super().__init__(f"inference timed out after {timeout_ms:g}ms (timeoutMs)")
        self.timeout_ms = timeout_ms


class SessionError(GeppettoError):
    """Session lifecycle errors, with the reference messages."""

    code = "session_error"
    default_message = "session error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class SessionAlreadyActive(SessionError):
    code = "session_already_active"
    default_message = "session already has an active inference"


class SessionNotActive(SessionError):
    code = "session_not_active"
    default_message = "session has no active inference"


class SessionEmptyTurn(SessionError):
    code = "session_empty_turn"
    default_message = "session has no seed turn (or seed turn is empty)"


class SessionIDEmpty(SessionError):
    code = "session_id_empty"
    default_message = "session has empty SessionID"


class SessionBuilderMissing(SessionError):
    code = "session_builder_missing"
    default_message = "session builder is nil"


__all__ = [
    "ConfigError",
    "EngineError",
    "GeppettoError",
    "InferenceCancelled",
    "InferenceTimeout",
    "MiddlewareError",
    "ProviderError",
    "SessionAlreadyActive",
    "SessionBuilderMissing",
    "SessionEmptyTurn",
    "SessionError",
    "SessionIDEmpty",
    "SessionNotActive",
    "ToolError",
    "TurnError",
]
