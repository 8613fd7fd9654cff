"""What ``/v1`` streams besides text: reasoning, tool calls as they are produced, and the session
guard it shares with the web chat."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai

from geppetto.engines import EchoEngine
from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.serve import create_app
from geppetto.serve.web import add_web_chat
from geppetto.session import EngineBuilder
from geppetto.store import TurnStore
from geppetto.turns.model import Turn
from tests.serve.engines import GateEngine
from tests.serve.harness import running
from tests.webchat.support import ScriptedProfiles

USER = [{"role": "user", "content": "hi"}]


class ThinkingEngine:
    """Reasons in two deltas, then answers."""

    name = "thinking"

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        with StreamAccumulator(turn, ctx, provider="thinking", model="thinking") as acc:
            acc.start()
            acc.add_reasoning("Two plus two")
            await asyncio.sleep(0)  # a writer task takes over: the rest goes out in later writes
            acc.add_reasoning(" is four.")
            acc.add_text("4")
            acc.set_stop_reason("stop")
            return acc.finish()


class GatedToolEngine:
    """Streams a tool call's head and first argument fragment, waits at a gate, then the rest."""

    name = "gated-tool"

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.passed = threading.Event()
        self._gate: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> None:
        assert self._loop is not None and self._gate is not None
        self._loop.call_soon_threadsafe(self._gate.set)

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        self._gate, self._loop = asyncio.Event(), asyncio.get_running_loop()
        with StreamAccumulator(turn, ctx, provider="tool", model="tool") as acc:
            acc.start()
            acc.add_tool_call(0, id="call_7", name="lookup")
            acc.add_tool_call(0, arguments='{"q": ')
            self.reached.set()
            await self._gate.wait()
            self.passed.set()
            acc.add_tool_call(0, arguments='"paris"}')
            acc.set_stop_reason("tool_calls")
            return acc.finish()


class Http:
    """Plain HTTP/1.1 to the test server (one connection per request)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def open(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        return conn.getresponse()

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        response = self.open(method, path, body, headers)
        raw = response.read()
        response.json = json.loads(raw) if raw.startswith((b"{", b"[")) else None
        return response


def _sse(response: Any) -> Iterator[dict[str, Any]]:
    while True:
        line = response.readline()
        if not line:
            return
        text = line.decode().strip()
        if text.startswith("data: ") and text != "data: [DONE]":
            yield json.loads(text[6:])


def test_reasoning_goes_out_as_reasoning_content_only_when_there_is_some() -> None:
    app = create_app(engines={"thinking": ThinkingEngine(), "echo": EchoEngine("plain")})
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="thinking", messages=USER)
        message = reply.choices[0].message.model_dump()
        assert message["content"] == "4" and message["reasoning_content"] == "Two plus two is four."
        chunks = list(client.chat.completions.create(model="thinking", messages=USER, stream=True))
        deltas = [c.choices[0].delta.model_dump() for c in chunks if c.choices]
        reasoning = [d["reasoning_content"] for d in deltas if d.get("reasoning_content")]
        assert "".join(reasoning) == "Two plus two is four."
        first_text = next(i for i, d in enumerate(deltas) if d.get("content"))
        assert all(i < first_text for i, d in enumerate(deltas) if d.get("reasoning_content"))
        assert "".join(d.get("content") or "" for d in deltas) == "4"
        plain = client.chat.completions.create(model="echo", messages=USER)
        assert "reasoning_content" not in plain.choices[0].message.model_dump(exclude_none=True)
        streamed = list(client.chat.completions.create(model="echo", messages=USER, stream=True))
        assert not any("reasoning_content" in c.choices[0].delta.model_dump() for c in streamed if c.choices)


def test_tool_calls_stream_as_the_engine_produces_them() -> None:
    engine = GatedToolEngine()
    app = create_app(engines={"tool": engine})
    body = {
        "model": "tool",
        "messages": USER,
        "stream": True,
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    }
    with running(app) as server:
        response = Http(server.url).open("POST", "/v1/chat/completions", body)
        assert response.status == 200
        calls: list[dict[str, Any]] = []
        finish = None
        if True:
            for chunk in _sse(response):
                delta = chunk["choices"][0]["delta"]
                for call in delta.get("tool_calls") or ():
                    if not calls:  # the head went out while the engine still waits at its gate
                        assert engine.reached.is_set() and not engine.passed.is_set()
                        engine.open()
                    calls.append(call)
                finish = chunk["choices"][0]["finish_reason"] or finish
    head, *rest = calls
    assert head == {
        "index": 0,
        "id": "call_7",
        "type": "function",
        "function": {"name": "lookup", "arguments": ""},
    }
    assert all(set(c) == {"index", "function"} and c["index"] == 0 for c in rest)
    arguments = "".join(c["function"]["arguments"] for c in rest)
    assert json.loads(arguments) == {"q": "paris"}
    assert finish == "tool_calls"


def test_the_sdk_assembles_streamed_tool_calls() -> None:
    engine = GatedToolEngine()
    app = create_app(engines={"tool": engine})
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        opener = threading.Thread(target=lambda: engine.reached.wait(30) and engine.open())
        opener.start()
        with client.beta.chat.completions.stream(model="tool", messages=USER, tools=tools) as stream:  # type: ignore[arg-type]
            final = stream.get_final_completion()
        opener.join()
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_7",
        "lookup",
        {"q": "paris"},
    )


def test_the_web_chat_and_v1_share_one_guard_per_session(tmp_path: Path) -> None:
    store = TurnStore(tmp_path / "t.db")
    web_gate, api_gate = GateEngine(), GateEngine()
    app = create_app(engines={"echo": EchoEngine("hello"), "gate": api_gate}, store=store)
    profiles = ScriptedProfiles({"gate": lambda: EngineBuilder(web_gate)}, default="gate")
    add_web_chat(app, store=store, profiles=profiles)
    try:
        with running(app) as server:
            http = Http(server.url)
            first = http.call("POST", "/v1/chat/completions", {"model": "echo", "messages": USER})
            sid = first.headers["X-Geppetto-Session-Id"]
            continuing = {"X-Geppetto-Session-Id": sid}

            # a web reply holds the session: a /v1 continuation of it is refused
            web_done: list[int] = []
            web = threading.Thread(
                target=lambda: web_done.append(
                    http.call(
                        "POST", "/api/chat", {"message": "go", "session": sid, "profile": "gate"}
                    ).status
                )
            )
            web.start()
            assert web_gate.started.wait(30)
            busy = http.call("POST", "/v1/chat/completions", {"model": "echo", "messages": USER}, continuing)
            assert busy.status == 409 and busy.json["error"]["code"] == "session_busy"
            web_gate.open()
            web.join(30)
            assert web_done == [200]

            # a /v1 continuation holds it: the web chat refuses a message to it
            api_done: list[int] = []
            body = {"model": "gate", "messages": USER}
            api = threading.Thread(
                target=lambda: api_done.append(
                    http.call("POST", "/v1/chat/completions", body, continuing).status
                )
            )
            api.start()
            assert api_gate.started.wait(30)
            refused = http.call("POST", "/api/chat", {"message": "again", "session": sid, "profile": "gate"})
            assert refused.status == 409 and "still answering" in refused.json["error"]["message"]
            listed = http.call("GET", "/api/sessions").json["sessions"]
            assert [s["running"] for s in listed if s["id"] == sid] == [True]
            api_gate.open()
            api.join(30)
            assert api_done == [200]
            # free again for both
            again = http.call("POST", "/v1/chat/completions", {"model": "echo", "messages": USER}, continuing)
            assert again.status == 200
    finally:
        store.close()
