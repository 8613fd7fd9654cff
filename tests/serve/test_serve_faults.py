"""Disconnects, limits, auth, CORS, session continuation and graceful shutdown of the server."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest

from geppetto.engines import EchoEngine
from geppetto.serve import create_app
from geppetto.serve.app import STATE
from geppetto.serve.runs import SESSION_HEADER
from geppetto.store import TurnStore
from tests.serve.engines import GateEngine
from tests.serve.harness import Running, running

USER = [{"role": "user", "content": "hi"}]
BODY = json.dumps({"model": "gate", "messages": USER}).encode()


def _wait(condition: Any, what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until true (a bound on a hang, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _request(
    server: Running,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str = "",
) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    try:
        conn.request(
            method or ("POST" if body is not None else "GET"), path, body=body, headers=headers or {}
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _raw_post(server: Running, body: bytes) -> socket.socket:
    """A POST sent on a bare socket, so the test can drop the connection mid-run."""
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def _sse_text(raw: bytes) -> str:
    """The content deltas of an SSE body, joined."""
    text = ""
    for line in raw.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                text += choice["delta"].get("content") or ""
    return text


def _stored(store_path: Path) -> list[Any]:
    store = TurnStore(store_path)
    try:
        rows = []
        for info in store.list_sessions():
            rows.extend(store.list_turns(info.id))
        return rows
    finally:
        store.close()


@pytest.mark.parametrize("aiohttp_cancels", [True, False])
@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_cancels_the_run_and_keeps_the_partial_turn(
    tmp_path: Path, stream: bool, aiohttp_cancels: bool
) -> None:
    """Whether or not aiohttp cancels handlers of departed clients (an embedding app may not ask
    it to), the run stops and its partial turn is stored as cancelled."""
    engine = GateEngine()
    store_path = tmp_path / "turns.db"
    app = create_app(engines={"gate": engine}, store=store_path)
    with running(app, handler_cancellation=aiohttp_cancels) as server:
        body = json.dumps({"model": "gate", "messages": USER, "stream": stream}).encode()
        sock = _raw_post(server, body)
        assert engine.started.wait(30)
        if stream:
            assert b"partial" in sock.recv(65536) or b"partial" in sock.recv(65536)
        sock.close()
        assert engine.cancelled.wait(30), "the run was not cancelled when the client left"
        runs = app[STATE].runs
        _wait(lambda: not server.call(lambda: len(runs.active)), "the run to settle")
    rows = _stored(store_path)
    assert [row.outcome for row in rows] == ["cancelled"]
    store = TurnStore(store_path)
    try:
        turn = store.load_turns(rows[0].session_id)[-1]
    finally:
        store.close()
    assert turn.assistant_text() == "partial"


def test_full_queue_answers_429_with_retry_after() -> None:
    engine = GateEngine()
    app = create_app(engines={"gate": engine}, max_concurrency=1, queue_size=1)
    limiter = app[STATE].catalog.get("gate").limiter
    with running(app) as server:
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(_request(server, "/v1/chat/completions", BODY)[0]))
        ]
        threads[0].start()
        assert engine.started.wait(30)
        threads.append(
            threading.Thread(target=lambda: results.append(_request(server, "/v1/chat/completions", BODY)[0]))
        )
        threads[1].start()
        _wait(lambda: server.call(lambda: limiter.waiting) == 1, "the second request to queue")
        status, headers, body = _request(server, "/v1/chat/completions", BODY)
        assert status == 429
        assert headers["Retry-After"] == "1"
        error = json.loads(body)["error"]
        assert error["code"] == "rate_limit_exceeded"
        assert "concurrency limit" in error["message"]
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gate", messages=USER)
        engine.open()
        for thread in threads:
            thread.join(30)
        assert results == [200, 200]
        assert server.call(lambda: (limiter.active, limiter.waiting)) == (0, 0)


def test_oversized_bodies_answer_413() -> None:
    app = create_app(engines={"echo": EchoEngine()}, max_request_bytes=2048)
    big = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "x" * 4096}]}).encode()
    with running(app) as server:
        status, _, body = _request(server, "/v1/chat/completions", big, {"Content-Type": "application/json"})
        assert status == 413
        assert json.loads(body)["error"]["message"] == "the request body is larger than 2048 bytes"
        # without Content-Length (chunked), the limit holds while reading
        url = urlsplit(server.url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", body=iter([big[:1000], big[1000:]]), encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "request_too_large"
        conn.close()
        ok = json.dumps({"model": "echo", "messages": USER}).encode()
        assert _request(server, "/v1/chat/completions", ok)[0] == 200


def test_api_key_is_required_and_compared() -> None:
    app = create_app(engines={"echo": EchoEngine()}, api_key="s3cret-key")
    with running(app, api_key="s3cret-key") as server:
        for key in ("wrong", "s3cret-ke", "s3cret-key2"):
            client = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
            with pytest.raises(openai.AuthenticationError) as caught:
                client.chat.completions.create(model="echo", messages=USER)
            assert "s3cret" not in str(caught.value.body)
            with pytest.raises(openai.AuthenticationError):
                client.models.list()
        status, _, body = _request(server, "/v1/models")
        assert status == 401
        assert json.loads(body)["error"]["code"] == "invalid_api_key"
        assert _request(server, "/healthz")[0] == 200
        good = openai.OpenAI(base_url=server.base_url, api_key="s3cret-key", max_retries=0)
        reply = good.chat.completions.create(model="echo", messages=USER)
        assert reply.choices[0].message.content == "READY"


def test_cors_is_off_by_default() -> None:
    app = create_app(engines={"echo": EchoEngine()})
    with running(app) as server:
        status, headers, _ = _request(server, "/v1/models", headers={"Origin": "http://app.test"})
        assert status == 200
        assert "Access-Control-Allow-Origin" not in headers
        preflight = {"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}
        status, headers, _ = _request(server, "/v1/chat/completions", headers=preflight, method="OPTIONS")
        assert status == 405
        assert "Access-Control-Allow-Origin" not in headers


def test_cors_allows_only_the_given_origins() -> None:
    app = create_app(engines={"echo": EchoEngine()}, cors_origins=["http://app.test"], api_key="k")
    with running(app, api_key="k") as server:
        preflight = {
            "Origin": "http://app.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        status, headers, _ = _request(server, "/v1/chat/completions", headers=preflight, method="OPTIONS")
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == "http://app.test"
        assert headers["Access-Control-Allow-Headers"] == "authorization, content-type"
        auth = {"Authorization": "Bearer k", "Origin": "http://app.test"}
        stream = json.dumps({"model": "echo", "messages": USER, "stream": True}).encode()
        for body in (None, stream):
            path = "/v1/models" if body is None else "/v1/chat/completions"
            status, headers, _ = _request(server, path, body, auth)
            assert status == 200
            assert headers["Access-Control-Allow-Origin"] == "http://app.test"
            assert SESSION_HEADER in headers["Access-Control-Expose-Headers"]
        evil = {"Authorization": "Bearer k", "Origin": "http://evil.test"}
        status, headers, _ = _request(server, "/v1/models", headers=evil)
        assert "Access-Control-Allow-Origin" not in headers
        status, headers, _ = _request(
            server, "/v1/chat/completions", headers={**preflight, **evil}, method="OPTIONS"
        )
        assert status == 403
        assert "Access-Control-Allow-Origin" not in headers


def test_without_a_key_web_pages_cannot_drive_the_api() -> None:
    """A keyless loopback server: another site (a form or text/plain fetch needs no preflight, a
    rebound DNS name reaches 127.0.0.1) must not start runs; local clients and --cors origins may."""
    app = create_app(engines={"echo": EchoEngine()}, cors_origins=["http://app.test"])
    with running(app) as server:
        here = urlsplit(server.url).netloc
        form = {"Content-Type": "text/plain", "Origin": "http://evil.test"}
        status, _, body = _request(server, "/v1/chat/completions", BODY.replace(b"gate", b"echo"), form)
        assert status == 403 and json.loads(body)["error"]["code"] == "forbidden_origin"
        rebound = {"Host": f"evil.test:{urlsplit(server.url).port}", "Origin": "http://evil.test"}
        for path, payload in (("/v1/models", None), ("/v1/chat/completions", BODY)):
            status, _, body = _request(server, path, payload, rebound)
            assert status == 403 and json.loads(body)["error"]["code"] == "forbidden_host"
        echo = BODY.replace(b"gate", b"echo")
        for origin in (None, "http://app.test", f"http://{here}"):
            headers = {"Content-Type": "application/json", **({"Origin": origin} if origin else {})}
            assert _request(server, "/v1/chat/completions", echo, headers)[0] == 200
        assert _request(server, "/healthz", headers={"Host": "evil.test"})[0] == 200


def test_a_stored_session_answers_one_request_at_a_time(tmp_path: Path) -> None:
    gate = GateEngine()
    app = create_app(engines={"echo": EchoEngine("pong"), "gate": gate}, store=tmp_path / "turns.db")
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        sid = client.chat.completions.with_raw_response.create(model="echo", messages=USER).headers[
            SESSION_HEADER
        ]
        headers = {"Content-Type": "application/json", SESSION_HEADER: sid}
        held: list[int] = []
        first = threading.Thread(
            target=lambda: held.append(_request(server, "/v1/chat/completions", BODY, headers)[0])
        )
        first.start()
        assert gate.started.wait(30)
        echo = BODY.replace(b"gate", b"echo")
        status, _, body = _request(server, "/v1/chat/completions", echo, headers)
        assert status == 409 and json.loads(body)["error"]["code"] == "session_busy"
        gate.open()
        first.join(60)
        assert held == [200]
        assert _request(server, "/v1/chat/completions", echo, headers)[0] == 200


def test_session_header_continues_a_stored_session(tmp_path: Path) -> None:
    store_path = tmp_path / "turns.db"
    app = create_app(engines={"echo": EchoEngine("pong")}, store=store_path)
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        first = client.chat.completions.with_raw_response.create(model="echo", messages=USER)
        sid = first.headers[SESSION_HEADER]
        second = client.chat.completions.with_raw_response.create(
            model="echo",
            messages=[{"role": "user", "content": "again"}],
            extra_headers={SESSION_HEADER: sid},
        )
        assert second.headers[SESSION_HEADER] == sid
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(
                model="echo",
                messages=USER,
                extra_headers={SESSION_HEADER: "no-such-session"},
            )
        assert "no stored session" in str(caught.value)
    store = TurnStore(store_path)
    try:
        turns = store.load_turns(sid)
    finally:
        store.close()
    assert len(turns) == 2
    assert [(b.kind.value, b.text) for b in turns[-1].blocks] == [
        ("user", "hi"),
        ("llm_text", "pong"),
        ("user", "again"),
        ("llm_text", "pong"),
    ]


def test_session_header_without_a_store_is_400() -> None:
    app = create_app(engines={"echo": EchoEngine()})
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="echo", messages=USER, extra_headers={SESSION_HEADER: "abc"})
        assert "--store" in str(caught.value)


@pytest.mark.parametrize("finish", [True, False])
def test_shutdown_finishes_or_cancels_in_flight_runs_and_stores_them(tmp_path: Path, finish: bool) -> None:
    engine = GateEngine()
    store_path = tmp_path / "turns.db"
    app = create_app(engines={"gate": engine}, store=store_path, shutdown_grace=60 if finish else 0)
    runs = app[STATE].runs
    result: dict[str, Any] = {}
    with running(app) as server:
        body = json.dumps({"model": "gate", "messages": USER, "stream": True}).encode()

        def client() -> None:
            result["response"] = _request(server, "/v1/chat/completions", body)

        thread = threading.Thread(target=client)
        thread.start()
        assert engine.started.wait(30)
        server.stop()
        _wait(lambda: not runs.accepting, "shutdown to begin")
        if finish:
            engine.open()
        thread.join(60)
    status, _, raw = result["response"]
    assert status == 200
    if finish:
        assert _sse_text(raw) == "partial done"
        assert raw.endswith(b"data: [DONE]\n\n")
    else:
        assert engine.cancelled.is_set()
        assert b"[DONE]" not in raw
        assert _sse_text(raw) == "partial"
    rows = _stored(store_path)
    assert [row.outcome for row in rows] == ["completed" if finish else "cancelled"]


class _FailingEngine:
    """Streams a delta, then fails."""

    name = "failing"

    async def run(self, turn: Any, ctx: Any) -> Any:
        from geppetto.engines.accumulator import StreamAccumulator

        with StreamAccumulator(turn, ctx, provider="failing", model="failing") as acc:
            acc.start()
            acc.add_text("half")
            await asyncio.sleep(0)
            raise RuntimeError("the engine broke")


def test_a_run_failing_mid_stream_ends_with_an_error_event(tmp_path: Path) -> None:
    store_path = tmp_path / "turns.db"
    app = create_app(engines={"failing": _FailingEngine()}, store=store_path)
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        received = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in client.chat.completions.create(model="failing", messages=USER, stream=True):
                received.append(chunk.choices[0].delta.content or "")
        assert "the engine broke" in str(caught.value)
        assert "".join(received) == "half"
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="failing", messages=USER)
    assert [row.outcome for row in _stored(store_path)] == ["failed", "failed"]


def test_a_request_queued_at_shutdown_gets_503_and_starts_no_run() -> None:
    engine = GateEngine()
    app = create_app(engines={"gate": engine}, max_concurrency=1, queue_size=1, shutdown_grace=60)
    state = app[STATE]
    limiter = state.catalog.get("gate").limiter
    results: dict[str, tuple[int, dict[str, str], bytes]] = {}
    with running(app) as server:

        def call(name: str) -> None:
            results[name] = _request(server, "/v1/chat/completions", BODY)

        first = threading.Thread(target=call, args=("first",))
        first.start()
        assert engine.started.wait(30)
        second = threading.Thread(target=call, args=("second",))
        second.start()
        _wait(lambda: server.call(lambda: limiter.waiting) == 1, "the second request to queue")
        server.stop()
        _wait(lambda: not state.runs.accepting, "shutdown to begin")
        engine.open()
        first.join(60)
        second.join(60)
    assert results["first"][0] == 200
    status, _, body = results["second"]
    assert status == 503
    assert json.loads(body)["error"]["message"] == "the server is shutting down"
    assert engine.runs == 1


def test_the_web_chat_page_is_public_and_its_api_needs_the_key(tmp_path: Path) -> None:
    app = create_app(engines={"echo": EchoEngine()}, api_key="s3cret-key", store=str(tmp_path / "t.db"),
                     web_chat=True)  # fmt: skip
    with running(app, api_key="s3cret-key") as server:
        status, _, page = _request(server, "/")
        assert status == 200 and b"<html" in page.lower()
        assert _request(server, "/api/sessions")[0] == 401
        status, _, body = _request(server, "/api/sessions", headers={"Authorization": "Bearer s3cret-key"})
        assert status == 200, body
        assert _request(server, "/v1/models")[0] == 401


def test_building_an_engine_does_not_stall_the_server() -> None:
    """A model's first request builds its engine off the event loop (other requests are answered
    meanwhile), and requests arriving together build it once."""
    app = create_app(engines={"echo": EchoEngine()})
    model = app[STATE].catalog.get("echo")
    model._engine = None  # as for a profile not used yet
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    builds: list[int] = []

    def slow_build() -> EchoEngine:
        builds.append(1)
        started.set()
        release.wait(15)  # a bound on a hang, not a timing
        finished.set()
        return EchoEngine()

    model._build = slow_build  # type: ignore[method-assign]
    body = BODY.replace(b"gate", b"echo")
    headers = {"Content-Type": "application/json"}
    with running(app) as server:
        statuses: list[int] = []
        clients = [
            threading.Thread(
                target=lambda: statuses.append(_request(server, "/v1/chat/completions", body, headers)[0])
            )
            for _ in range(2)
        ]
        for client in clients:
            client.start()
        assert started.wait(30)
        assert _request(server, "/healthz")[0] == 200
        answered_during_build = not finished.is_set()
        release.set()
        for client in clients:
            client.join(60)
    assert answered_during_build
    assert statuses == [200, 200] and len(builds) == 1
