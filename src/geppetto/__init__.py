"""geppetto: an LLM inference runtime with typed turns, streaming engines, middlewares and sessions.

The names below are the curated public API. They are imported lazily so that importing
``geppetto`` (and starting the CLI) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geppetto._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # turns
    "Turn": "geppetto.turns",
    "Block": "geppetto.turns",
    "BlockKind": "geppetto.turns",
    "Role": "geppetto.turns",
    "PayloadKey": "geppetto.turns",
    "DataKeys": "geppetto.turns",
    "TurnMetaKeys": "geppetto.turns",
    "BlockMetaKeys": "geppetto.turns",
    "image_url": "geppetto.turns.images",
    "image_file": "geppetto.turns.images",
    "image_bytes": "geppetto.turns.images",
    # events
    "Event": "geppetto.events",
    "EventType": "geppetto.events",
    "CallbackSink": "geppetto.events",
    "CollectingSink": "geppetto.events",
    "QueueSink": "geppetto.events",
    "PrinterSink": "geppetto.events",
    "EventRouter": "geppetto.events",
    "ReferenceSink": "geppetto.events",
    "CanonicalEventType": "geppetto.events",
    "Correlation": "geppetto.events",
    "reference_view": "geppetto.events",
    "seed_view": "geppetto.events",
    # engines
    "Engine": "geppetto.engines",
    "RunContext": "geppetto.engines",
    "EchoEngine": "geppetto.engines",
    "FunctionEngine": "geppetto.engines",
    "StreamAccumulator": "geppetto.engines",
    "create_engine": "geppetto.engines",
    "count_tokens": "geppetto.engines.tokens",
    "acount_tokens": "geppetto.engines.tokens",
    "TokenCount": "geppetto.engines.tokens",
    # cost
    "turn_cost": "geppetto.cost",
    # middleware
    "system_prompt": "geppetto.middleware",
    "reorder_tool_results": "geppetto.middleware",
    "turn_logging": "geppetto.middleware",
    # tools
    "tool": "geppetto.tools",
    "ToolDefinition": "geppetto.tools",
    "ToolRegistry": "geppetto.tools",
    "ToolConfig": "geppetto.tools",
    "ToolHooks": "geppetto.tools",
    "ToolCall": "geppetto.tools",
    "ToolResult": "geppetto.tools",
    "ToolExecutor": "geppetto.tools",
    "ToolLoop": "geppetto.toolloop",
    "js_eval_tool": "geppetto.js.eval_tool",
    # sessions
    "Session": "geppetto.session",
    "EngineBuilder": "geppetto.session",
    "ExecutionHandle": "geppetto.session",
    # agents
    "Agent": "geppetto.agent",
    "AgentSession": "geppetto.agent",
    "RunOptions": "geppetto.agent",
    "RunResult": "geppetto.agent",
    # errors
    "GeppettoError": "geppetto.errors",
    "ConfigError": "geppetto.errors",
    "ProviderError": "geppetto.errors",
    "SessionError": "geppetto.errors",
    "SessionAlreadyActive": "geppetto.errors",
    "SessionNotActive": "geppetto.errors",
    "SessionEmptyTurn": "geppetto.errors",
    "ToolError": "geppetto.errors",
    "TurnError": "geppetto.errors",
    "InferenceCancelled": "geppetto.errors",
    "InferenceTimeout": "geppetto.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__ = lazy_exports(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from geppetto.agent import Agent, AgentSession, RunOptions, RunResult
    from geppetto.cost import turn_cost
    from geppetto.engines import (
        EchoEngine,
        Engine,
        FunctionEngine,
        RunContext,
        StreamAccumulator,
        create_engine,
    )
    from geppetto.engines.tokens import TokenCount, acount_tokens, count_tokens
    from geppetto.errors import (
        ConfigError,
        GeppettoError,
        InferenceCancelled,
        InferenceTimeout,
        ProviderError,
        SessionAlreadyActive,
        SessionEmptyTurn,
        SessionError,
        SessionNotActive,
        ToolError,
        TurnError,
    )
    from geppetto.events import (
        CallbackSink,
        CanonicalEventType,
        CollectingSink,
        Correlation,
        Event,
        EventRouter,
        EventType,
        PrinterSink,
        QueueSink,
        ReferenceSink,
        reference_view,
        seed_view,
    )
    from geppetto.js.eval_tool import js_eval_tool
    from geppetto.middleware import reorder_tool_results, system_prompt, turn_logging
    from geppetto.session import EngineBuilder, ExecutionHandle, Session
    from geppetto.toolloop import ToolLoop
    from geppetto.tools import (
        ToolCall,
        ToolConfig,
        ToolDefinition,
        ToolExecutor,
        ToolHooks,
        ToolRegistry,
        ToolResult,
        tool,
    )
    from geppetto.turns import (
        Block,
        BlockKind,
        BlockMetaKeys,
        DataKeys,
        PayloadKey,
        Role,
        Turn,
        TurnMetaKeys,
        image_bytes,
        image_file,
        image_url,
    )
