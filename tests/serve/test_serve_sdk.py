"""The official ``openai`` SDK against a real ``geppetto.serve`` server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import openai
import pydantic
import pytest

from geppetto.engines import EchoEngine
from geppetto.serve import create_app
from geppetto.serve.runs import SESSION_HEADER
from tests.serve.engines import inspect_engine, schema_engine, weather_engine
from tests.serve.harness import Running, running

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    app = create_app(
        engines={
            "echo": EchoEngine("hello there world"),
            "weather": weather_engine(),
            "inspect": inspect_engine(),
            "schema": schema_engine(),
        },
        default_profile="echo",
    )
    with running(app) as srv:
        yield srv


@pytest.fixture
def client(server: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)


def test_models_lists_every_model(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids == ["echo", "weather", "inspect", "schema"]
    assert client.models.retrieve("weather").id == "weather"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_non_streaming_completion(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="echo", messages=USER)
    reply = raw.parse()
    assert reply.object == "chat.completion"
    assert reply.model == "echo"
    assert reply.id.startswith("chatcmpl-")
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "hello there world"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert raw.headers[SESSION_HEADER]


def test_streaming_completion_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="echo", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "hello there world"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_streaming_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="echo", messages=USER, stream=True))
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_async_client_streams_concurrently(server: Running) -> None:
    async def main() -> list[str]:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0)

        async def one() -> str:
            stream = await client.chat.completions.create(model="echo", messages=USER, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        plain = await client.chat.completions.create(model="echo", messages=USER)
        texts = await asyncio.gather(*(one() for _ in range(20)))
        await client.close()
        return [plain.choices[0].message.content or "", *texts]

    assert set(asyncio.run(main())) == {"hello there world"}


def test_missing_model_uses_the_default_profile(server: Running) -> None:
    import urllib.request

    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=json.dumps({"messages": USER}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert body["model"] == "echo"
    assert body["choices"][0]["message"]["content"] == "hello there world"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_tool_calls_round_trip(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="weather", messages=USER, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("call_1", "get_weather", {"city": "Paris"})
    ]
    history = [
        *USER,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    second = client.chat.completions.create(model="weather", messages=history, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "It is sunny."
    assert second.choices[0].finish_reason == "stop"


def test_tool_calls_stream(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="weather", messages=USER, tools=[WEATHER_TOOL], stream=True)
    )
    deltas = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert [(d.index, d.id, d.function.name) for d in deltas if d.function] == [(0, "call_1", "get_weather")]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_choice_reaches_the_engine(client: openai.OpenAI) -> None:
    none = client.chat.completions.create(
        model="weather", messages=USER, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.content == "no tools: get_weather"
    other = {**WEATHER_TOOL, "function": {**WEATHER_TOOL["function"], "name": "other"}}
    named = client.chat.completions.create(
        model="inspect",
        messages=USER,
        tools=[WEATHER_TOOL, other],
        tool_choice={"type": "function", "function": {"name": "other"}},
    )
    report = json.loads(named.choices[0].message.content or "")
    assert report["tools"] == ["other"]
    assert report["data"]["geppetto.tool_config@v1"] == {"tool_choice": "required"}


def test_messages_and_sampling_map_onto_the_turn(client: openai.OpenAI) -> None:
    image = (
        "data:image/png;base64,"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    reply = client.chat.completions.create(
        model="inspect",
        messages=[
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            },
            {"role": "assistant", "content": "a pixel"},
            {"role": "developer", "content": [{"type": "text", "text": "dev note"}]},
            {"role": "user", "content": "thanks"},
        ],
        temperature=0.5,
        top_p=0.9,
        max_tokens=12,
        stop="END",
        seed=7,
        presence_penalty=0.1,
        user="someone",  # ignored, as OpenAI ignores what a model does not use
    )
    report = json.loads(reply.choices[0].message.content or "")
    kinds = [(b["kind"], b["payload"].get("text")) for b in report["blocks"]]
    assert kinds == [
        ("system", "be brief"),
        ("user", "what is this"),
        ("llm_text", "a pixel"),
        ("system", "dev note"),
        ("user", "thanks"),
    ]
    assert report["blocks"][1]["payload"]["images"] == [{"url": image}]
    assert report["data"]["geppetto.inference_config@v1"] == {
        "temperature": 0.5,
        "top_p": 0.9,
        "max_response_tokens": 12,
        "stop": ["END"],
        "seed": 7,
    }
    assert report["data"]["geppetto.openai_inference_config@v1"] == {"presence_penalty": 0.1}
    assert report["tools"] is None


class City(pydantic.BaseModel):
    name: str
    population: int


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    parsed = client.chat.completions.parse(model="schema", messages=USER, response_format=City)
    city = parsed.choices[0].message.parsed
    assert city == City(name="Paris", population=3)
    report = client.chat.completions.create(
        model="inspect",
        messages=USER,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": City.model_json_schema(), "strict": True},
        },
    )
    data = json.loads(report.choices[0].message.content or "")["data"]
    config = data["geppetto.structured_output_config@v1"]
    assert (config["mode"], config["name"], config["strict"]) == ("json_schema", "city", True)
    assert config["schema"]["properties"]["population"] == {"title": "Population", "type": "integer"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stream": "yes"}, "stream"),
        ({"n": 2}, "n"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"tools": [{"type": "function"}]}, "tools[0]"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_invalid_fields_are_400_in_openai_shape(
    client: openai.OpenAI, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="echo", messages=USER, extra_body=extra)
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["param"] == param
    assert body["type"] == "invalid_request_error"
    assert body["message"]


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([], "messages must be a non-empty array"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        ([{"role": "tool", "content": "x"}], "tool_call_id"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:nope"}}]}],
            "messages[0]",
        ),
    ],
)
def test_malformed_messages_are_400(client: openai.OpenAI, messages: list[object], needle: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="echo", messages=messages)
    assert needle in str(caught.value)


def test_malformed_json_and_unknown_routes(server: Running) -> None:
    import urllib.error
    import urllib.request

    def post(path: str, data: bytes) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(
            server.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = post("/v1/chat/completions", b"{not json")
    assert status == 400
    assert "could not parse the JSON body" in body["error"]["message"]
    status, body = post("/v1/chat/completions", b"[1, 2]")
    assert (status, body["error"]["message"]) == (400, "the request body must be a JSON object")
    status, body = post("/v1/nothing", b"{}")
    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"


def test_healthz(server: Running) -> None:
    import urllib.request

    with urllib.request.urlopen(server.url + "/healthz", timeout=30) as response:
        assert json.loads(response.read()) == {"status": "ok"}
