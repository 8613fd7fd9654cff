"""Sessions: history, one active inference at a time, sync/async runs and cancellation."""

from geppetto.session.builder import EngineBuilder, InferenceRunner
from geppetto.session.session import ExecutionHandle, Session

__all__ = ["EngineBuilder", "ExecutionHandle", "InferenceRunner", "Session"]
