"""Events as JS listeners see them (the 2026-02-20 RunHandle payloads, spec §9).

``{type, timestampMs, sessionId?, inferenceId?, turnId?, model?, metaExtra?, ...}`` plus the
type's fields in camelCase: ``delta``/``completion``, ``text``, ``toolCall{id,name,input}``,
``toolResult{id,result}``, ``error``, ``level``/``message``/``fields``, ``message``/``data``;
``usage``, ``stopReason`` and ``durationMs`` when the engine reported them.
"""

from __future__ import annotations

import time
from typing import Any

from geppetto.events.types import Event

_RENAMES = {"tool_call": "toolCall", "tool_result": "toolResult", "error_string": "error"}


def event_payload(event: Event) -> dict[str, Any]:
    """The listener payload for ``event`` (computed on the publishing thread: lazy fields resolve here)."""
    meta = event.meta
    out: dict[str, Any] = {"type": event.type.value, "timestampMs": int(time.time() * 1000)}
    if meta.session_id:
        out["sessionId"] = meta.session_id
    if meta.inference_id:
        out["inferenceId"] = meta.inference_id
    if meta.turn_id:
        out["turnId"] = meta.turn_id
    if meta.model:
        out["model"] = meta.model
    if meta.usage is not None:
        out["usage"] = meta.usage.to_dict()
    if meta.stop_reason:
        out["stopReason"] = meta.stop_reason
    if meta.duration_ms is not None:
        out["durationMs"] = meta.duration_ms
    if meta.extra:
        out["metaExtra"] = dict(meta.extra)
    for key, value in event.payload().items():
        out[_RENAMES.get(key, key)] = value
    return out
