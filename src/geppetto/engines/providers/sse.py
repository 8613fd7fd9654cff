"""Incremental decoders for streamed bodies: Server-Sent Events and NDJSON.

They work on raw bytes as they arrive from the socket and hand back whole events, so the hot
path is: bytes -> split lines -> ``orjson.loads`` on the payload, with no SDK models involved.
Lines are split on bytes (``\\n``, ``\\r\\n`` or a lone ``\\r``) before decoding, so a multi-byte
character split across reads is never decoded in halves. There is no line-length limit.

SSE rules (WHATWG): ``:`` starts a comment, one space after ``field:`` is stripped, several
``data:`` lines are joined with ``\\n``, a blank line dispatches, and a final event without a
trailing blank line is dispatched by :meth:`SSEDecoder.close`. With ``raw_json=True`` lines that
are not SSE fields are collected until they form a JSON document (Gemini sends errors that way).
"""

from __future__ import annotations

import orjson

SSEEvent = tuple[str, str]  # (event name, data); the name is "" when the server sent none


class SSEDecoder:
    __slots__ = ("_buffer", "_data", "_event", "_raw", "_raw_json", "comments")

    def __init__(self, *, raw_json: bool = False) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._raw: list[str] = []
        self._raw_json = raw_json
        self.comments = 0  # keep-alive comments seen (they count as activity)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode ``chunk``; return the events it completed."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):
                # A "\r\n" may be split across reads: keep the "\r" until the next chunk.
                self._buffer = b"\r"
                buffer = buffer[:-1]
            else:
                self._buffer = b""
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buffer.split(b"\n")
            self._buffer = lines.pop() + self._buffer
        else:
            lines = buffer.split(b"\n")
            self._buffer = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: dispatch whatever is pending."""
        events: list[SSEEvent] = []
        if self._buffer:
            rest, self._buffer = self._buffer.rstrip(b"\r"), b""
            self._line(rest, events)
        self._line(b"", events)
        if self._raw:
            events.append(("raw", "\n".join(self._raw)))
            self._raw = []
        return events

    def _line(self, raw: bytes, events: list[SSEEvent]) -> None:
        if not raw:
            if self._data:
                events.append((self._event, "\n".join(self._data)))
                self._data = []
            self._event = ""
            return
        line = raw.decode("utf-8", errors="replace")
        if line.startswith("data:"):
            self._data.append(line[6:] if line.startswith("data: ") else line[5:])
            return
        if line[0] == ":":
            self.comments += 1
            return
        field, sep, value = line.partition(":")
        if sep and field in ("event", "id", "retry"):
            if field == "event":
                self._event = value[1:] if value.startswith(" ") else value
            return
        if self._raw_json:
            self._raw.append(line)
            text = "\n".join(self._raw)
            try:
                orjson.loads(text)
            except orjson.JSONDecodeError:
                return
            self._raw = []
            events.append(("raw", text))


class NDJSONDecoder:
    """Newline-delimited JSON: one document per line; blank lines are skipped."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        return [line for line in lines if line.strip()]

    def close(self) -> list[bytes]:
        rest, self._buffer = self._buffer, b""
        return [rest] if rest.strip() else []
