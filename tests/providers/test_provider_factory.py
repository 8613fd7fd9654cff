"""Settings -> engine: validation messages, family selection, outbound policy, lazy SDK imports."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest
from provider_harness import KEY, engine_for, run_engine, settings_for
from provider_replay import ReplayServer

import geppetto.settings.outbound as outbound
from geppetto.engines.base import Engine
from geppetto.engines.providers import create_provider_engine, engine_from_options, provider_api_types
from geppetto.engines.providers.anthropic import AnthropicEngine
from geppetto.engines.providers.gemini import GeminiEngine
from geppetto.engines.providers.ollama import OllamaEngine
from geppetto.engines.providers.openai_chat import OpenAIChatEngine
from geppetto.engines.providers.openai_responses import OpenAIResponsesEngine
from geppetto.errors import ConfigError, ProviderError
from geppetto.settings import Settings, apply_fields
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Turn


def test_missing_gemini_key_says_what_to_set() -> None:
    settings = apply_fields(Settings(), {"ai-engine": "gemini-2.5-flash-lite"})
    with pytest.raises(ConfigError) as info:
        create_provider_engine(settings, environ={})
    assert (
        str(info.value)
        == "missing API key gemini-api-key: set GEMINI_API_KEY or GOOGLE_API_KEY, or --gemini-api-key"
    )


@pytest.mark.parametrize(
    ("api_type", "message"),
    [
        ("claude", "missing API key claude-api-key: set ANTHROPIC_API_KEY, or --claude-api-key"),
        ("openai", "missing API key openai-api-key: set OPENAI_API_KEY, or --openai-api-key"),
        (
            "openai-responses",
            "missing API key openai-responses-api-key (or fallback openai-api-key): set OPENAI_API_KEY",
        ),
        ("openrouter", "missing API key openrouter-api-key: set OPENROUTER_API_KEY"),
    ],
)
def test_missing_keys(api_type: str, message: str) -> None:
    settings = apply_fields(Settings(), {"ai-api-type": api_type, "ai-engine": "m"})
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_provider_engine(settings, environ={})


def test_unknown_provider_and_missing_model() -> None:
    with pytest.raises(ConfigError, match="unknown provider bogus-provider"):
        create_provider_engine(apply_fields(Settings(), {"ai-api-type": "bogus-provider"}), environ={})
    with pytest.raises(ConfigError, match="missing model for claude: set --ai-engine"):
        create_provider_engine(apply_fields(Settings(), {"ai-api-type": "anthropic"}), environ={})


@pytest.mark.parametrize(
    ("fields", "engine_type", "provider"),
    [
        ({"ai-engine": "gpt-4o-mini"}, OpenAIChatEngine, "openai"),
        ({"ai-engine": "o3-mini"}, OpenAIResponsesEngine, "openai-responses"),
        ({"ai-engine": "claude-haiku-4-5"}, AnthropicEngine, "claude"),
        ({"ai-engine": "gemini-2.5-flash-lite"}, GeminiEngine, "gemini"),
        ({"ai-engine": "llama3.2", "ai-api-type": "ollama"}, OllamaEngine, "ollama"),
        ({"ai-engine": "deepseek-chat", "ai-api-type": "deepseek"}, OpenAIChatEngine, "deepseek"),
    ],
)
def test_family_selection(fields: dict[str, str], engine_type: type, provider: str) -> None:
    env = {
        name: KEY for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY")
    }
    engine = create_provider_engine(apply_fields(Settings(), fields), environ=env)
    assert isinstance(engine, engine_type) and isinstance(engine, Engine)
    assert engine.config.provider == provider
    assert engine.config.api_key == ("" if provider == "ollama" else KEY)  # Ollama needs no key
    assert engine.name == f"{provider}:{fields['ai-engine']}"
    assert KEY not in repr(engine) and KEY not in repr(engine.config)


def test_deepseek_preset_base_url_and_only_its_own_key() -> None:
    settings = apply_fields(Settings(), {"ai-api-type": "deepseek", "ai-engine": "deepseek-chat"})
    with pytest.raises(ConfigError, match="DEEPSEEK_API_KEY"):
        create_provider_engine(settings, environ={"OPENAI_API_KEY": KEY})
    engine = create_provider_engine(settings, environ={"DEEPSEEK_API_KEY": KEY})
    assert engine.config.base_url == "https://api.deepseek.com"


def test_engine_from_options_takes_flag_names() -> None:
    engine = engine_from_options(
        "openai",
        "gpt-4o-mini",
        environ={},
        openai_base_url="http://localhost:8000/v1",
        openai_api_key=KEY,
        ai_temperature="0.1",
        timeout=None,
    )
    assert engine.config.base_url == "http://localhost:8000/v1"
    assert engine.config.settings.chat.temperature == 0.1
    assert "openrouter" in provider_api_types() and "anthropic" in provider_api_types()


def test_bad_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid base URL"):
        engine_from_options("openai", "m", environ={}, openai_base_url="localhost:8000", openai_api_key=KEY)


def test_strict_policy_refuses_plain_http_and_loopback(replay: ReplayServer) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        create_provider_engine(settings_for(replay, "openai", "gpt-4o-mini", outbound_policy="strict"))
    settings = settings_for(
        replay, "openai", "m", outbound_policy="strict", openai_base_url="https://127.0.0.1/v1"
    )
    with pytest.raises(ConfigError, match="loopback"):
        create_provider_engine(settings)


async def test_strict_policy_resolves_the_host_before_each_run(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolver(host: str) -> list[str]:
        assert host == "llm.example.test"
        return ["10.1.2.3"]

    monkeypatch.setattr(outbound, "default_async_resolver", resolver)
    engine = engine_from_options(
        "openai",
        "gpt-4o-mini",
        environ={},
        openai_base_url="https://llm.example.test/v1",
        openai_api_key=KEY,
        outbound_policy="strict",
    )
    turn = Turn.builder().user("hi").build()
    out = await run_engine(engine, turn)
    assert isinstance(out.error, ConfigError) and "private address 10.1.2.3" in str(out.error)
    assert [b.kind for b in turn.blocks] == [BlockKind.USER] and out.sink.events == []


async def test_permissive_policy_lets_local_servers_work(replay: ReplayServer) -> None:
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    out = await run_engine(engine_for(replay, "openai", "gpt-4o-mini"))
    assert out.error is None and out.text == "Hello"


def test_importing_engines_does_not_import_provider_sdks() -> None:
    code = (
        "import sys, geppetto.engines.providers, geppetto.settings;"
        "from geppetto.engines.providers import create_provider_engine;"
        "print(sorted(m for m in ('openai', 'anthropic', 'google.genai') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("api_type", "path", "flag"),
    [
        ("openai", "/v1", "--openai-base-url"),
        ("openai-responses", "/v1", "--openai-responses-base-url"),
        ("claude", "", "--claude-base-url"),
        ("gemini", "", "--gemini-base-url"),
        ("ollama", "", "--ollama-base-url"),
    ],
)
async def test_connection_refused_names_the_flag(api_type: str, path: str, flag: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    base = f"http://127.0.0.1:{port}{path}"
    engine = engine_from_options(
        api_type, "m", environ={}, max_retries=0, **{f"{api_type}_base_url": base, f"{api_type}_api_key": KEY}
    )
    turn = Turn.builder().user("hi").build()
    out = await run_engine(engine, turn)
    assert isinstance(out.error, ProviderError), out.error
    assert "could not connect" in str(out.error) and flag in str(out.error) and out.error.retryable
    assert KEY not in str(out.error) and [b.kind for b in turn.blocks] == [BlockKind.USER]
    assert out.result["finish_class"] == "error" and out.types == ["start", "error"]
