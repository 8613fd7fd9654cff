"""Turns -> OpenAI ``chat.completion`` objects and ``chat.completion.chunk`` SSE frames."""

from __future__ import annotations

import time
from typing import Any

import orjson

from geppetto.turns.keys import RunMetaKeys, TurnMetaKeys
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Turn

_RESULT = TurnMetaKeys.INFERENCE_RESULT.id
_CONTENT_FILTER = {"content_filter", "refusal", "safety", "prohibited_content", "spii", "blocklist"}


def completion_id(inference_id: str) -> str:
    return f"chatcmpl-{inference_id}"


def pending_tool_calls(turn: Turn, start: int) -> list[dict[str, Any]]:
    """The tool calls the run produced that nothing answered: the client has to run them."""
    new = turn.blocks[start:]
    made = [b for b in new if b.kind is BlockKind.TOOL_CALL]
    if not made:
        return []
    answered = {str(b.payload.get("id")) for b in new if b.kind is BlockKind.TOOL_USE}
    calls = []
    for block in made:
        call_id = str(block.payload.get("id") or block.id)
        if call_id in answered:
            continue
        args = block.payload.get("args")
        if not isinstance(args, str):
            args = orjson.dumps({} if args is None else args).decode()
        name = str(block.payload.get("name") or "")
        calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": args}})
    return calls


def reply_text(turn: Turn, start: int) -> str:
    return "".join(b.text or "" for b in turn.blocks[start:] if b.kind is BlockKind.LLM_TEXT)


def reasoning_text(turn: Turn, start: int) -> str:
    """The run's readable reasoning (encrypted reasoning has no text and is never sent)."""
    return "".join(b.text or "" for b in turn.blocks[start:] if b.kind is BlockKind.REASONING)


def _result(turn: Turn) -> dict[str, Any]:
    result = turn.metadata.get(_RESULT)
    return result if isinstance(result, dict) else {}


def finish_reason(turn: Turn, has_calls: bool) -> str:
    if has_calls:
        return "tool_calls"
    result = _result(turn)
    stop = str(result.get("stop_reason") or "").lower()
    if result.get("finish_class") == "max_tokens" or result.get("truncated"):
        return "length"
    if stop in _CONTENT_FILTER:
        return "content_filter"
    return "stop"


def usage(turn: Turn) -> dict[str, Any]:
    """What the request used: the run's total (every model call of a server-side tool loop), as
    the session recorded it, else the last call's."""
    raw = turn.metadata.get(RunMetaKeys.RUN_USAGE.id)
    if not isinstance(raw, dict):
        raw = _result(turn).get("usage")
    if not isinstance(raw, dict):
        raw = turn.metadata.get(TurnMetaKeys.USAGE.id)
    raw = raw if isinstance(raw, dict) else {}
    prompt = int(raw.get("input_tokens") or 0)
    completion = int(raw.get("output_tokens") or 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    cached = int(raw.get("cached_tokens") or raw.get("cache_read_input_tokens") or 0)
    if cached:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    return out


def completion(turn: Turn, start: int, model: str, inference_id: str, created: int) -> dict[str, Any]:
    calls = pending_tool_calls(turn, start)
    text = reply_text(turn, start)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or (None if calls else ""),
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    reasoning = reasoning_text(turn, start)
    if reasoning:  # DeepSeek's and vLLM's field; only when the run produced reasoning
        message["reasoning_content"] = reasoning
    return {
        "id": completion_id(inference_id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(turn, bool(calls)),
            }
        ],
        "usage": usage(turn),
        "system_fingerprint": None,
    }


_DELTA = b'"system_fingerprint":null,"choices":[{"index":0,"delta":'
_REASON = b',"logprobs":null,"finish_reason":'
_NULL = b"null"
_END = b"}]}\n\n"
_USAGE_NULL = b'}],"usage":null}\n\n'


class ChunkWriter:
    """Builds the SSE frames of one streamed completion (all share id, created and model)."""

    __slots__ = ("_open", "created", "id", "model")

    def __init__(self, model: str, inference_id: str) -> None:
        self.id = completion_id(inference_id)
        self.created = int(time.time())
        self.model = model
        head = orjson.dumps(
            {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": model}
        )
        # the fields every chunk shares, without the closing brace
        self._open = b"data: " + head[:-1] + b","

    def _frame(self, rest: dict[str, Any]) -> bytes:
        return self._open + orjson.dumps(rest)[1:] + b"\n\n"

    def delta(self, delta: dict[str, Any], finish: str | None = None, with_usage: bool = False) -> bytes:
        """One chunk: the bytes ``orjson`` gives for ``{..., "system_fingerprint": null, "choices":
        [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null}``,
        joined from constant parts (a stream builds several per request)."""
        reason = _NULL if finish is None else orjson.dumps(finish)
        return b"".join(
            (self._open, _DELTA, orjson.dumps(delta), _REASON, reason, _USAGE_NULL if with_usage else _END)
        )

    def text(self, text: str, with_usage: bool = False) -> bytes:
        return self.delta({"content": text}, with_usage=with_usage)

    def usage(self, turn: Turn) -> bytes:
        return self._frame({"system_fingerprint": None, "choices": [], "usage": usage(turn)})

    @staticmethod
    def error(body: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(body) + b"\n\n"

    DONE = b"data: [DONE]\n\n"
