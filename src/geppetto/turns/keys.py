"""Typed keys for ``Turn.data``, ``Turn.metadata`` and ``Block.metadata``.

The maps store canonical ids ``<namespace>.<name>@v<version>`` so that values written by
different components never collide. The reference JS codec also accepts short names
(``session_id`` for ``geppetto.session_id@v1``); :func:`resolve_key` and :func:`short_key`
implement that mapping for every codec that needs it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from geppetto.errors import TurnError
from geppetto.turns.jsonvalue import ensure_json

T = TypeVar("T")

NAMESPACE = "geppetto"


class KeyScope(StrEnum):
    DATA = "data"
    TURN_METADATA = "turn_metadata"
    BLOCK_METADATA = "block_metadata"


def canonical_id(name: str, namespace: str = NAMESPACE, version: int = 1) -> str:
    """Build ``<namespace>.<name>@v<version>``; empty parts and versions below 1 are programming errors."""
    if not namespace or not name or version < 1:
        raise ValueError(f"invalid key: namespace={namespace!r} name={name!r} version={version}")
    return f"{namespace}.{name}@v{version}"


@dataclass(frozen=True, slots=True)
class Key(Generic[T]):
    """A typed accessor for one entry of a metadata or data map.

    ``get`` returns ``default`` when the key is missing and raises :class:`TurnError` when the
    stored value has the wrong type; ``set`` refuses values that JSON cannot represent.
    """

    scope: KeyScope
    name: str
    value_type: type | tuple[type, ...] | None = None
    namespace: str = NAMESPACE
    version: int = 1
    # The canonical id, computed once: every get/set/delete uses it (dozens per run).
    id: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", canonical_id(self.name, self.namespace, self.version))

    def get(self, mapping: MutableMapping[str, Any], default: T | None = None) -> T | None:
        if self.id not in mapping:
            return default
        value = mapping[self.id]
        if self.value_type is not None and value is not None and not isinstance(value, self.value_type):
            expected = _type_name(self.value_type)
            raise TurnError(f"{self.scope} key {self.id} holds a {type(value).__name__}, expected {expected}")
        return cast(T, value)

    def set(self, mapping: MutableMapping[str, Any], value: T) -> None:
        ensure_json(value, self.id)
        mapping[self.id] = value

    def delete(self, mapping: MutableMapping[str, Any]) -> None:
        mapping.pop(self.id, None)


def _type_name(value_type: type | tuple[type, ...]) -> str:
    if isinstance(value_type, tuple):
        return " or ".join(t.__name__ for t in value_type)
    return value_type.__name__


def _data(name: str, value_type: type | tuple[type, ...] | None = None) -> Key[Any]:
    return Key(KeyScope.DATA, name, value_type)


def _turn_meta(name: str, value_type: type | tuple[type, ...] | None = None) -> Key[Any]:
    return Key(KeyScope.TURN_METADATA, name, value_type)


def _block_meta(name: str, value_type: type | tuple[type, ...] | None = None) -> Key[Any]:
    return Key(KeyScope.BLOCK_METADATA, name, value_type)


class DataKeys:
    """Keys of ``Turn.data``: configuration that travels with the turn."""

    TOOL_CONFIG: Key[dict[str, Any]] = _data("tool_config", dict)
    TOOL_DEFINITIONS: Key[list[Any]] = _data("tool_definitions", list)
    STRUCTURED_OUTPUT_CONFIG: Key[dict[str, Any]] = _data("structured_output_config", dict)
    INFERENCE_CONFIG: Key[dict[str, Any]] = _data("inference_config", dict)
    CLAUDE_INFERENCE_CONFIG: Key[dict[str, Any]] = _data("claude_inference_config", dict)
    OPENAI_INFERENCE_CONFIG: Key[dict[str, Any]] = _data("openai_inference_config", dict)
    AGENT_MODE_ALLOWED_TOOLS: Key[list[str]] = _data("agent_mode_allowed_tools", list)
    AGENT_MODE: Key[str] = _data("agent_mode", str)
    RESPONSES_SERVER_TOOLS: Key[list[Any]] = _data("responses_server_tools", list)


class TurnMetaKeys:
    """Keys of ``Turn.metadata``: facts about the turn and the run that produced it."""

    PROVIDER: Key[str] = _turn_meta("provider", str)
    RUNTIME: Key[Any] = _turn_meta("runtime")
    SESSION_ID: Key[str] = _turn_meta("session_id", str)
    INFERENCE_ID: Key[str] = _turn_meta("inference_id", str)
    TRACE_ID: Key[str] = _turn_meta("trace_id", str)
    USAGE: Key[dict[str, Any]] = _turn_meta("usage", dict)
    STOP_REASON: Key[str] = _turn_meta("stop_reason", str)
    MODEL: Key[str] = _turn_meta("model", str)
    INFERENCE_RESULT: Key[dict[str, Any]] = _turn_meta("inference_result", dict)


class RunMetaKeys:
    """Turn metadata the session writes about the whole run that produced the turn.

    geppetto's own (not the reference's), so they stay out of the short-name table and the JS
    ``consts``: ``run_usage`` sums every provider call of the run (the tool loop makes several;
    ``usage`` keeps the last call's), ``cost_usd`` prices it with the profile's ``model_info.cost``
    (absent when no price is declared or no usage was reported), ``duration_ms`` is the run's wall
    time as the session measured it and ``profile`` the profile that configured the engine.
    """

    RUN_USAGE: Key[dict[str, Any]] = _turn_meta("run_usage", dict)
    COST_USD: Key[float] = _turn_meta("cost_usd", (int, float))
    DURATION_MS: Key[int] = _turn_meta("duration_ms", int)
    PROFILE: Key[str] = _turn_meta("profile", str)


class BlockMetaKeys:
    """Keys of ``Block.metadata``."""

    CLAUDE_ORIGINAL_CONTENT: Key[Any] = _block_meta("claude_original_content")
    TOOL_CALLS: Key[Any] = _block_meta("tool_calls")
    MIDDLEWARE: Key[str] = _block_meta("middleware", str)
    AGENTMODE_TAG: Key[str] = _block_meta("agentmode_tag", str)
    AGENTMODE: Key[str] = _block_meta("agentmode", str)
    INFERENCE_RESULT: Key[dict[str, Any]] = _block_meta("inference_result", dict)


def _short_names(holder: type) -> dict[str, str]:
    keys = [value for value in vars(holder).values() if isinstance(value, Key)]
    return {key.name: key.id for key in keys}


SHORT_NAMES: dict[KeyScope, dict[str, str]] = {
    KeyScope.DATA: _short_names(DataKeys),
    KeyScope.TURN_METADATA: _short_names(TurnMetaKeys),
    KeyScope.BLOCK_METADATA: _short_names(BlockMetaKeys),
}
_SHORT_BY_ID: dict[KeyScope, dict[str, str]] = {
    scope: {key_id: short for short, key_id in names.items()} for scope, names in SHORT_NAMES.items()
}


def resolve_key(scope: KeyScope, key: str) -> str:
    """Map a key as a user wrote it to its canonical id (empty after trimming -> ``""``).

    Known short names map to their ids, anything containing ``@v`` is already an id, and any
    other name ``k`` becomes ``geppetto.k@v1``.
    """
    key = key.strip()
    if not key:
        return ""
    known = SHORT_NAMES[scope].get(key)
    if known is not None:
        return known
    if "@v" in key:
        return key
    return canonical_id(key)


def short_key(scope: KeyScope, key_id: str) -> str:
    """The short name of a known canonical id; any other id is returned unchanged."""
    return _SHORT_BY_ID[scope].get(key_id, key_id)
