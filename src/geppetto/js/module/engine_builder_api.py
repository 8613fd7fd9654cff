"""``engine().inference(settings).build()``: an engine from registry-resolved settings (reference HEAD).

The JS builder is immutable and lives in ``parts/10_profiles.js``; ``build()`` lands here and
returns the same ``Engine`` host object the seed's ``engines.*`` return (an :class:`EngineRef`),
so it works with ``createSession({engine})``, ``createBuilder().withEngine`` and
``agent().engine``. It adds the reference's readable ``metadata`` (the provenance map) and, when
the profile declares one, ``modelInfo`` (camelCase).
"""

from __future__ import annotations

from typing import Any

from geppetto.engines.from_settings import engine_from_settings
from geppetto.js.module.engines_api import EngineRef
from geppetto.profiles.inference_settings import InferenceSettings
from geppetto.profiles.model_info import ModelInfo

ENGINE_NAME = "inferenceSettings"


class SettingsEngineRef(EngineRef):
    """An engine built from settings whose profile declares no ``model_info``."""

    __js_class__ = "Engine"
    __js_props__: tuple[str, ...] = ("name", "metadata")
    __slots__ = ("metadata", "modelInfo")

    def __init__(self, engine: Any, metadata: dict[str, Any], model_info: dict[str, Any] | None) -> None:
        super().__init__(engine, ENGINE_NAME)
        self.metadata = metadata
        self.modelInfo = model_info


class ModelEngineRef(SettingsEngineRef):
    """An engine built from settings with ``model_info``: ``modelInfo`` is readable too."""

    __js_props__ = ("name", "metadata", "modelInfo")
    __slots__ = ()


def model_info_js(info: ModelInfo) -> dict[str, Any]:
    """The reference's ``ModelInfo`` object: camelCase, undeclared parts left out."""
    out: dict[str, Any] = {}
    for attr, key in (("id", "id"), ("name", "name"), ("reasoning", "reasoning")):
        value = getattr(info, attr)
        if value is not None:
            out[key] = value
    if info.input:
        out["input"] = list(info.input)
    for attr, key in (
        ("context_window", "contextWindow"),
        ("quality_high_watermark", "qualityHighWatermark"),
        ("max_output_tokens", "maxOutputTokens"),
    ):
        value = getattr(info, attr)
        if value is not None:
            out[key] = value
    if info.cost is not None:
        cost = info.cost
        out["cost"] = {
            "input": cost.input,
            "output": cost.output,
            "cacheRead": cost.cache_read,
            "cacheWrite": cost.cache_write,
        }
    if info.metadata:
        out["metadata"] = dict(info.metadata)
    return out


def build_engine(settings: InferenceSettings) -> SettingsEngineRef:
    """Build now (missing keys fail here, e.g. ``missing API key openai-api-key``)."""
    engine = engine_from_settings(settings)
    info = settings.model_info
    if info is None:
        return SettingsEngineRef(engine, settings.metadata, None)
    return ModelEngineRef(engine, settings.metadata, model_info_js(info))
