"""Sessions: history, one active inference at a time, sync/async runs and cancellation."""

from geppetto.session.builder import EngineBuilder, InferenceRunner
from geppetto.session.persist import RunOutcome, TurnPersister
from geppetto.session.session import ExecutionHandle, Session

__all__ = ["EngineBuilder", "ExecutionHandle", "InferenceRunner", "RunOutcome", "Session", "TurnPersister"]
