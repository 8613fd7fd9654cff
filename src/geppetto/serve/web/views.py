"""What the page receives: stored turns as message lists, run events as small JSON records.

The page never sees raw turns or settings: only text, tool names/arguments/results and run facts,
so nothing a provider configuration holds (keys, base URLs) can reach the browser. Every string
is data for the page, which renders it with ``textContent`` (never as HTML).
"""

from __future__ import annotations

from typing import Any

import orjson

from geppetto.events.types import (
    Event,
    PartialEvent,
    PartialThinkingEvent,
    ToolCallEvent,
    ToolCallExecutionResultEvent,
    ToolResultEvent,
)
from geppetto.store import SessionInfo, StoredTurn
from geppetto.turns import BlockKind, Turn
from geppetto.turns.keys import RunMetaKeys

# Turn metadata: the profile a run used (the session records it), so reopening preselects it.
PROFILE_KEY = RunMetaKeys.PROFILE.id


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2).decode()


def turn_messages(turn: Turn) -> list[dict[str, Any]]:
    """The blocks of ``turn`` as the page's messages, in order."""
    out: list[dict[str, Any]] = []
    for block in turn.blocks:
        payload = block.payload
        if block.kind is BlockKind.USER:
            images = payload.get("images")
            out.append({"kind": "user", "text": block.text or "", "images": len(images or [])})
        elif block.kind is BlockKind.SYSTEM:
            out.append({"kind": "system", "text": block.text or ""})
        elif block.kind is BlockKind.LLM_TEXT:
            out.append({"kind": "assistant", "text": block.text or ""})
        elif block.kind is BlockKind.REASONING:
            text = block.text or ("(encrypted reasoning)" if payload.get("encrypted_content") else "")
            out.append({"kind": "reasoning", "text": text})
        elif block.kind is BlockKind.TOOL_CALL:
            out.append(
                {
                    "kind": "tool_call",
                    "id": str(payload.get("id", "")),
                    "name": str(payload.get("name", "")),
                    "input": _json_text(payload.get("args")),
                }
            )
        elif block.kind is BlockKind.TOOL_USE:
            out.append(
                {
                    "kind": "tool_result",
                    "id": str(payload.get("id", "")),
                    "result": _json_text(payload.get("result")),
                    "error": str(payload.get("error") or ""),
                }
            )
        else:
            out.append({"kind": "other", "text": _json_text(payload)})
    return out


def session_summary(info: SessionInfo, *, running: bool) -> dict[str, Any]:
    return {**info.to_dict(), "running": running}


def session_document(info: SessionInfo, stored: StoredTurn, *, running: bool) -> dict[str, Any]:
    """One session for the page: its facts, the latest turn's messages and how that run ended."""
    turn = stored.turn or Turn()
    profile = turn.metadata.get(PROFILE_KEY)
    return {
        "session": session_summary(info, running=running),
        "turn_id": stored.turn_id,
        "outcome": stored.outcome,
        "error": stored.error or "",
        "model": stored.model,
        "profile": profile if isinstance(profile, str) else None,
        "messages": turn_messages(turn),
    }


def event_record(event: Event) -> dict[str, Any] | None:
    """A run event as the page's stream record, or ``None`` for events the page does not show."""
    if isinstance(event, PartialEvent):
        return {"type": "text", "delta": event.delta}
    if isinstance(event, PartialThinkingEvent):
        return {"type": "reasoning", "delta": event.delta}
    if isinstance(event, ToolCallEvent):
        call = event.tool_call
        return {"type": "tool-call", "id": call.id, "name": call.name, "input": call.input}
    if isinstance(event, ToolCallExecutionResultEvent | ToolResultEvent):
        result = event.tool_result
        return {"type": "tool-result", "id": result.id, "result": result.result}
    return None
