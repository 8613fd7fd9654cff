"""Settings: reference defaults, field names, key lookup, redaction and the outbound URL policy."""

from __future__ import annotations

import pytest

from geppetto.errors import ConfigError
from geppetto.settings import (
    OutboundPolicy,
    Settings,
    acheck_outbound_url,
    apply_env,
    apply_fields,
    apply_layers,
    check_outbound_url,
    flag_fields,
    infer_api_type,
    missing_key_message,
    redact_text,
    resolve_api_key,
    resolve_base_url,
    spec_for,
)

SECRET = "sk-proj-THISISASECRETKEY0123456789"


def test_reference_defaults() -> None:
    s = Settings()
    assert (s.chat.temperature, s.chat.top_p, s.chat.max_response_tokens) == (0.7, 1.0, 1000)
    assert s.chat.stream is True and s.chat.structured_output_mode == "off"
    assert s.chat.structured_output_strict is True
    assert s.client.timeout == 60
    assert s.openai.n == 1 and s.openai.stream_include_usage is True
    assert s.openai.reasoning_summary == "auto"
    assert s.api.api_keys == {} and s.api.base_urls == {}
    assert s.api.outbound_policy == "permissive"
    assert resolve_base_url(s, "openai") == "https://api.openai.com/v1"
    assert resolve_base_url(s, "claude") == "https://api.anthropic.com"
    assert resolve_base_url(s, "gemini") == "https://generativelanguage.googleapis.com/"


@pytest.mark.parametrize(
    ("model", "api_type"),
    [
        ("gemini-2.5-flash-lite", "gemini"),
        ("claude-haiku-4-5", "claude"),
        ("o3-mini", "openai-responses"),
        ("gpt-5-nano", "openai-responses"),
        ("gpt-4o-mini", "openai"),
        ("sonnet-4-5", "openai"),
    ],
)
def test_api_type_inferred_from_model(model: str, api_type: str) -> None:
    assert infer_api_type(model) == api_type
    s = Settings()
    s.chat.engine = model
    assert s.resolved_api_type() == api_type


def test_explicit_api_type_and_aliases_win() -> None:
    s = apply_fields(Settings(), {"ai-engine": "gemini-2.5-flash", "ai-api-type": "Anthropic"})
    assert s.resolved_api_type() == "claude"


def test_gemini_key_order_and_configured_key_wins() -> None:
    s = Settings()
    env = {"GOOGLE_API_KEY": "g-key", "GEMINI_API_KEY": "gem-key"}
    assert resolve_api_key(s, "gemini", env).api_key == "gem-key"
    assert resolve_api_key(s, "gemini", {"GOOGLE_API_KEY": "g-key"}).source == "GOOGLE_API_KEY"
    apply_fields(s, {"gemini-api-key": "from-flag"})
    assert resolve_api_key(s, "gemini", env).api_key == "from-flag"


def test_key_fallbacks_never_cross_providers() -> None:
    s = apply_fields(Settings(), {"openai-api-key": "oa"})
    assert resolve_api_key(s, "openai-responses", {}).api_key == "oa"
    assert resolve_api_key(s, "openrouter", {"OPENAI_API_KEY": "oa-env"}).api_key == ""
    assert resolve_api_key(Settings(), "ollama", {"OLLAMA_API_KEY": "ol"}).api_key == "ol"
    assert resolve_api_key(Settings(), "claude", {"ANTHROPIC_API_KEY": "an"}).api_key == "an"


def test_missing_key_message_says_what_to_set() -> None:
    gemini = spec_for("gemini")
    assert gemini is not None
    assert missing_key_message(gemini) == (
        "missing API key gemini-api-key: set GEMINI_API_KEY or GOOGLE_API_KEY, or --gemini-api-key"
    )


def test_unknown_provider_and_missing_base_url() -> None:
    with pytest.raises(ConfigError, match="unknown provider bogus"):
        resolve_api_key(Settings(), "bogus", {})
    with pytest.raises(ConfigError, match="missing base URL for anyscale: pass --anyscale-base-url"):
        resolve_base_url(Settings(), "anyscale")


def test_fields_are_coerced_and_bad_values_named() -> None:
    s = apply_fields(
        Settings(),
        {"ai-temperature": "0.2", "ai-max-response-tokens": "64", "ai-stop": "a, b", "ai-stream": "false"},
    )
    assert (s.chat.temperature, s.chat.max_response_tokens) == (0.2, 64)
    assert (s.chat.stop, s.chat.stream) == (["a", "b"], False)
    with pytest.raises(ConfigError, match="ai-temperature"):
        apply_fields(Settings(), {"ai-temperature": "hot"})
    with pytest.raises(ConfigError, match="unknown setting"):
        apply_fields(Settings(), {"ai-bogus": 1})


def test_profile_layers_and_env() -> None:
    s = apply_layers(
        Settings(),
        {
            "ai-chat": {"ai-engine": "gemini-2.5-flash-lite", "ai-api-type": "gemini"},
            "openai-chat": {"openai-base-url": "http://localhost:8000/v1", "openai-api-key": "XXX"},
            "pinocchio-only": {"whatever": 1},
        },
    )
    assert s.chat.engine == "gemini-2.5-flash-lite"
    assert s.api.base_urls["openai-base-url"] == "http://localhost:8000/v1"
    assert s.api.api_keys["openai-api-key"] == "XXX"
    env = {"PINOCCHIO_AI_ENGINE": "gpt-4o", "PINOCCHIO_CLAUDE_API_KEY": "ck", "PINOCCHIO_PROFILE": "x"}
    apply_env(s, env)
    assert s.chat.engine == "gpt-4o" and s.api.api_keys["claude-api-key"] == "ck"


def test_secrets_are_redacted_wherever_settings_are_shown() -> None:
    s = apply_fields(Settings(), {"openai-api-key": SECRET})
    assert SECRET not in repr(s)
    assert SECRET not in repr(s.api)
    assert SECRET not in str(s.to_dict())
    assert s.to_dict()["api"]["api_keys"] == {"openai-api-key": "***"}
    assert s.to_dict(redact=False)["api"]["api_keys"]["openai-api-key"] == SECRET
    assert SECRET not in repr(resolve_api_key(s, "openai"))


def test_redact_text_removes_known_and_key_shaped_secrets() -> None:
    text = f"Incorrect API key provided: {SECRET}. Also AIzaSyA1234567890abcdefghijklmn and my-secret-value"
    out = redact_text(text, ["my-secret-value"])
    assert SECRET not in out and "AIzaSy" not in out and "my-secret-value" not in out
    assert "Incorrect API key provided" in out


@pytest.mark.parametrize(
    "url", ["http://localhost:11434", "http://127.0.0.1:8000/v1", "https://api.openai.com/v1"]
)
def test_permissive_policy_accepts_local_servers(url: str) -> None:
    check_outbound_url(url)


@pytest.mark.parametrize("url", ["ftp://host/x", "localhost:8000", "http://", "http://host:99999/"])
def test_bad_base_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="invalid base URL"):
        check_outbound_url(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://api.example.com/v1", "plain http"),
        ("https://localhost/v1", "local"),
        ("https://127.0.0.1/v1", "loopback"),
        ("https://10.1.2.3/v1", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/v1", "loopback"),
        ("https://[::ffff:127.0.0.1]/v1", "loopback"),
        ("https://[fe80::1%25eth0]/v1", "zoned"),
        ("https://0.0.0.0/v1", "unspecified"),
        ("https://100.64.0.1/v1", "non-public"),
        ("https://user:pw@api.example.com/v1", "credentials"),
    ],
)
def test_strict_policy_refusals(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        check_outbound_url(url, "strict", resolver=lambda host: ["93.184.216.34"])


def test_strict_policy_resolves_host_names_before_deciding() -> None:
    public = ["93.184.216.34"]
    check_outbound_url("https://api.example.com/v1", OutboundPolicy.STRICT, resolver=lambda h: public)
    with pytest.raises(ConfigError, match=r"resolves to a private address 10\.0\.0\.7"):
        check_outbound_url("https://evil.example.com", "strict", resolver=lambda h: [*public, "10.0.0.7"])


async def test_async_strict_check_uses_the_resolver() -> None:
    async def resolver(host: str) -> list[str]:
        return ["127.0.0.1"] if host == "rebind.example.com" else ["93.184.216.34"]

    await acheck_outbound_url("https://api.example.com", "strict", resolver=resolver)
    with pytest.raises(ConfigError, match="loopback"):
        await acheck_outbound_url("https://rebind.example.com", "strict", resolver=resolver)
    with pytest.raises(ConfigError, match="invalid outbound policy"):
        await acheck_outbound_url("https://api.example.com", "lenient")


def test_flag_fields_cover_every_provider_key_and_base_url() -> None:
    names = flag_fields()
    for expected in (
        "ai-engine",
        "ai-api-type",
        "openai-base-url",
        "claude-api-key",
        "gemini-base-url",
        "timeout",
    ):
        assert expected in names
    settings = apply_fields(Settings(), {name: None for name in names})  # None values are skipped
    assert settings.chat.engine == ""
