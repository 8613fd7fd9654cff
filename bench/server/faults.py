"""Scripted faults: what the server does instead of (or in the middle of) a normal reply.

A test queues faults on the server; each incoming request takes the next one (``None`` means a
normal reply). ``after`` counts the content chunks sent before a mid-stream fault strikes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FaultKind(StrEnum):
    STATUS = "status"  # an HTTP error status with an OpenAI-shaped error body
    ERROR_EVENT = "error_event"  # an error object inside the 200 stream
    TRUNCATE = "truncate"  # the body ends cleanly without finish reason or [DONE]
    MALFORMED = "malformed"  # an event whose JSON is cut in half
    RESET = "reset"  # the TCP connection is reset (RST)
    STALL = "stall"  # stop sending and keep the connection open until the client leaves
    SLOW = "slow"  # wait ``delay_s`` before the status line


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    after: int = 0
    status: int = 500
    error_type: str = "server_error"
    message: str = "injected failure"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    echo_authorization: bool = False  # put the request's Authorization header into the error body

    @classmethod
    def status_code(
        cls, status: int, error_type: str = "", *, retry_after: str | None = None, echo_auth: bool = False
    ) -> Fault:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        kinds = {429: "rate_limit_exceeded", 529: "overloaded_error", 401: "invalid_request_error"}
        return cls(
            FaultKind.STATUS,
            status=status,
            error_type=error_type or kinds.get(status, "server_error"),
            headers=headers,
            echo_authorization=echo_auth,
        )
