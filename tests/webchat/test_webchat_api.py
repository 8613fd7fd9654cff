"""The web chat's JSON/SSE API through aiohttp's test client: sessions, streaming, stop, errors."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from geppetto.engines.function import FunctionEngine
from geppetto.errors import ConfigError
from geppetto.serve.web import ChatRuns, add_web_chat
from geppetto.serve.web.views import PROFILE_KEY
from geppetto.session import EngineBuilder
from geppetto.store import TurnStore
from geppetto.tools import ToolRegistry
from tests.webchat.support import (
    HOSTILE,
    MARKDOWN_REPLY,
    ScriptedProfiles,
    add,
    make_profiles,
    runs_of,
    sse_records,
)

Client = TestClient[web.Request, web.Application]


async def chat(client: Client, **body: Any) -> list[dict[str, Any]]:
    response = await client.post("/api/chat", json=body)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return sse_records(await response.read())


async def error_of(response: aiohttp.ClientResponse, status: int) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    return str(body["error"]["message"])


async def eventually(check: Any, what: str, limit: float = 30.0) -> Any:
    """Poll ``check()`` until it returns something truthy (a correctness wait, not a timing gate)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- page and static files ---------------------------------------------------------------------


async def test_page_is_served_with_a_strict_content_security_policy(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert '<script src="/static/app.js" defer></script>' in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assets = (("app.js", "text/javascript"), ("markdown.js", "text/javascript"), ("app.css", "text/css"))
    for name, kind in assets:
        asset = await client.get(f"/static/{name}")
        assert asset.status == 200 and asset.content_type == kind
        assert len(await asset.read()) > 500


async def test_static_route_serves_only_its_own_files(client: Client) -> None:
    for name in ("index.html", "..%2f__init__.py", "routes.py", "nope.js"):
        assert (await client.get(f"/static/{name}")).status == 404


def test_static_files_ship_inside_the_package() -> None:
    from importlib import resources

    static = resources.files("geppetto.serve.web") / "static"
    assert {"index.html", "app.js", "markdown.js", "app.css"} <= {p.name for p in static.iterdir()}
    app_js = (static / "app.js").read_text()
    markdown_js = (static / "markdown.js").read_text()
    sink = re.compile(r"\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function")
    for source in (app_js, markdown_js):  # model text never reaches an HTML parser
        assert sink.search(source) is None


# -- profiles ----------------------------------------------------------------------------------


async def test_profiles_lists_the_choices_and_the_default(client: Client) -> None:
    body = await (await client.get("/api/profiles")).json()
    assert [p["name"] for p in body["profiles"]] == ["fast", "slow", "tools"]
    assert body["default"] == "fast"


async def test_catalog_profiles_resolve_like_the_cli_and_never_show_keys(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "echo-one:\n  ai-chat:\n    ai-api-type: echo\n"
        "remote:\n  ai-chat:\n    ai-api-type: openai\n    ai-engine: gpt-4o-mini\n"
        "  openai-chat:\n    openai-api-key: sk-canary-1234567890\n",
        encoding="utf-8",
    )
    app = web.Application()
    add_web_chat(app, store=tmp_path / "t.db", profile_file=profiles, default_profile="echo-one")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/api/profiles")
        text = await response.text()
        assert "sk-canary" not in text
        body = orjson.loads(text)
        listed = {p["name"]: p for p in body["profiles"]}
        assert body["default"] == "echo-one"
        assert listed["echo-one"]["provider"] == "echo"
        assert listed["remote"]["provider"] == "openai" and listed["remote"]["model"] == "gpt-4o-mini"
        records = await chat(client, message="hi")  # the default profile: echo
        assert "".join(r["delta"] for r in records if r["type"] == "text") == "READY"
        assert records[-1]["outcome"] == "completed"
        unknown = await client.post("/api/chat", json={"message": "hi", "profile": "nope"})
        assert "unknown profile 'nope'" in await error_of(unknown, 400)


async def test_a_profile_that_cannot_build_its_engine_is_a_400_naming_the_problem(tmp_path: Path) -> None:
    def broken() -> EngineBuilder:
        raise ConfigError("missing API key openai-api-key")

    profiles = ScriptedProfiles({"broken": broken}, default="broken")
    app = web.Application()
    add_web_chat(app, store=tmp_path / "t.db", profiles=profiles)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.post("/api/chat", json={"message": "hi"})
        assert "missing API key openai-api-key" in await error_of(response, 400)
        assert (await (await client.get("/api/sessions")).json())["sessions"] == []


# -- chatting ----------------------------------------------------------------------------------


async def test_a_message_streams_a_reply_and_stores_a_new_session(client: Client, store: TurnStore) -> None:
    records = await chat(client, message="Hello there", profile="fast")
    assert records[0]["type"] == "session" and records[0]["new"] is True and records[0]["profile"] == "fast"
    sid = records[0]["session_id"]
    deltas = [r["delta"] for r in records if r["type"] == "text"]
    assert len(deltas) > 1 and "".join(deltas) == "Hello from the fast profile."
    done = records[-1]
    assert done["type"] == "done" and done["outcome"] == "completed" and done["stop_reason"] == "stop"
    stored = store.get_turn(sid)
    assert stored.outcome == "completed" and stored.turn is not None
    assert stored.turn.metadata[PROFILE_KEY] == "fast"
    assert [b.kind.value for b in stored.turn.blocks] == ["system", "user", "llm_text"]
    listed = (await (await client.get("/api/sessions")).json())["sessions"]
    assert [(s["id"], s["title"], s["running"]) for s in listed] == [(sid, "Hello there", False)]


async def test_the_next_message_continues_the_stored_session(client: Client, store: TurnStore) -> None:
    sid = (await chat(client, message="first"))[0]["session_id"]
    records = await chat(client, message="second", session=sid, profile="tools")
    assert records[0]["new"] is False and records[0]["session_id"] == sid
    document = await (await client.get(f"/api/sessions/{sid}")).json()
    kinds = [m["kind"] for m in document["messages"]]
    assert kinds == [
        *("system", "user", "assistant"),
        *("user", "reasoning", "tool_call", "tool_result", "assistant"),
    ]
    assert document["profile"] == "tools" and document["session"]["turn_count"] == 2
    assert document["outcome"] == "completed"


async def test_reasoning_and_tool_calls_are_streamed_and_stored(client: Client) -> None:
    records = await chat(client, message="add 2 and 3", profile="tools")
    types = [r["type"] for r in records]
    assert types[:4] == ["session", "reasoning", "tool-call", "tool-result"]
    call = records[2]
    assert call["name"] == "add" and orjson.loads(call["input"]) == {"a": 2, "b": 3}
    assert records[3]["id"] == call["id"] and records[3]["result"] == "5"
    text = "".join(r["delta"] for r in records if r["type"] == "text")
    assert text == MARKDOWN_REPLY  # model text goes out as data, exactly; the page escapes it
    document = await (await client.get(f"/api/sessions/{records[0]['session_id']}")).json()
    tool_result = next(m for m in document["messages"] if m["kind"] == "tool_result")
    assert tool_result == {"kind": "tool_result", "id": call["id"], "result": "5", "error": ""}
    assert HOSTILE in document["messages"][-1]["text"]


async def test_a_failing_engine_ends_the_stream_with_the_error_and_is_stored_failed(tmp_path: Path) -> None:
    def explode(turn: Any) -> Any:
        raise RuntimeError("the engine broke")

    profiles = ScriptedProfiles({"bad": lambda: EngineBuilder(FunctionEngine(explode))}, default="bad")
    store = TurnStore(tmp_path / "t.db")
    app = web.Application()
    add_web_chat(app, store=store, profiles=profiles)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        records = await chat(client, message="hi")
        done = records[-1]
        assert done["outcome"] == "failed" and "the engine broke" in done["error"]
        assert store.get_turn(done["session_id"]).outcome == "failed"


async def read_then_disconnect(url: str, runs: ChatRuns, store: TurnStore) -> None:
    """Start a slow reply, read three words, close the connection: the run must be cancelled
    server-side and stored with its partial reply."""
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        response = await http.post(url, json={"message": "go", "profile": "slow"})
        buffer = b""
        while sum(r["type"] == "text" for r in received) < 3:
            buffer += await response.content.readany()
            *complete, buffer = buffer.split(b"\n\n")
            received.extend(sse_records(b"\n\n".join(complete) + b"\n\n"))
        sid = received[0]["session_id"]
        assert runs.is_running(sid)
        response.close()  # what the browser's Stop (AbortController) does
    await eventually(lambda: not runs.is_running(sid), "the run to stop")
    stored = store.get_turn(sid)
    assert stored.outcome == "cancelled" and stored.finish_class == "interrupted"
    assert stored.turn is not None
    partial = stored.turn.assistant_text()
    assert partial.startswith("word0 word1 word2") and len(partial.split()) < 400


async def test_closing_the_connection_cancels_the_run_and_stores_the_partial_reply(
    client: Client, store: TurnStore
) -> None:
    # aiohttp's test server cancels handlers when their client goes away
    await read_then_disconnect(str(client.make_url("/api/chat")), runs_of(client), store)
    sid = store.list_sessions()[0].id
    document = await (await client.get(f"/api/sessions/{sid}")).json()
    assert document["outcome"] == "cancelled" and document["session"]["running"] is False


async def test_disconnects_cancel_the_run_without_handler_cancellation_too(tmp_path: Path) -> None:
    # web.run_app's default: the handler is not cancelled, the stream notices the closed connection
    store = TurnStore(tmp_path / "t.db")
    app = web.Application()
    runs = add_web_chat(app, store=store, profiles=make_profiles(slow_delay_ms=50))
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        await read_then_disconnect(f"http://127.0.0.1:{port}/api/chat", runs, store)
    finally:
        await runner.cleanup()


async def test_a_second_message_while_answering_is_refused(client: Client) -> None:
    url = client.make_url("/api/chat")
    async with aiohttp.ClientSession() as http:
        response = await http.post(url, json={"message": "go", "profile": "slow"})
        first = sse_records(await response.content.readuntil(b"\n\n"))[0]
        sid = first["session_id"]
        again = await client.post("/api/chat", json={"message": "more", "session": sid})
        assert "still answering" in await error_of(again, 409)
        deleting = await client.delete(f"/api/sessions/{sid}")
        assert "stop the reply" in await error_of(deleting, 409)
        listed = (await (await client.get("/api/sessions")).json())["sessions"]
        assert listed == []  # a new session is stored when its first run ends
        response.close()
    await eventually(lambda: not runs_of(client).is_running(sid), "the run to stop")


async def test_shutdown_cancels_running_replies_and_stores_them(tmp_path: Path) -> None:
    store = TurnStore(tmp_path / "t.db")
    app = web.Application()
    runs = add_web_chat(app, store=store, profiles=make_profiles(slow_delay_ms=1000))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        url = client.make_url("/api/chat")
        async with aiohttp.ClientSession() as http:
            response = await http.post(url, json={"message": "go", "profile": "slow"})
            sid = sse_records(await response.content.readuntil(b"\n\n"))[0]["session_id"]
            await runs.cancel_all()  # what the app's on_shutdown does
            assert not runs.is_running(sid)
            assert store.get_turn(sid).outcome == "cancelled"
            response.close()


# -- sessions: open, fork, delete --------------------------------------------------------------


async def test_fork_copies_the_conversation_into_a_new_session(client: Client, store: TurnStore) -> None:
    sid = (await chat(client, message="first"))[0]["session_id"]
    await chat(client, message="second", session=sid)
    response = await client.post(f"/api/sessions/{sid}/fork", json={"at": 0})
    assert response.status == 201
    fork = (await response.json())["id"]
    assert fork != sid
    document = await (await client.get(f"/api/sessions/{fork}")).json()
    assert document["session"]["forked_from_session"] == sid
    assert [m["text"] for m in document["messages"] if m["kind"] == "user"] == ["first"]
    json_type = {"Content-Type": "application/json"}
    latest = await client.post(f"/api/sessions/{sid}/fork", data=b"", headers=json_type)
    assert latest.status == 201
    latest_doc = await (await client.get(f"/api/sessions/{(await latest.json())['id']}")).json()
    assert [m["text"] for m in latest_doc["messages"] if m["kind"] == "user"] == ["first", "second"]
    out_of_range = await client.post(f"/api/sessions/{sid}/fork", json={"at": 7})
    assert out_of_range.status == 404
    bad_at = await client.post(f"/api/sessions/{sid}/fork", json={"at": [1]})
    assert "'at' must be" in await error_of(bad_at, 400)


async def test_delete_removes_the_session(client: Client, store: TurnStore) -> None:
    sid = (await chat(client, message="bye"))[0]["session_id"]
    response = await client.delete(f"/api/sessions/{sid}")
    assert response.status == 200 and await response.json() == {"deleted": sid, "turns": 1}
    assert "no stored session" in await error_of(await client.get(f"/api/sessions/{sid}"), 404)
    assert (await client.delete(f"/api/sessions/{sid}")).status == 404
    assert store.list_sessions() == []


# -- bad requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"message": ""}', 400, "'message' must be a non-empty string"),
        (b'{"message": 5}', 400, "'message' must be a non-empty string"),
        (b'{"message": "hi", "session": 5}', 400, "'session' must be"),
        (b'{"message": "hi", "profile": null}', 400, "'profile' must be"),
        (b'{"message": "hi", "session": "does-not-exist"}', 404, "no stored session 'does-not-exist'"),
    ],
)
async def test_malformed_chat_requests_get_clear_errors(
    client: Client, body: bytes, status: int, message: str
) -> None:
    response = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert message in await error_of(response, status)


async def test_oversized_messages_and_bodies_are_refused(client: Client) -> None:
    from geppetto.serve.web.routes import MAX_MESSAGE_CHARS

    long = await client.post("/api/chat", json={"message": "x" * (MAX_MESSAGE_CHARS + 1)})
    assert "longer than" in await error_of(long, 400)
    huge = b'{"message": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = await client.post("/api/chat", data=huge, headers={"Content-Type": "application/json"})
    assert "too large" in await error_of(response, 413)


async def test_other_sites_cannot_use_the_api(client: Client) -> None:
    evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
    response = await client.post("/api/chat", data=b'{"message": "hi"}', headers=evil)
    assert "cross-origin" in await error_of(response, 403)
    form = await client.post("/api/chat", data={"message": "hi"})  # a plain HTML form post
    assert "application/json" in await error_of(form, 415)
    same = {"Origin": str(client.make_url("/")).rstrip("/"), "Content-Type": "application/json"}
    ok = await client.post("/api/chat", data=b'{"message": "hi"}', headers=same)
    assert ok.status == 200
    await ok.read()


async def test_list_limit_is_checked(client: Client) -> None:
    assert "whole number" in await error_of(await client.get("/api/sessions?limit=abc"), 400)
    assert "between" in await error_of(await client.get("/api/sessions?limit=0"), 400)


async def test_done_reports_the_runs_total_usage(tmp_path: Path) -> None:
    from tests.serve.engines import MeteredToolEngine

    def metered() -> EngineBuilder:
        return EngineBuilder(MeteredToolEngine("add", {"a": 2, "b": 3})).with_tools(ToolRegistry([add]))

    profiles = ScriptedProfiles({"m": metered}, default="m")
    app = web.Application()
    add_web_chat(app, store=tmp_path / "t.db", profiles=profiles)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        done = (await chat(client, message="2+3?"))[-1]
    assert done["type"] == "done" and done["outcome"] == "completed"
    assert (done["usage"]["input_tokens"], done["usage"]["output_tokens"]) == (20, 4)


async def test_long_bursts_and_concurrent_sessions_arrive_complete_and_in_order(tmp_path: Path) -> None:
    from geppetto.engines.echo import EchoEngine

    reply = " ".join(f"w{i}" for i in range(3000))
    profiles = ScriptedProfiles(
        {
            "burst": lambda: EngineBuilder(EchoEngine(reply)),
            "paced": lambda: EngineBuilder(EchoEngine(reply[:600], delay_ms=1)),
        },
        default="burst",
    )
    app = web.Application()
    add_web_chat(app, store=tmp_path / "t.db", profiles=profiles)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        results = await asyncio.gather(
            *(chat(client, message=f"m{n}", profile=("burst", "paced")[n % 2]) for n in range(6))
        )
        for n, records in enumerate(results):
            text = "".join(r["delta"] for r in records if r["type"] == "text")
            assert text == (reply, reply[:600].strip())[n % 2]
            assert records[-1]["type"] == "done" and records[-1]["outcome"] == "completed"
        assert len({records[0]["session_id"] for records in results}) == 6
        listed = (await (await client.get("/api/sessions")).json())["sessions"]
        assert len(listed) == 6


async def test_a_rebound_dns_name_cannot_read_the_sessions(client: Client) -> None:
    rebound = await client.get("/api/sessions", headers={"Host": f"evil.example:{client.port}"})
    assert "only answers to localhost" in await error_of(rebound, 403)
    for host in ("localhost", "app.localhost", "127.0.0.1", "[::1]"):
        response = await client.get("/api/sessions", headers={"Host": f"{host}:{client.port}"})
        assert response.status == 200, host


def test_without_a_default_profile_the_picker_offers_the_default_settings_first(tmp_path: Path) -> None:
    from geppetto.serve.web import CatalogProfiles

    profiles_file = tmp_path / "profiles.yaml"
    profiles_file.write_text("echo-one:\n  ai-chat:\n    ai-api-type: echo\n", encoding="utf-8")
    profiles = CatalogProfiles(profile_file=profiles_file)
    choices = profiles.choices()
    names = [c.name for c in choices]
    assert names[0] == "" and {"echo-one", "echo", "local"} <= set(names)  # the built-ins too
    assert profiles.default() == ""
    assert choices[0].provider == "(default settings)"
    engine = profiles.engine("echo-one")
    assert engine.name == "echo" and profiles.engine("echo-one") is engine  # built once, shared
    with pytest.raises(ConfigError, match="not found"):
        profiles.engine("missing")


class RedactingProfiles(ScriptedProfiles):
    """Scripted profiles whose secret is ``sk-test-secret`` (what a real profile's settings redact)."""

    def redact(self, name: str) -> Any:
        return lambda text: text.replace("sk-test-secret", "[redacted]")


async def test_errors_that_are_not_provider_errors_are_redacted_for_the_page(tmp_path: Path) -> None:
    def leak(turn: Any) -> Any:
        raise RuntimeError("the middleware sent sk-test-secret somewhere")

    def broken() -> EngineBuilder:
        raise ConfigError("profile cannot run: bad key sk-test-secret")

    profiles = RedactingProfiles(
        {"leaky": lambda: EngineBuilder(FunctionEngine(leak)), "broken": broken}, default="leaky"
    )
    store = TurnStore(tmp_path / "t.db")
    app = web.Application()
    add_web_chat(app, store=store, profiles=profiles)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        done = (await chat(client, message="hi"))[-1]
        assert done["outcome"] == "failed"
        assert "sk-test-secret" not in done["error"] and "[redacted]" in done["error"]
        document = await (await client.get(f"/api/sessions/{done['session_id']}")).json()
        assert document["outcome"] == "failed" and "sk-test-secret" not in document["error"]
        refused = await client.post("/api/chat", json={"message": "hi", "profile": "broken"})
        message = await error_of(refused, 400)
        assert "sk-test-secret" not in message and "[redacted]" in message


def test_two_first_runs_of_a_profile_build_one_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from geppetto.engines import from_settings
    from geppetto.serve.web import CatalogProfiles

    profiles_file = tmp_path / "profiles.yaml"
    profiles_file.write_text("echo-one:\n  ai-chat:\n    ai-api-type: echo\n", encoding="utf-8")
    profiles = CatalogProfiles(profile_file=profiles_file)
    real = from_settings.engine_for
    entered, release = threading.Event(), threading.Event()
    builds: list[object] = []

    def slow_engine_for(resolved: Any) -> Any:
        builds.append(resolved)
        entered.set()
        assert release.wait(30)
        return real(resolved)

    monkeypatch.setattr(from_settings, "engine_for", slow_engine_for)
    got: list[object] = []
    first = threading.Thread(target=lambda: got.append(profiles.engine("echo-one")))
    first.start()
    assert entered.wait(30)  # the first build is under way ...
    second = threading.Thread(target=lambda: got.append(profiles.engine("echo-one")))
    second.start()  # ... and the second run waits for it instead of building its own
    assert second.ident is not None
    where = _blocked_in(second.ident, ("slow_engine_for", "result"))
    assert where == "result"  # waiting on the first build's future, not building a second engine
    release.set()
    first.join(30)
    second.join(30)
    assert len(builds) == 1 and len(got) == 2 and got[0] is got[1]


def _blocked_in(ident: int, names: tuple[str, ...]) -> str:
    """The first of ``names`` that thread ``ident``'s stack reaches (polled: a correctness wait)."""
    import sys
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(ident)
        while frame is not None:
            if frame.f_code.co_name in names:
                return frame.f_code.co_name
            frame = frame.f_back
        time.sleep(0.01)
    raise AssertionError("the thread never got there")


def test_a_failed_profile_build_is_retried_by_the_next_run(tmp_path: Path) -> None:
    from geppetto.serve.web import CatalogProfiles

    profiles_file = tmp_path / "profiles.yaml"
    profiles_file.write_text("echo-one:\n  ai-chat:\n    ai-api-type: echo\n", encoding="utf-8")
    profiles = CatalogProfiles(profile_file=profiles_file)
    with pytest.raises(ConfigError, match="not found"):
        profiles.engine("later")
    profiles_file.write_text("later:\n  ai-chat:\n    ai-api-type: echo\n", encoding="utf-8")
    assert profiles.engine("later").name == "echo"
