"""``geppetto tokens count`` estimates without an API key, and says it estimated."""

from __future__ import annotations

import orjson
import pytest

from geppetto.cli import main
from geppetto.engines.tokens import estimate_tokens, text_tokens
from geppetto.turns import Turn

KEY_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PINOCCHIO_CONFIG", raising=False)


@pytest.mark.parametrize("api_type", ["openai", "claude", "gemini"])
def test_count_without_a_key_is_an_estimate_in_json(
    api_type: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "count these words, please"
    assert main(["tokens", "count", text, "--ai-api-type", api_type, "--ai-engine", "m", "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    expected = estimate_tokens(Turn.builder().user(text).build())
    assert result["input_tokens"] == expected
    assert result["method"] == "estimate"
    assert result["estimated"] is True
    assert result["provider"] == api_type and result["model"] == "m"
    assert "no API key" in result["note"]


def test_count_without_a_key_says_estimate_in_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tokens", "count", "abcdefgh", "--ai-api-type", "openai", "--ai-engine", "m"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{4 + 2}\n"
    assert captured.err.startswith("estimated: no API key is set for openai")


def test_a_keyed_provider_builds_its_engine(capsys: pytest.CaptureFixture[str]) -> None:
    """With a key the engine is built as before (OpenAI has no count endpoint: still an estimate,
    without the no-key note)."""
    args = ["tokens", "count", "abcd", "--ai-api-type", "openai", "--ai-engine", "m"]
    assert main([*args, "--openai-api-key", "sk-test", "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert result["estimated"] is True and "note" not in result


def test_text_tokens_fast_ascii_path_matches_the_rule() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcde") == 2  # ceil(5 / 4)
    assert text_tokens("ab\u00e9\u4e2d") == 1 + 2  # two ASCII chars, two others
