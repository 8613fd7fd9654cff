"""A profile's ``model_info``: what the model can take and what it costs, as the reference declares it.

Registry profiles may carry ``inference_settings.model_info`` (id, name, reasoning, input
modalities, context window, quality high watermark, max output tokens, cost in USD per million
tokens, free-form metadata). It describes the model; it does not change a request, so it stays out
of :class:`~geppetto.settings.Settings` and travels beside it in
:class:`~geppetto.profiles.InferenceSettings`. Stacks merge it base -> leaf like the reference:
keys deep-merge, except ``cost``, which a layer replaces as a whole.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geppetto.profiles.schema import suggest

_INT_KEYS = ("context_window", "quality_high_watermark", "max_output_tokens")
_KEYS = ("id", "name", "reasoning", "input", *_INT_KEYS, "cost", "metadata")
_COST_KEYS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class ModelCost:
    """USD per million tokens; zero means free (or local) for that bucket."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Static capabilities and limits of the model a profile selects (``None``: not declared)."""

    id: str | None = None
    name: str | None = None
    reasoning: bool | None = None
    input: tuple[str, ...] = ()
    context_window: int | None = None
    quality_high_watermark: int | None = None
    max_output_tokens: int | None = None
    cost: ModelCost | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        """From an already validated ``model_info`` mapping (see :func:`check_model_info`)."""
        cost = data.get("cost")
        return cls(
            id=data.get("id"),
            name=data.get("name"),
            reasoning=data.get("reasoning"),
            input=tuple(data.get("input") or ()),
            context_window=data.get("context_window"),
            quality_high_watermark=data.get("quality_high_watermark"),
            max_output_tokens=data.get("max_output_tokens"),
            cost=None if cost is None else ModelCost(**{k: float(cost.get(k, 0.0)) for k in _COST_KEYS}),
            metadata=copy.deepcopy(dict(data.get("metadata") or {})),
        )

    def to_dict(self) -> dict[str, Any]:
        """The YAML shape (snake_case), leaving out what was not declared."""
        out: dict[str, Any] = {}
        for key in ("id", "name", "reasoning", *_INT_KEYS):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.input:
            out["input"] = list(self.input)
        if self.cost is not None:
            cost = self.cost
            out["cost"] = {"input": cost.input, "output": cost.output}
            if cost.cache_read:
                out["cost"]["cache_read"] = cost.cache_read
            if cost.cache_write:
                out["cost"]["cache_write"] = cost.cache_write
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        # order the keys like the reference declares them
        return {key: out[key] for key in _KEYS if key in out}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_model_info(data: Any) -> list[str]:
    """Problems with a ``model_info`` section (never quoting a value); ``[]`` when it is valid."""
    if not isinstance(data, Mapping):
        return [f"model_info must be a mapping, got {type(data).__name__}"]
    errors: list[str] = []
    for raw_key, value in data.items():
        key = str(raw_key)
        where = f"model_info.{key}"
        if key not in _KEYS:
            errors.append(f"unknown field {key!r} in model_info{suggest(key, _KEYS)}")
        elif value is None:
            continue
        elif key in ("id", "name") and not isinstance(value, str):
            errors.append(f"{where} must be a string, got {type(value).__name__}")
        elif key == "reasoning" and not isinstance(value, bool):
            errors.append(f"{where} must be true or false, got {type(value).__name__}")
        elif key == "input" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            errors.append(f"{where} must be a list of modality names (text, image, audio, video, pdf)")
        elif key in _INT_KEYS and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errors.append(f"{where} must be an integer >= 0")
        elif key == "metadata" and not isinstance(value, Mapping):
            errors.append(f"{where} must be a mapping, got {type(value).__name__}")
        elif key == "cost":
            errors.extend(_check_cost(value))
    return errors


def _check_cost(value: Any) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"model_info.cost must be a mapping, got {type(value).__name__}"]
    errors = []
    for raw_key, amount in value.items():
        key = str(raw_key)
        if key not in _COST_KEYS:
            errors.append(f"unknown field {key!r} in model_info.cost{suggest(key, _COST_KEYS)}")
        elif amount is not None and (not _number(amount) or amount < 0):
            errors.append(f"model_info.cost.{key} must be a number >= 0")
    return errors


def merge_model_info(layers: Iterable[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The stack's ``model_info`` base -> leaf: keys deep-merge, ``cost`` is replaced whole."""
    merged: dict[str, Any] | None = None
    for layer in layers:
        if not layer:
            continue
        merged = {} if merged is None else merged
        for key, value in layer.items():
            if value is None:
                continue
            below = merged.get(key)
            if key != "cost" and isinstance(below, dict) and isinstance(value, Mapping):
                merged[key] = deep_merge(below, value)
            else:
                merged[key] = copy.deepcopy(value)
    return merged


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: mappings merge recursively, anything else replaces (copied)."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
