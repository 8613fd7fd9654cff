"""Correlation ids: how the reference view joins runs, provider calls, segments and tool calls.

A :class:`Correlation` holds explicit ids only (the reference's rule: no fallback join keys).
``run_id`` is the inference id; ``provider_call_id`` names one model call within the run
(``<provider>:<run_id>:provider-call:<n>``); ``segment_id`` one text, reasoning or tool segment of
that call (``<provider_call_id>:<object|segment>:<ordinal>:<kind>``); ``tool_call_id`` the tool
call. The builders mirror the reference's so ids look the same in both implementations.
"""

from __future__ import annotations

from dataclasses import dataclass

SEGMENT_TEXT = "text"
SEGMENT_REASONING = "reasoning"
SEGMENT_TOOL = "tool"

_FIELDS = ("session_id", "run_id", "turn_id", "provider_call_id", "segment_id", "tool_call_id")


@dataclass(frozen=True, slots=True)
class Correlation:
    """Immutable, so one object is shared by every event of a segment."""

    session_id: str = ""
    run_id: str = ""
    turn_id: str = ""
    provider_call_id: str = ""
    segment_id: str = ""
    tool_call_id: str = ""

    def to_dict(self) -> dict[str, str]:
        """The JSON form: snake_case keys, empty ids left out (as the reference's ``omitempty``)."""
        return {name: value for name in _FIELDS if (value := getattr(self, name))}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Correlation:
        return cls(**{name: str(raw.get(name) or "") for name in _FIELDS})


def run_correlation(session_id: str, run_id: str, turn_id: str) -> Correlation:
    """The run-level identity."""
    return Correlation(session_id=session_id.strip(), run_id=run_id.strip(), turn_id=turn_id.strip())


def provider_call_correlation(provider: str, run_id: str, index: int) -> Correlation:
    """The identity of the ``index``-th model call of a run (stable before the provider answers)."""
    provider, run_id = provider.strip(), run_id.strip()
    call_id = f"{provider}:{run_id}:provider-call:{index}" if provider and run_id else ""
    return Correlation(run_id=run_id, provider_call_id=call_id)


def segment_correlation(parent: Correlation, object_id: str, ordinal: int, kind: str) -> Correlation:
    """A segment under a provider call; ``object_id`` is a provider-native id when there is one."""
    kind = kind.strip()
    if not parent.provider_call_id or not kind:
        return parent
    part = object_id.strip() or "segment"
    segment_id = f"{parent.provider_call_id}:{part}:{ordinal}:{kind}"
    p = parent  # direct construction: dataclasses.replace costs several times more
    return Correlation(p.session_id, p.run_id, p.turn_id, p.provider_call_id, segment_id, p.tool_call_id)


def tool_correlation(parent: Correlation, tool_call_id: str) -> Correlation:
    """A tool call under ``parent`` (a provider call, or the run for local execution)."""
    p, call_id = parent, tool_call_id.strip()
    return Correlation(p.session_id, p.run_id, p.turn_id, p.provider_call_id, p.segment_id, call_id)
