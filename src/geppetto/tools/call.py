"""``ToolCall`` (what a model asked for) and ``ToolResult`` (what running it produced)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geppetto.tools.encoding import compact_json, decode_arguments
from geppetto.turns.jsonvalue import copy_json


@dataclass(slots=True)
class ToolCall:
    """One requested call. ``args`` is the argument object, or the raw JSON text a model sent."""

    id: str
    name: str
    args: Any = field(default_factory=dict)

    def decoded_args(self) -> dict[str, Any]:
        """The argument object, ``{}`` when the arguments are empty or unusable (what hooks see)."""
        value, error = decode_arguments(self.args)
        return copy_json(value) if not error and isinstance(value, dict) else {}

    def arguments_json(self) -> str:
        """The arguments as JSON text (raw text from a model is passed through unchanged)."""
        if isinstance(self.args, str):
            return self.args or "{}"
        try:
            return compact_json(self.args if self.args is not None else {})
        except (TypeError, ValueError):
            return "{}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "args": self.decoded_args()}


@dataclass(slots=True)
class ToolResult:
    """The outcome of one call: a JSON-ready ``value`` and/or an ``error`` message (``""`` = none).

    ``executed`` is false when the tool never ran (aborted by a hook, unknown or disallowed
    tool); ``skipped`` is true when it was not run because its batch was aborted or cancelled;
    ``retries`` counts the attempts after the first.
    """

    id: str
    name: str
    value: Any = None
    error: str = ""
    duration_ms: float = 0.0
    retries: int = 0
    executed: bool = False
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.error

    def result_json(self) -> str | None:
        """The ``tool_use`` result: compact JSON of the value, ``None`` for a failure without value."""
        if self.error and self.value is None:
            return None
        return compact_json(self.value)

    def event_text(self) -> str:
        """What ``tool-call-execution-result`` events carry: the result JSON or ``Error: <message>``."""
        if self.error:
            return f"Error: {self.error}"
        return self.result_json() or "null"
