"""A hand-written MCP stdio server that misbehaves on purpose (no SDK, so it can break the rules).

``python raw.py MODE``: it answers ``initialize`` and ``tools/list`` correctly, then answers
``tools/call`` according to MODE: ``garbage`` (a line that is not JSON), ``badreply`` (JSON-RPC
whose result is not a CallToolResult).
"""

from __future__ import annotations

import json
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else "garbage"
TOOL = {
    "name": "answer",
    "description": "Answers badly.",
    "inputSchema": {"type": "object", "properties": {}},
}

# A name with a dot, which provider APIs refuse in tool names; this tool answers correctly.
DOTTED = {
    "name": "files.read",
    "description": "Reads a file.",
    "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
}


def send(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    method, rid = request.get("method"), request.get("id")
    if rid is None:
        continue  # a notification
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": rid, "result": {
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "raw", "version": "0"},
        }})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": rid, "result": {"tools": [TOOL, DOTTED]}})
    elif method == "tools/call" and request["params"]["name"] == "files.read":
        text = f"read {request['params'].get('arguments', {}).get('path')}"
        send({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}]}})
    elif method == "tools/call" and MODE == "garbage":
        sys.stdout.write("<html>this is not json-rpc</html>\n")
        sys.stdout.flush()
    elif method == "tools/call":
        send({"jsonrpc": "2.0", "id": rid, "result": {"content": "not a list", "isError": "maybe"}})
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"no method {method}"}})
