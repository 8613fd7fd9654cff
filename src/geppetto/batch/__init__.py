"""Batch runs: many items through one engine or profile, with concurrency, rate limits and resume.

``run(items, ...)`` is the async iterator of results the CLI (``geppetto batch``) and other
executors build on; ``run_item(item, ctx)`` runs one item and is what a worker in another process
calls with a :class:`BatchContext` rebuilt from the picklable :class:`BatchConfig`.
"""

from geppetto.batch.context import BatchConfig, BatchContext
from geppetto.batch.items import BatchItem, InputProblem, ParsedInput, Template, parse_item, read_items
from geppetto.batch.limits import Limiter, RateLimiter
from geppetto.batch.output import OutputState, ResultWriter, read_output, read_results, write_all
from geppetto.batch.result import BatchResult
from geppetto.batch.runner import run, run_item, seed_turn

__all__ = [
    "BatchConfig",
    "BatchContext",
    "BatchItem",
    "BatchResult",
    "InputProblem",
    "Limiter",
    "OutputState",
    "ParsedInput",
    "RateLimiter",
    "ResultWriter",
    "Template",
    "parse_item",
    "read_items",
    "read_output",
    "read_results",
    "run",
    "run_item",
    "seed_turn",
    "write_all",
]
