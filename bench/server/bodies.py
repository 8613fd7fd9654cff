"""Pre-built OpenAI chat responses, so the server spends no time per request on encoding.

Streams follow what OpenAI sends with ``stream_options.include_usage``: a first chunk carrying the
role, one chunk per content delta, a chunk with ``finish_reason: "stop"``, a usage chunk with
empty ``choices`` and ``data: [DONE]``. Each content delta is distinct (``"t0 "``, ``"t1 "``, ...)
because litellm aborts a stream that repeats the same chunk.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

_BASE = {"id": "chatcmpl-bench", "created": 1, "model": "x"}


def content(index: int, size: int) -> str:
    """The text of content chunk ``index``; ``size`` pads it to that many characters (0 = natural)."""
    text = f"t{index} "
    return text.ljust(size, "x") if size > len(text) else text


def _event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """One ``chat.completion.chunk`` SSE event for choice 0."""
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _event({**_BASE, "object": "chat.completion.chunk", "choices": [choice]})


def usage(completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": 1, "completion_tokens": completion_tokens, "total_tokens": completion_tokens + 1}


@functools.lru_cache(maxsize=64)
def stream_events(chunks: int, size: int = 0) -> tuple[bytes, ...]:
    """Head (role), ``chunks`` content events, then the tail (stop, usage, ``[DONE]``) as one tuple."""
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": content(i, size)}) for i in range(chunks)]
    events.append(chunk({}, "stop"))
    events.append(_event({**_BASE, "object": "chat.completion.chunk", "choices": [], "usage": usage(chunks)}))
    events.append(b"data: [DONE]\n\n")
    return tuple(events)


@functools.lru_cache(maxsize=64)
def stream_body(chunks: int, size: int = 0) -> bytes:
    return b"".join(stream_events(chunks, size))


@functools.lru_cache(maxsize=64)
def completion_body(chunks: int, size: int = 0) -> bytes:
    """The non-streaming ``chat.completion`` whose text equals the stream's concatenated deltas."""
    text = "".join(content(i, size) for i in range(chunks))
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    body = {**_BASE, "object": "chat.completion", "choices": [choice], "usage": usage(chunks)}
    return orjson.dumps(body)


def error_body(status: int, message: str, kind: str) -> bytes:
    """An OpenAI-shaped error object (``{"error": {"message", "type", "code"}}``)."""
    return orjson.dumps({"error": {"message": message, "type": kind, "code": status}})


def error_event(message: str, kind: str) -> bytes:
    """An error object inside a 200 stream, as OpenAI-compatible gateways send it."""
    return _event({"error": {"message": message, "type": kind}})


MALFORMED_EVENT = b'data: {"id": "chatcmpl-bench", "choices": [{"delta": {"content": "x"\n\n'
