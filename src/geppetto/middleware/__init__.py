"""Middlewares wrap the engine: ``(next_handler) -> handler``; the first added is outermost."""

from geppetto.middleware.chain import Middleware, chain, engine_handler
from geppetto.middleware.logging import turn_logging
from geppetto.middleware.registry import BUILTIN_MIDDLEWARES, build_middleware
from geppetto.middleware.reorder import reorder_tool_results, reorder_tool_results_blocks
from geppetto.middleware.system_prompt import apply_system_prompt, system_prompt

__all__ = [
    "BUILTIN_MIDDLEWARES",
    "Middleware",
    "apply_system_prompt",
    "build_middleware",
    "chain",
    "engine_handler",
    "reorder_tool_results",
    "reorder_tool_results_blocks",
    "system_prompt",
    "turn_logging",
]
