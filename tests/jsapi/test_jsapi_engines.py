"""``engines.*`` (spec §1.5): echo, fromFunction, fromProfile and fromConfig."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from geppetto.engines.factory import DEFAULT_API_TYPE
from geppetto.js.module.profile import ProfileDefaults, resolve_profile_engine

from .conftest import JSHarness

SEED = "({blocks: [g.turns.newUserBlock('hi')]})"


def test_echo_replies_and_exposes_only_a_name(js: JSHarness) -> None:
    keys, name, default, custom, trimmed, nonstring = js.run(
        f"""
        const e = g.engines.echo();
        report(Object.keys(e)); report(e.name);
        report(g.runInference(e, {SEED}).blocks[1]);
        report(g.runInference(g.engines.echo({{reply: 'pong'}}), {SEED}).blocks[1].payload.text);
        report(g.runInference(g.engines.echo({{reply: '   '}}), {SEED}).blocks[1].payload.text);
        report(g.runInference(g.engines.echo({{reply: 42}}), {SEED}).blocks[1].payload.text);
        """
    )
    assert keys == ["name"] and name == "echo"
    assert (default["kind"], default["role"], default["payload"]["text"]) == (
        "llm_text",
        "assistant",
        "READY",
    )
    assert (custom, trimmed, nonstring) == ("pong", "READY", "READY")


def test_echo_delay_is_asynchronous(js: JSHarness) -> None:
    ticks = js.one(
        f"""
        let ticks = 0;
        const timer = setInterval(() => ticks++, 5);
        const s = g.createSession({{engine: g.engines.echo({{reply: 'a b c d', delayMs: 40}})}});
        await s.runAsync({SEED});
        clearInterval(timer);
        report(ticks);
        """
    )
    assert ticks > 0  # timers kept firing while the delayed engine ran


def test_echo_rejects_bad_delay(js: JSHarness) -> None:
    assert js.one("try { g.engines.echo({delayMs: -1}) } catch (e) { report([e.name, e.message]) }") == [
        "TypeError",
        "engines.echo: delayMs must be a number >= 0",
    ]


def test_from_function_runs_on_the_owner_thread(js: JSHarness) -> None:
    threads: list[str] = []
    js.runtime.set_global("where", lambda: threads.append(threading.current_thread().name))
    name, text = js.run(
        f"""
        const e = g.engines.fromFunction((turn) => {{
          where();
          turn.blocks.push(g.turns.newAssistantBlock('seen ' + turn.blocks.length));
          return turn;
        }});
        report(e.name);
        const s = g.createSession({{engine: e}});
        report(s.run({SEED}).blocks[1].payload.text);
        await s.runAsync({SEED});
        """
    )
    assert (name, text) == ("jsFunction", "seen 1")
    assert threads == [js.runtime.owner_thread.name] * 2


def test_from_function_undefined_keeps_the_original_turn(js: JSHarness) -> None:
    out = js.one(
        f"""
        const e = g.engines.fromFunction((turn) => {{
          turn.blocks.push(g.turns.newAssistantBlock('lost')); }});
        report(g.runInference(e, {SEED}));
        """
    )
    assert [b["kind"] for b in out["blocks"]] == ["user"]


def test_from_function_can_be_async(js: JSHarness) -> None:
    out = js.one(
        f"""
        const e = g.engines.fromFunction(async (turn) => {{
          await new Promise((r) => setTimeout(r, 5));
          return g.turns.appendBlock(turn, g.turns.newAssistantBlock('later'));
        }});
        report(await g.createSession({{engine: e}}).runAsync({SEED}));
        """
    )
    assert out["blocks"][-1]["payload"]["text"] == "later"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("throw new Error('boom')", "js engine callback: boom"),
        ("throw 'plain string'", "js engine callback: plain string"),
        ("throw {code: 7}", 'js engine callback: {"code":7}'),
        ("return 42", "js engine callback: turn must be an object"),
        ("return {blocks: [1]}", "js engine callback: block must be an object"),
    ],
)
def test_from_function_failures_are_catchable(js: JSHarness, body: str, message: str) -> None:
    sync_error, async_error = js.run(
        f"""
        const s = g.createSession({{engine: g.engines.fromFunction(() => {{ {body} }})}});
        try {{ s.run({SEED}) }} catch (e) {{ report([e.message, e.code, s.isRunning()]) }}
        try {{ await s.runAsync({SEED}) }} catch (e) {{ report([e.message, e.code, e instanceof Error]) }}
        """
    )
    assert sync_error == [message, "engine_error", False]
    assert async_error == [message, "engine_error", True]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("g.engines.fromFunction()", "fromFunction requires a JS function"),
        ("g.engines.fromFunction(3)", "fromFunction expects callable argument"),
        ("g.engines.fromConfig()", "fromConfig requires options object"),
        ("g.engines.fromConfig('x')", "fromConfig requires options object"),
        ("g.engines.fromProfile(3)", "fromProfile: profile must be a string"),
        (
            "g.engines.fromConfig({apiType: 'echo', temperature: -1})",
            "fromConfig: temperature must be a number >= 0",
        ),
        (
            "g.engines.fromConfig({apiType: 'echo', maxTokens: 0})",
            "fromConfig: maxTokens must be a number > 0",
        ),
        ("g.engines.fromConfig({apiType: 'echo', apiKey: 5})", "fromConfig: apiKey must be a string"),
    ],
)
def test_engine_argument_errors(js: JSHarness, call: str, message: str) -> None:
    assert js.one(f"try {{ {call}; report('no error') }} catch (e) {{ report([e.name, e.message]) }}") == [
        "TypeError",
        message,
    ]


def test_profile_names_and_precedence(js: JSHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINOCCHIO_PROFILE", "from-env-echo")
    names = js.run(
        """
        report(g.engines.fromProfile('gpt-4o-mini', {apiKey: 'k', model: 'ignored'}).name);
        report(g.engines.fromProfile(undefined, {profile: 'claude-x', apiKey: 'k'}).name);
        report(g.engines.fromProfile(undefined, {apiType: 'echo'}).name);
        report(g.engines.fromConfig({apiType: 'echo'}).name);
        """
    )
    assert names == ["profile:gpt-4o-mini", "profile:claude-x", "profile:from-env-echo", "config"]


def test_profile_is_the_model_and_model_overrides_only_without_explicit_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PINOCCHIO_PROFILE", raising=False)
    _, engine = resolve_profile_engine("gpt-4o-mini", {"model": "gpt-x", "apiKey": "k"})
    assert engine.config.model == "gpt-4o-mini"
    name, engine = resolve_profile_engine(None, {"profile": "p", "model": "gpt-x", "apiKey": "k"})
    assert name == "p" and engine.config.model == "gpt-x"


@pytest.mark.parametrize(
    ("opts", "family", "model"),
    [
        ({"model": "gemini-2.5-flash", "apiKey": "k"}, "gemini", "gemini-2.5-flash"),
        ({"model": "claude-haiku-4-5", "apiKey": "k"}, "claude", "claude-haiku-4-5"),
        ({"model": "o3-mini", "apiKey": "k"}, "openai-responses", "o3-mini"),
        ({"model": "sonnet-4-5", "apiKey": "k"}, "openai", "sonnet-4-5"),
        ({"model": "m", "provider": "Anthropic", "apiKey": "k"}, "claude", "m"),
    ],
)
def test_api_type_inference(opts: dict[str, Any], family: str, model: str) -> None:
    _, engine = resolve_profile_engine(None, opts, where="fromConfig")
    config = engine.config
    assert (config.spec.name, config.model) == (family, model)


def test_overrides_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _, engine = resolve_profile_engine(
        None,
        {
            "apiType": "openai",
            "model": "gpt-4o-mini",
            "temperature": 0.2,
            "topP": 0.5,
            "maxTokens": 77,
            "timeoutMs": 2500,
            "apiKey": " sk-test ",
            "baseURL": "http://127.0.0.1:9/v1",
        },
        where="fromConfig",
    )
    config = engine.config
    chat = config.settings.chat
    assert (chat.temperature, chat.top_p, chat.max_response_tokens) == (0.2, 0.5, 77)
    assert config.settings.client.timeout == 2
    assert config.api_key == "sk-test"
    assert config.base_url == "http://127.0.0.1:9/v1"


def test_engine_errors_name_the_provider(js: JSHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    unknown, missing = js.run(
        """
        try { g.engines.fromConfig({apiType: 'bogus-provider'}) } catch (e) { report([e.message, e.code]) }
        try { g.engines.fromConfig({apiType: 'openai', model: 'gpt-4o'}) }
          catch (e) { report([e.message, e.code]) }
        """
    )
    assert unknown[0].startswith(
        "invalid settings for provider bogus-provider: unknown provider bogus-provider"
    )
    assert missing[0].startswith("invalid settings for provider openai:") and "OPENAI_API_KEY" in missing[0]
    assert unknown[1] == missing[1] == "config_error"


def test_nothing_configured_uses_the_factory_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PINOCCHIO_PROFILE", raising=False)
    from geppetto.engines.factory import create_engine

    name, engine = resolve_profile_engine(None, {})
    assert name == "default"
    assert type(engine) is type(create_engine(DEFAULT_API_TYPE))
    assert "4o-mini" not in repr(getattr(engine, "config", ""))


def test_cli_profile_is_the_default_before_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINOCCHIO_PROFILE", "env-profile")
    cli = ProfileDefaults(profile="cli-profile")
    name, _ = resolve_profile_engine(None, {"apiType": "echo"}, defaults=cli)
    assert name == "cli-profile"
    name, _ = resolve_profile_engine("explicit", {"apiType": "echo"}, defaults=cli)
    assert name == "explicit"


def test_host_provided_engines_are_accepted(js: JSHarness) -> None:
    from geppetto.engines.echo import EchoEngine
    from geppetto.js.module.engines_api import EngineRef

    js.runtime.set_global("hostEngine", EngineRef(EchoEngine("from host"), "host-echo"))
    out = js.one(f"report(g.runInference(hostEngine, {SEED}).blocks[1].payload.text)")
    assert out == "from host"
    assert js.one("try { g.createBuilder().withEngine({name: 'fake'}) } catch (e) { report(e.message) }") == (
        "expected engine reference"
    )
