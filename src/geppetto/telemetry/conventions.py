"""Attribute and metric names of the OpenTelemetry GenAI and MCP semantic conventions we emit.

Spelled out here rather than imported from ``opentelemetry-semantic-conventions``: those names
live in its incubating modules (and have moved to the separate GenAI conventions repository), and
the package is not a dependency of ``opentelemetry-api``. Checked against
opentelemetry-semantic-conventions 0.66b2 and the GenAI conventions' ``gen-ai-spans.md``/``mcp.md``.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
SYSTEM: Final = "gen_ai.system"  # deprecated for gen_ai.provider.name; still read by many backends
CONVERSATION_ID: Final = "gen_ai.conversation.id"
AGENT_NAME: Final = "gen_ai.agent.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
TOKEN_TYPE: Final = "gen_ai.token.type"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_TYPE: Final = "gen_ai.tool.type"
TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"  # opt-in content
TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"  # opt-in content
INPUT_MESSAGES: Final = "gen_ai.input.messages"  # opt-in content
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"  # opt-in content
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"  # opt-in content
ERROR_TYPE: Final = "error.type"
ERROR_OTHER: Final = "_OTHER"

MCP_METHOD_NAME: Final = "mcp.method.name"
NETWORK_TRANSPORT: Final = "network.transport"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"

OP_CHAT: Final = "chat"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_AGENT: Final = "invoke_agent"

METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
# The conventions' advisory bucket boundaries for the two histograms.
TOKEN_BUCKETS: Final = tuple(4**n for n in range(14))  # 1, 4, 16, ... 67108864
DURATION_BUCKETS: Final = tuple(0.01 * 2**n for n in range(14))  # 0.01, 0.02, ... 81.92 seconds

# geppetto's own attributes (ids that join a trace to the store and the event stream).
SESSION_ID: Final = "geppetto.session.id"
RUN_ID: Final = "geppetto.run.id"
TURN_ID: Final = "geppetto.turn.id"
PROVIDER_CALL_ID: Final = "geppetto.provider_call.id"
PROVIDER: Final = "geppetto.provider"
FINISH_CLASS: Final = "geppetto.finish_class"
OUTCOME: Final = "geppetto.outcome"

# geppetto provider names -> the conventions' gen_ai.provider.name values (others pass through).
_PROVIDER_NAMES: Final = {
    "openai": "openai",
    "openai-responses": "openai",
    "claude": "anthropic",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral": "mistral_ai",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "xai": "x_ai",
}

# Engines that run in this process: their call spans are INTERNAL, not CLIENT.
IN_PROCESS: Final = frozenset({"local", "echo", "function", "engine"})


def provider_name(provider: str) -> str:
    """``gen_ai.provider.name`` for one of geppetto's provider names."""
    return _PROVIDER_NAMES.get(provider, provider or "unknown")


def server_address(url: str) -> tuple[str, int] | None:
    """``server.address`` and ``server.port`` of a base URL (never its credentials, path or query)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname else None


def error_type(error: BaseException | None) -> str:
    """A low-cardinality ``error.type``: the provider's HTTP status, else the error's stable
    ``code`` (geppetto errors), else the exception's class name."""
    if error is None:
        return ERROR_OTHER
    status = getattr(error, "status", None)
    if isinstance(status, int) and status > 0:
        return str(status)
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        return code
    return type(error).__qualname__
