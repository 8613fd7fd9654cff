"""``consts``: the named values scripts use instead of string literals (spec §9, plus our events).

Built from the core enums and key tables, so a new block kind, key or event type shows up here
without a second list to maintain.
"""

from __future__ import annotations

import functools
from typing import Any

from geppetto.events.types import EventType
from geppetto.turns.keys import BlockMetaKeys, DataKeys, Key, TurnMetaKeys
from geppetto.turns.kinds import BlockKind, PayloadKey


def _key_names(holder: type) -> dict[str, str]:
    """``{"TOOL_CONFIG": "tool_config", ...}``: the short names the turn codec reads and writes."""
    return {attr: value.name for attr, value in vars(holder).items() if isinstance(value, Key)}


def _plain_names(holder: type) -> dict[str, str]:
    return {attr: value for attr, value in vars(holder).items() if attr.isupper() and isinstance(value, str)}


@functools.cache
def module_consts() -> dict[str, Any]:
    """A fresh-per-process description of ``consts`` (the JS side freezes its copy)."""
    return {
        "BlockKind": {kind.name: kind.value for kind in BlockKind},
        "TurnDataKeys": _key_names(DataKeys),
        "TurnMetadataKeys": _key_names(TurnMetaKeys),
        "BlockMetadataKeys": _key_names(BlockMetaKeys),
        "RunMetadataKeys": {"TRACE_ID": "trace_id"},
        "PayloadKeys": _plain_names(PayloadKey),
        "ToolChoice": {"AUTO": "auto", "NONE": "none", "REQUIRED": "required"},
        "ToolErrorHandling": {"CONTINUE": "continue", "ABORT": "abort", "RETRY": "retry"},
        "HookAction": {"ABORT": "abort", "RETRY": "retry", "CONTINUE": "continue"},
        "EventType": {event.name: event.value for event in EventType},
    }
