"""The host functions ``parts/30_agent.js`` calls (``geppetto.agent.*``) and the Python method each
one reaches. Kept apart from :mod:`agent_api` so that installing the module registers the names
without importing it: a script that never calls ``agent()`` does not pay for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geppetto.js.module.host import GeppettoHost

# kind -> (class in agent_api, JS class name for errors, {js method: Python attribute})
METHODS: dict[str, tuple[str, str, dict[str, str]]] = {
    "agentBuilder": (
        "JSAgentBuilder",
        "AgentBuilder",
        {
            "name": "name",
            "inference": "inference",
            "engine": "engine",
            "middleware": "middleware",
            "tool": "tool",
            "goTool": "go_tool",
            "toolLoop": "tool_loop",
            "events": "events",
            "eventSink": "event_sink",
            "store": "store",
            "defaultStore": "default_store",
            "runDefaults": "run_defaults",
            "build": "build",
        },
    ),
    "agentObj": ("JSAgent", "Agent", {"session": "session"}),
    "sessionBuilder": (
        "JSSessionBuilder",
        "SessionBuilder",
        {
            "id": "id",
            "name": "name",
            "base": "base",
            "store": "store",
            "defaultStore": "default_store",
            "persist": "persist",
            "resumeLatest": "resume_latest",
            "resumeNone": "resume_none",
            "metadata": "metadata",
            "runDefaults": "run_defaults",
            "build": "build",
        },
    ),
    "agentSession": (
        "JSAgentSession",
        "AgentSession",
        {
            "id": "id",
            "name": "name",
            "next": "next",
            "fork": "fork",
            "latestTurn": "latest_turn",
            "turns": "turns",
            "turn": "turn",
            "turnCount": "turn_count",
            "isRunning": "is_running",
            "cancel": "cancel",
            "close": "close",
        },
    ),
    "turnBuilder": (
        "JSTurnBuilder",
        "SessionTurnBuilder",
        {
            "system": "system",
            "user": "user",
            "assistant": "assistant",
            "metadata": "metadata",
            "run": "run",
            "runAsync": "run_async",
        },
    ),
    "message": (
        "JSMessageBuilder",
        "MessageBuilder",
        {"text": "add_text", "imageURL": "image_url", "imageFile": "image_file", "imageBytes": "image_bytes"},
    ),
    "runResult": (
        "JSRunResult",
        "RunResult",
        {
            "inputTurn": "input_turn",
            "effectiveTurn": "effective_turn",
            "outputTurn": "output_turn",
            "text": "text",
            "usage": "usage",
            "stopReason": "stop_reason",
            "events": "events",
            "toJSON": "to_json",
        },
    ),
}


def _api() -> Any:
    return importlib.import_module("geppetto.js.module.agent_api")


def _method(class_attr: str, class_name: str, js_name: str, attr: str) -> Callable[..., Any]:
    def call(receiver: Any, *args: Any) -> Any:
        if not isinstance(receiver, getattr(_api(), class_attr)):
            raise TypeError(f"{class_name}.{js_name} called on something that is not a {class_name}")
        return getattr(receiver, attr)(*args)

    return call


def functions(host: GeppettoHost) -> dict[str, Callable[..., Any]]:
    """Every ``geppetto.agent.*`` host function; :mod:`agent_api` loads on the first call."""
    table: dict[str, Callable[..., Any]] = {"geppetto.agent.create": lambda: _api().JSAgentBuilder(host)}
    for kind, (class_attr, class_name, methods) in METHODS.items():
        for js_name, attr in methods.items():
            table[f"geppetto.agent.{kind}.{js_name}"] = _method(class_attr, class_name, js_name, attr)
    return table
