"""Images in user blocks on every provider: the exact request part each wire format receives, and
a clear error (with no request sent) for an image form a provider cannot take."""

from __future__ import annotations

from typing import Any

import pytest
from provider_harness import engine_for, run_engine
from provider_replay import ReplayServer

from geppetto.engines.providers import create_provider_engine
from geppetto.errors import ConfigError
from geppetto.settings import Settings, apply_fields
from geppetto.turns.images import image_bytes, image_url
from geppetto.turns.kinds import BlockKind, PayloadKey, Role
from geppetto.turns.model import Block, Turn

PNG = "iVBORw0KGgo="  # base64 of the PNG signature
FIXTURES = {
    "openai": ("gpt-4o-mini", "openai_chat/geppetto/text_only.sse"),
    "openai-responses": ("gpt-4.1", "openai_responses/responses_gpt55_text_after_tool_result.sse"),
    "claude": ("claude-haiku-4-5", "anthropic/anthropic_haiku45_text.sse"),
    "gemini": ("gemini-2.5-flash", "gemini/gemini20_text_alt_sse.sse"),
    "ollama": ("llava", "ollama/DOCS_ollama_chat_stream.ndjson"),
}


def _images() -> list[dict[str, Any]]:
    """One of each common form: inline bytes, a remote URL with detail, a data: URL."""
    return [
        image_bytes(b"\x89PNG\r\n\x1a\n", "image/png"),
        image_url("https://img.test/cat.jpg", detail="high"),
        image_url("data:image/gif;base64,R0lGODlh"),
    ]


async def _send(replay: ReplayServer, api_type: str, images: list[dict[str, Any]]) -> Any:
    model, fixture = FIXTURES[api_type]
    replay.enqueue(fixture)
    turn = Turn.builder().user("what is this?", images).build()
    out = await run_engine(engine_for(replay, api_type, model), turn)
    assert out.error is None, out.error
    return replay.requests[0].json()


async def test_openai_chat_image_url_parts(replay: ReplayServer) -> None:
    body = await _send(replay, "openai", _images())
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://img.test/cat.jpg", "detail": "high"}},
                {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlh"}},
            ],
        }
    ]


async def test_openai_compatible_preset_uses_the_same_parts(replay: ReplayServer) -> None:
    settings = apply_fields(
        Settings(),
        {
            "ai-api-type": "vllm",
            "ai-engine": "Qwen2-VL",
            "vllm-base-url": replay.base_url + "/v1",
            "max-retries": 0,
        },
    )
    replay.enqueue("openai_chat/geppetto/text_only.sse")
    turn = Turn.builder().user("see", [image_url("https://img.test/a.png")]).build()
    out = await run_engine(create_provider_engine(settings, environ={}), turn)
    assert out.error is None, out.error
    assert replay.requests[0].path == "/v1/chat/completions"
    assert replay.requests[0].json()["messages"][0]["content"] == [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}},
    ]


async def test_openai_responses_input_image_parts(replay: ReplayServer) -> None:
    images = [*_images(), {"file_id": "file-abc", "detail": "low"}]
    body = await _send(replay, "openai-responses", images)
    assert body["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
                {"type": "input_image", "image_url": "https://img.test/cat.jpg", "detail": "high"},
                {"type": "input_image", "image_url": "data:image/gif;base64,R0lGODlh", "detail": "auto"},
                {"type": "input_image", "file_id": "file-abc", "detail": "low"},
            ],
        }
    ]


async def test_anthropic_base64_and_url_sources(replay: ReplayServer) -> None:
    body = await _send(replay, "claude", _images())
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://img.test/cat.jpg"}},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/gif", "data": "R0lGODlh"},
                },
            ],
        }
    ]


async def test_gemini_inline_data_and_file_data(replay: ReplayServer) -> None:
    uploaded = {"file_uri": "https://generativelanguage.test/files/abc", "media_type": "image/webp"}
    images = [*_images(), uploaded]
    body = await _send(replay, "gemini", images)
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "what is this?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://img.test/cat.jpg"}},
                {"inlineData": {"mimeType": "image/gif", "data": "R0lGODlh"}},
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://generativelanguage.test/files/abc"}},
            ],
        }
    ]


async def test_ollama_images_are_base64_strings(replay: ReplayServer) -> None:
    images = [image_bytes(b"\x89PNG\r\n\x1a\n", "image/png"), image_url("data:image/gif;base64,R0lGODlh")]
    body = await _send(replay, "ollama", images)
    assert body["messages"] == [{"role": "user", "content": "what is this?", "images": [PNG, "R0lGODlh"]}]


# -- forms a provider cannot take: a clear error and no request -------------------------------

REFUSALS = [
    ("openai", {"file_id": "file-abc"}, "the chat completions API cannot take a file_id image (file-abc)"),
    ("openai", {"file_uri": "gs://b/x.png"}, "the chat completions API cannot take a file_uri image"),
    ("openai-responses", {"file_uri": "gs://b/x.png"}, "the Responses API cannot take a file_uri image"),
    ("claude", {"file_id": "file-abc"}, "the Messages API cannot take a file_id image"),
    ("gemini", {"file_id": "file-abc"}, "the Gemini API cannot take a file_id image"),
    ("gemini", {"url": "https://img.test/photo"}, "needs the media type of image https://img.test/photo"),
    ("ollama", {"url": "https://img.test/a.png"}, "/api/chat cannot take an image URL (https://img.test/a.png)"),
    ("ollama", {"file_id": "file-abc"}, "/api/chat cannot take a file_id image"),
]


@pytest.mark.parametrize(("api_type", "image", "message"), REFUSALS)
async def test_unsupported_image_forms_are_refused(
    replay: ReplayServer, api_type: str, image: dict[str, Any], message: str
) -> None:
    model, fixture = FIXTURES[api_type]
    replay.enqueue(fixture)
    turn = Turn.builder().user("see", [image]).build()
    out = await run_engine(engine_for(replay, api_type, model), turn)
    assert isinstance(out.error, ConfigError), out.error
    assert message in str(out.error)
    assert replay.requests == []  # refused before anything was sent


async def test_gemini_url_media_type_can_be_given(replay: ReplayServer) -> None:
    body = await _send(replay, "gemini", [image_url("https://img.test/photo", media_type="image/png")])
    assert body["contents"][0]["parts"][1] == {
        "fileData": {"mimeType": "image/png", "fileUri": "https://img.test/photo"}
    }


@pytest.mark.parametrize("api_type", sorted(FIXTURES))
async def test_malformed_images_fail_on_every_provider(replay: ReplayServer, api_type: str) -> None:
    """A payload written by hand (or decoded from a file) bypasses Block.user's check; the request
    builder still refuses it, naming the entry, instead of sending the prompt without the image."""
    model, fixture = FIXTURES[api_type]
    replay.enqueue(fixture)
    block = Block(BlockKind.USER, Role.USER, {PayloadKey.TEXT: "see", PayloadKey.IMAGES: [{"content": PNG}]})
    out = await run_engine(engine_for(replay, api_type, model), Turn([block]))
    assert isinstance(out.error, ConfigError), out.error
    assert "images[0]: inline image content needs a media_type" in str(out.error)
    assert replay.requests == []
