"""``inference_result``: the summary every run writes into the turn metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from geppetto.events.types import Usage


class FinishClass(StrEnum):
    COMPLETED = "completed"
    MAX_TOKENS = "max_tokens"
    TOOL_CALLS_PENDING = "tool_calls_pending"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    UNKNOWN = "unknown"


_STOP_REASON_CLASSES = {
    # OpenAI chat / Responses / compatible servers
    "stop": FinishClass.COMPLETED,
    "completed": FinishClass.COMPLETED,
    "length": FinishClass.MAX_TOKENS,
    "tool_calls": FinishClass.TOOL_CALLS_PENDING,
    "function_call": FinishClass.TOOL_CALLS_PENDING,
    "content_filter": FinishClass.ERROR,
    "incomplete": FinishClass.MAX_TOKENS,
    # Anthropic
    "end_turn": FinishClass.COMPLETED,
    "stop_sequence": FinishClass.COMPLETED,
    "max_tokens": FinishClass.MAX_TOKENS,
    "tool_use": FinishClass.TOOL_CALLS_PENDING,
    "refusal": FinishClass.ERROR,
    "model_context_window_exceeded": FinishClass.MAX_TOKENS,
    # Gemini (Vertex adds model_armor)
    "max_tokens_reached": FinishClass.MAX_TOKENS,
    "safety": FinishClass.ERROR,
    "recitation": FinishClass.ERROR,
    "language": FinishClass.ERROR,
    "blocklist": FinishClass.ERROR,
    "prohibited_content": FinishClass.ERROR,
    "spii": FinishClass.ERROR,
    "image_safety": FinishClass.ERROR,
    "image_prohibited_content": FinishClass.ERROR,
    "model_armor": FinishClass.ERROR,
    "malformed_function_call": FinishClass.ERROR,
    "unexpected_tool_call": FinishClass.ERROR,
    "too_many_tool_calls": FinishClass.ERROR,
    # Ollama: "load" answers a request that only loaded the model (no prompt to complete)
    "load": FinishClass.COMPLETED,
}


def classify_stop_reason(stop_reason: str, *, has_tool_calls: bool = False) -> FinishClass:
    """Map a provider's stop reason onto a finish class (pending tool calls win)."""
    if has_tool_calls:
        return FinishClass.TOOL_CALLS_PENDING
    if not stop_reason:
        return FinishClass.UNKNOWN
    return _STOP_REASON_CLASSES.get(stop_reason.lower(), FinishClass.UNKNOWN)


@dataclass(slots=True)
class InferenceResult:
    provider: str = ""
    model: str = ""
    stop_reason: str = ""
    finish_class: FinishClass = FinishClass.UNKNOWN
    truncated: bool = False
    usage: Usage | None = None
    max_tokens: int | None = None
    duration_ms: int | None = None
    request_id: str = ""
    response_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "stop_reason": self.stop_reason,
            "finish_class": self.finish_class.value,
            "truncated": self.truncated,
        }
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        for name in ("max_tokens", "duration_ms"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("request_id", "response_id"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.extra:
            out["extra"] = self.extra
        return out
