"""A hostile OpenAI-compatible server on loopback, for reliability tests of anything that speaks
the Chat Completions API (the CLI, engines, JS scripts).

The mode is the first path segment, so one server serves every mode at once: point a client at
``{server.url}/<mode>/v1`` (see :meth:`HostileServer.base_url`). Both streaming (``"stream": true``)
and plain JSON requests are answered. Modes:

``ok``               a normal reply (``hello from the hostile server``)
``status-NNN``       HTTP NNN with an OpenAI error body (``retry-after-ms: 20`` to keep retries quick)
``echo-headers``     HTTP 401 whose message quotes the request headers (Authorization included)
``cut``              a stream cut off after two chunks: no ``[DONE]``, the connection just closes
``cut-headers``      the connection closes before any response header
``malformed-sse``    a chunk that is not JSON, then more chunks
``not-sse``          200 with an HTML page instead of an event stream
``empty``            200 with an empty body
``stall-headers``    accepts the request and never answers (until the client gives up)
``stall-body``       headers and one chunk, then silence
``escapes``          content full of terminal control sequences (clear screen, OSC title, OSC 8
                     link, OSC 52 clipboard write, bell, backspaces)
``huge-chunk``       one 4 MiB content delta
``endless``          an event stream that never ends (a chunk every 10 ms)

Run it by hand with ``python tests/hostile_server.py`` (prints its URL).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "hello from the hostile server"
ESCAPES = (
    "before\x1b[2J\x1b[H"  # clear screen, cursor home
    "\x1b]0;pwned title\x07"  # OSC window title
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x1b]52;c;cHduZWQ=\x07"  # OSC 52 clipboard write
    "\x07bell\x08\x08after"
)
HUGE = "x" * (4 << 20)
MODES = (
    "ok", "status-400", "status-401", "status-403", "status-404", "status-429", "status-500",
    "status-503", "echo-headers", "cut", "cut-headers", "malformed-sse", "not-sse", "empty",
    "stall-headers", "stall-body", "escapes", "huge-chunk", "endless",
)  # fmt: skip
_MODE = re.compile(r"^/([a-z0-9-]+)/v1/chat/completions$")


def _chunk(content: str | None = None, *, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"role": "assistant", "content": content}
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "hostile",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 0,
        "model": "hostile",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        match = _MODE.match(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        if match is None or match.group(1) not in MODES:
            self._json(404, {"error": {"message": f"no such mode in {self.path}", "type": "not_found"}})
            return
        mode = match.group(1)
        self.server.requests[mode] += 1
        stream = bool(body.get("stream"))
        getattr(self, f"_{mode.split('-')[0]}")(mode, stream)  # status-500 -> _status

    # -- helpers ---------------------------------------------------------------------------

    def _json(self, status: int, payload: Any, **headers: str) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def _reply(self, content: str, stream: bool) -> None:
        if not stream:
            self._json(200, _completion(content))
            return
        self._start_stream()
        self._event(_chunk(content))
        self._event(_chunk(finish="stop"))
        self._event("[DONE]")

    def _hang(self) -> None:
        """Hold the connection until the client goes away or the server stops."""
        self.connection.settimeout(0.05)
        while not self.server.stopping.is_set():
            try:
                if self.connection.recv(1) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- modes -----------------------------------------------------------------------------

    def _ok(self, mode: str, stream: bool) -> None:
        self._reply(REPLY, stream)

    def _escapes(self, mode: str, stream: bool) -> None:
        self._reply(ESCAPES, stream)

    def _huge(self, mode: str, stream: bool) -> None:
        self._reply(HUGE, stream)

    def _status(self, mode: str, stream: bool) -> None:
        status = int(mode.split("-")[1])
        error = {"message": f"hostile status {status}", "type": "hostile_error", "code": str(status)}
        self._json(status, {"error": error}, retry_after_ms="20")

    def _echo(self, mode: str, stream: bool) -> None:
        echoed = "; ".join(f"{name}: {value}" for name, value in self.headers.items())
        self._json(401, {"error": {"message": f"bad request headers: {echoed}", "type": "invalid_request"}})

    def _cut(self, mode: str, stream: bool) -> None:
        if mode == "cut-headers":
            self._abort()
            return
        self._start_stream()
        self._event(_chunk("partial "))
        self._event(_chunk("reply "))
        self._abort()

    def _malformed(self, mode: str, stream: bool) -> None:
        self._start_stream()
        self._event(_chunk("fine "))
        self._event("{this is not json")
        self._event(_chunk("more"))
        self._event("[DONE]")

    def _not(self, mode: str, stream: bool) -> None:
        page = b"<html><body>502 Bad Gateway (but with a 200)</body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def _empty(self, mode: str, stream: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if stream else "application/json")
        self.send_header("content-length", "0")
        self.end_headers()

    def _stall(self, mode: str, stream: bool) -> None:
        if mode == "stall-body":
            self._start_stream()
            self._event(_chunk("first "))
        self._hang()

    def _endless(self, mode: str, stream: bool) -> None:
        self._start_stream()
        try:
            while not self.server.stopping.is_set():
                self._event(_chunk("more "))
                time.sleep(0.01)
        except OSError:
            return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: Counter[str] = Counter()
        self.stopping = threading.Event()


class HostileServer:
    """The server on a background thread; use as a context manager."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="hostile-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_url(self, mode: str) -> str:
        """The OpenAI base URL (``.../v1``) that selects ``mode``."""
        if mode not in MODES:
            raise ValueError(f"unknown hostile mode {mode!r}; expected one of {', '.join(MODES)}")
        return f"{self.url}/{mode}/v1"

    def requests(self, mode: str) -> int:
        """How many requests ``mode`` has received."""
        return self._server.requests[mode]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":
    with HostileServer() as running:
        print(f"hostile server on {running.url}; base URLs: {running.url}/<mode>/v1 with modes:")
        print(", ".join(MODES), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
