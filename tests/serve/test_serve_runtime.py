"""Requests run as sessions of the runtime: profiles, middlewares and the server-side tool loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest

from geppetto.engines import EchoEngine
from geppetto.errors import ConfigError
from geppetto.middleware.system_prompt import system_prompt
from geppetto.serve import create_app
from geppetto.serve.security import is_loopback
from geppetto.serve.server import serve_async
from geppetto.store import TurnStore
from geppetto.tools import ToolRegistry, tool
from tests.serve.engines import MeteredToolEngine, inspect_engine, weather_engine
from tests.serve.harness import running

USER = [{"role": "user", "content": "hi"}]


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_server_side_tools_run_in_the_tool_loop(tmp_path: Path) -> None:
    store_path = tmp_path / "turns.db"
    app = create_app(
        engines={"weather": weather_engine()}, tools=ToolRegistry([get_weather]), store=store_path
    )
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="weather", messages=USER)
        assert reply.choices[0].message.content == 'It is "sunny in Paris".'
        assert reply.choices[0].message.tool_calls is None
        assert reply.choices[0].finish_reason == "stop"
        chunks = list(client.chat.completions.create(model="weather", messages=USER, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == 'It is "sunny in Paris".'
        assert not any(c.choices[0].delta.tool_calls for c in chunks)
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="weather",
                messages=USER,
                tools=[{"type": "function", "function": {"name": "x"}}],
            )
        assert "runs its own server-side tools" in str(caught.value)
    store = TurnStore(store_path)
    try:
        sessions = store.list_sessions()
        kinds = [b.kind.value for b in store.load_turns(sessions[0].id)[-1].blocks]
    finally:
        store.close()
    assert len(sessions) == 2
    assert kinds == ["user", "tool_call", "tool_use", "llm_text"]


def test_middlewares_wrap_every_request() -> None:
    app = create_app(engines={"inspect": inspect_engine()}, middlewares=[system_prompt("server rules")])
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="inspect", messages=USER)
    blocks = json.loads(reply.choices[0].message.content or "")["blocks"]
    assert [(b["kind"], b["payload"]["text"]) for b in blocks] == [("system", "server rules"), ("user", "hi")]


def test_profiles_are_the_models(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        "shouty:\n  ai-chat: {ai-api-type: echo}\nbroken:\n  ai-chat: {ai-api-type: nosuchprovider}\n",
        encoding="utf-8",
    )
    app = create_app(profile_file=str(profiles), profiles=["shouty", "broken", "echo"])
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        assert [m.id for m in client.models.list()] == ["shouty", "broken", "echo"]
        reply = client.chat.completions.create(model="shouty", messages=USER)
        assert reply.choices[0].message.content == "READY"
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="broken", messages=USER)
        assert "model broken is not usable" in str(caught.value)
        assert "nosuchprovider" in str(caught.value)


def test_all_profiles_are_served_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    app = create_app()
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        ids = [m.id for m in client.models.list()]
    assert {"echo", "local"} <= set(ids)


def test_engines_and_default_profile_are_checked() -> None:
    with pytest.raises(ValueError, match="default model 'nope' is not served"):
        create_app(engines={"echo": EchoEngine()}, default_profile="nope")
    with pytest.raises(ValueError, match="max concurrency must be at least 1"):
        create_app(engines={"echo": EchoEngine()}, max_concurrency=0)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.5", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.test", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_bind_without_a_key() -> None:
    app = create_app(engines={"echo": EchoEngine()})
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0 without an API key"):
        asyncio.run(serve_async(app, "0.0.0.0", 0))


def test_usage_counts_every_model_call_of_the_tool_loop() -> None:
    engine = MeteredToolEngine("get_weather", {"city": "Paris"})
    app = create_app(engines={"metered": engine}, tools=ToolRegistry([get_weather]))
    with running(app) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="metered", messages=USER)
        assert reply.choices[0].message.content == "done"
        assert reply.usage is not None
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (20, 4)
        chunks = list(
            client.chat.completions.create(
                model="metered", messages=USER, stream=True, stream_options={"include_usage": True}
            )
        )
        last = chunks[-1].usage
        assert last is not None and (last.prompt_tokens, last.completion_tokens) == (20, 4)
