"""``POST /v1/chat/completions`` request bodies -> a seed :class:`Turn` and run options.

Only what OpenAI documents is read; fields we do not use (``user``, ``metadata``, ``logprobs``,
``parallel_tool_calls``, ...) are ignored as OpenAI ignores what a model does not support, and a
field of the wrong type is a 400 naming it (``param``), in OpenAI's error shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from geppetto.errors import ConfigError, TurnError
from geppetto.serve.errors import APIError, bad_request
from geppetto.turns.keys import DataKeys
from geppetto.turns.model import Block, Turn


@dataclass(frozen=True, slots=True)
class ClientTool:
    """A tool the client declared: advertised to the engine, never run here (the client runs it)."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ClientTools:
    """What ``ctx.tools`` holds for a request with client tools (engines call ``list_tools()``)."""

    tools: list[ClientTool] = field(default_factory=list)

    def list_tools(self) -> list[ClientTool]:
        return list(self.tools)


@dataclass(slots=True)
class ChatRequest:
    model: str
    seed: Turn
    stream: bool = False
    include_usage: bool = False
    tools: ClientTools | None = None


# OpenAI sampling fields -> (Turn.data key, field in that config)
_SAMPLING: dict[str, tuple[str, str]] = {
    "temperature": (DataKeys.INFERENCE_CONFIG.id, "temperature"),
    "top_p": (DataKeys.INFERENCE_CONFIG.id, "top_p"),
    "max_tokens": (DataKeys.INFERENCE_CONFIG.id, "max_response_tokens"),
    "max_completion_tokens": (DataKeys.INFERENCE_CONFIG.id, "max_response_tokens"),
    "stop": (DataKeys.INFERENCE_CONFIG.id, "stop"),
    "seed": (DataKeys.INFERENCE_CONFIG.id, "seed"),
    "reasoning_effort": (DataKeys.INFERENCE_CONFIG.id, "reasoning_effort"),
    "presence_penalty": (DataKeys.OPENAI_INFERENCE_CONFIG.id, "presence_penalty"),
    "frequency_penalty": (DataKeys.OPENAI_INFERENCE_CONFIG.id, "frequency_penalty"),
}


def parse_body(raw: bytes, default_model: str | None) -> ChatRequest:
    """The request as a :class:`ChatRequest`; :class:`APIError` (400) says what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    model = body.get("model", default_model)
    if model is None and default_model:
        model = default_model
    if not isinstance(model, str) or not model:
        raise bad_request("you must provide a model parameter", param="model")
    stream = _bool(body, "stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not isinstance(options, dict):
            raise bad_request("stream_options must be an object", param="stream_options")
        if not stream:
            raise bad_request("stream_options is only allowed when stream is true", param="stream_options")
        include_usage = _bool(options, "include_usage", "stream_options.include_usage")
    n = body.get("n")
    if n is not None and n != 1:
        raise bad_request("only n=1 is supported", param="n")
    seed = Turn(blocks=parse_messages(body.get("messages")))
    _sampling(body, seed)
    _response_format(body.get("response_format"), seed)
    tools = _tools(body.get("tools"))
    if tools is not None:
        _tool_choice(body.get("tool_choice"), tools, seed)
    elif body.get("tool_choice") not in (None, "none", "auto"):
        raise bad_request("tool_choice is only allowed when tools are specified", param="tool_choice")
    return ChatRequest(model, seed, stream, include_usage, tools)


def _bool(body: dict[str, Any], name: str, param: str | None = None) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{param or name} must be a boolean", param=param or name)
    return value


# -- messages ------------------------------------------------------------------------------------


def parse_messages(messages: Any) -> list[Block]:
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty array", param="messages")
    blocks: list[Block] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_request(f"{where} must be an object", param=where)
        role = message.get("role")
        if role in ("system", "developer"):
            blocks.append(Block.system(_text(message.get("content"), where)))
        elif role == "user":
            blocks.append(_user(message.get("content"), where))
        elif role == "assistant":
            blocks.extend(_assistant(message, where))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise bad_request(f"{where}.tool_call_id is required for role 'tool'", param=where)
            blocks.append(Block.tool_use(call_id, _text(message.get("content"), where)))
        else:
            raise bad_request(
                f"{where}.role must be one of system, developer, user, assistant, tool; got {role!r}",
                param=f"{where}.role",
            )
    return blocks


def _text(content: Any, where: str) -> str:
    """String content, or the text parts of an array joined (images are refused here)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or an array of parts", param=f"{where}.content")
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise bad_request(
                f"{where}.content[{index}] must be a text part for this role", param=f"{where}.content"
            )
        texts.append(part["text"])
    return "\n".join(texts)


def _user(content: Any, where: str) -> Block:
    if isinstance(content, str):
        return Block.user(content)
    if not isinstance(content, list) or not content:
        raise bad_request(
            f"{where}.content must be a string or a non-empty array of parts", param=f"{where}.content"
        )
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        place = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            spec = part.get("image_url")
            url = spec.get("url") if isinstance(spec, dict) else spec
            if not isinstance(url, str) or not url:
                raise bad_request(f"{place}.image_url.url must be a URL or a data URL", param=place)
            image: dict[str, Any] = {"url": url}
            detail = spec.get("detail") if isinstance(spec, dict) else None
            if detail is not None:
                image["detail"] = detail
            images.append(image)
        else:
            raise bad_request(f"{place} must be a text or image_url part", param=place)
    try:
        return Block.user("\n".join(texts), images or None)
    except (TurnError, ValueError) as exc:
        raise bad_request(f"{where}: {exc}", param=f"{where}.content") from None


def _assistant(message: dict[str, Any], where: str) -> list[Block]:
    blocks = []
    text = _text(message.get("content"), where)
    if text:
        blocks.append(Block.assistant(text))
    calls = message.get("tool_calls")
    if calls is None:
        return blocks
    if not isinstance(calls, list):
        raise bad_request(f"{where}.tool_calls must be an array", param=f"{where}.tool_calls")
    for index, call in enumerate(calls):
        place = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(call.get("id"), str):
            raise bad_request(f"{place} must have an id and a function", param=place)
        name, args = function.get("name"), function.get("arguments", "")
        if not isinstance(name, str) or not name or not isinstance(args, str):
            raise bad_request(f"{place}.function needs a name and string arguments", param=place)
        blocks.append(Block.tool_call(call["id"], name, args))
    return blocks


# -- options -------------------------------------------------------------------------------------


def _sampling(body: dict[str, Any], seed: Turn) -> None:
    """Sampling fields become the turn's per-run overrides, checked now with the settings' own
    range checks so a bad value is a 400, not a failed run."""
    configs: dict[str, dict[str, Any]] = {}
    for name, (key, target) in _SAMPLING.items():
        value = body.get(name)
        if value is None:
            continue
        if name == "stop" and isinstance(value, str):
            value = [value]
        configs.setdefault(key, {})[target] = value
    if not configs:
        return
    from geppetto.engines.turn_settings import settings_for_turn
    from geppetto.settings import Settings

    for key, config in configs.items():
        seed.data[key] = config
    try:
        settings_for_turn(Settings(), seed)
    except ConfigError as exc:
        param = _param_of(str(exc))
        raise bad_request(f"Invalid value: {exc}", param=param) from None


def _param_of(message: str) -> str | None:
    for name, (_, target) in _SAMPLING.items():
        if f".{target}:" in message:
            return name
    return None


def _response_format(spec: Any, seed: Turn) -> None:
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise bad_request("response_format must be an object", param="response_format")
    kind = spec.get("type")
    if kind == "text":
        return
    if kind == "json_object":
        config = {"mode": "json_schema", "name": "json_object", "schema": {"type": "object"}, "strict": False}
    elif kind == "json_schema":
        schema_spec = spec.get("json_schema")
        if not isinstance(schema_spec, dict):
            raise bad_request("response_format.json_schema must be an object", param="response_format")
        name, schema = schema_spec.get("name"), schema_spec.get("schema")
        if not isinstance(name, str) or not name:
            raise bad_request("response_format.json_schema.name is required", param="response_format")
        if not isinstance(schema, dict):
            raise bad_request(
                "response_format.json_schema.schema must be a JSON-schema object", param="response_format"
            )
        config = {"mode": "json_schema", "name": name, "schema": schema}
        if isinstance(schema_spec.get("description"), str):
            config["description"] = schema_spec["description"]
        if isinstance(schema_spec.get("strict"), bool):
            config["strict"] = schema_spec["strict"]
    else:
        raise bad_request(
            f"response_format.type must be text, json_object or json_schema; got {kind!r}",
            param="response_format.type",
        )
    seed.data[DataKeys.STRUCTURED_OUTPUT_CONFIG.id] = config


def _tools(spec: Any) -> ClientTools | None:
    if spec is None:
        return None
    if not isinstance(spec, list):
        raise bad_request("tools must be an array", param="tools")
    tools = ClientTools()
    for index, item in enumerate(spec):
        place = f"tools[{index}]"
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("type") != "function" or not isinstance(function, dict):
            raise bad_request(f"{place} must be a function tool", param=place)
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request(f"{place}.function.name is required", param=f"{place}.function.name")
        params = function.get("parameters")
        if params is None:
            params = {"type": "object", "properties": {}}
        if not isinstance(params, dict):
            raise bad_request(f"{place}.function.parameters must be an object", param=place)
        description = function.get("description")
        tools.tools.append(ClientTool(name, description if isinstance(description, str) else "", params))
    return tools if tools.tools else None


def _tool_choice(choice: Any, tools: ClientTools, seed: Turn) -> None:
    """``auto``/``none``/``required`` pass through; a named function narrows the advertised
    tools to that one and requires a call."""
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise bad_request("tool_choice must be auto, none, required or a function", param="tool_choice")
        seed.data[DataKeys.TOOL_CONFIG.id] = {"tool_choice": choice}
        return
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise bad_request("tool_choice must be auto, none, required or a function", param="tool_choice")
    chosen = [tool for tool in tools.tools if tool.name == name]
    if not chosen:
        raise APIError(400, f"tool_choice names {name!r}, which is not in tools", param="tool_choice")
    tools.tools = chosen
    seed.data[DataKeys.TOOL_CONFIG.id] = {"tool_choice": "required"}
