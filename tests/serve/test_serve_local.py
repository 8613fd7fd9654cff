"""The embedded local model served over the API (few, short generations)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from geppetto.serve import create_app
from tests.local_model import require_local_model
from tests.serve.harness import running

require_local_model()

QUESTION = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    app = create_app(profiles=["local"])
    with running(app) as server:
        yield openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)


def test_local_model_streams_with_usage_and_a_length_stop(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="local",
            messages=QUESTION,
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens == 4
    assert usage.prompt_tokens > 0
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"]


def test_local_model_follows_a_json_schema(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model="local",
        messages=QUESTION,
        max_tokens=20,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    )
    value = json.loads(reply.choices[0].message.content or "")
    assert set(value) == {"ok"}
    assert isinstance(value["ok"], bool)
    assert reply.usage is not None and reply.usage.completion_tokens > 0
