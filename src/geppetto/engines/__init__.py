"""Engines: the protocol, the shared stream accumulator and the engines shipped for tests."""

from geppetto.engines.accumulator import PendingToolCall, StreamAccumulator
from geppetto.engines.base import Engine, Handler, RunContext
from geppetto.engines.echo import EchoEngine
from geppetto.engines.factory import available_api_types, create_engine, register_engine_factory
from geppetto.engines.from_settings import SettingsEngine, engine_for, engine_from_settings
from geppetto.engines.function import FunctionEngine
from geppetto.engines.result import FinishClass, InferenceResult, classify_stop_reason

__all__ = [
    "EchoEngine",
    "Engine",
    "FinishClass",
    "FunctionEngine",
    "Handler",
    "InferenceResult",
    "PendingToolCall",
    "RunContext",
    "SettingsEngine",
    "StreamAccumulator",
    "available_api_types",
    "classify_stop_reason",
    "create_engine",
    "engine_for",
    "engine_from_settings",
    "register_engine_factory",
]
