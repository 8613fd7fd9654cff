"""Fault injection across every wire format, end to end through a Session.

``test_provider_faults.py`` covers the OpenAI chat engine against the bench server; this matrix
runs the same kinds of fault against every provider engine (OpenAI Responses, Anthropic, Gemini,
Ollama native, and OpenAI chat for symmetry), replaying each provider's recorded text stream from
``tests/fixtures/providers/`` on the loopback replay server:

1. 429 with a short retry delay, then the recorded reply: retried once, success;
2. 5xx (and 529 for Anthropic) on every attempt: a typed, retryable ``ProviderError``;
3. 400: not retried, not retryable, the provider's own message in the error;
4. a stream cut inside an event after some text: an error, the partial text kept in history;
5. a connection reset before any output: re-sent, success;
6. the API key (a canary) never reaches an error, an event or the stored turn.

Expected texts are recomputed from the fixture bytes with the standard ``json`` module, not taken
from the engines. Every run uses the canary as its key, so every failure cell also checks it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# tests/providers has no __init__.py; its conftest puts it on sys.path only for its own tests.
_PROVIDERS = str(Path(__file__).resolve().parents[1] / "providers")
if _PROVIDERS not in sys.path:
    sys.path.insert(0, _PROVIDERS)

from provider_harness import engine_for  # noqa: E402
from provider_replay import ReplayServer, Reply, load_fixture  # noqa: E402
from tests.reliability.engine_cleanup import close_opened_engines, opened  # noqa: E402, F401 (autouse fixture)

from geppetto.engines.providers import ProviderEngine  # noqa: E402
from geppetto.errors import ProviderError  # noqa: E402
from geppetto.events.sinks import CollectingSink  # noqa: E402
from geppetto.session import Session  # noqa: E402
from geppetto.turns import to_json  # noqa: E402
from geppetto.turns.keys import TurnMetaKeys  # noqa: E402
from geppetto.turns.kinds import BlockKind  # noqa: E402
from geppetto.turns.model import Block, Turn  # noqa: E402

pytestmark = pytest.mark.timeout(60)

CANARY = "fmx-canary-9TqL2vW7pZ4rK8nB"  # not shaped like any real key: only exact redaction hides it
SEED = "fault matrix seed prompt"
AGAIN = "fault matrix follow-up prompt"
FAST_RETRY = {"retry-after": "0", "retry-after-ms": "10"}  # the SDKs read retry-after-ms first


# -- the wire formats ---------------------------------------------------------------------------------


def _openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}
    return {
        "error": {"message": message, "type": kind.get(status, "server_error"), "param": None, "code": None}
    }


def _anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "invalid_request_error",
        401: "authentication_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    return {"type": "error", "error": {"type": kind.get(status, "api_error"), "message": message}}


def _gemini_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    return {"error": {"code": status, "message": message, "status": kind.get(status, "UNKNOWN")}}


def _ollama_error(status: int, message: str) -> dict[str, Any]:
    return {"error": message}


def _sse_frame(payload: dict[str, Any], *, event: str = "", eol: bytes = b"\n") -> bytes:
    head = f"event: {event}".encode() + eol if event else b""
    return head + b"data: " + json.dumps(payload).encode() + eol + eol


def _openai_chat_text(event: dict[str, Any]) -> str:
    return "".join(
        (c.get("delta") or {}).get("content") or "" for c in event.get("choices") or () if not c.get("index")
    )


def _responses_text(event: dict[str, Any]) -> str:
    return str(event.get("delta") or "") if event.get("type") == "response.output_text.delta" else ""


def _anthropic_text(event: dict[str, Any]) -> str:
    delta = event.get("delta") or {}
    if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
        return str(delta.get("text") or "")
    if (
        event.get("type") == "content_block_start"
        and (event.get("content_block") or {}).get("type") == "text"
    ):
        return str(event["content_block"].get("text") or "")
    return ""


def _gemini_text(event: dict[str, Any]) -> str:
    out = []
    for candidate in event.get("candidates") or ():
        if candidate.get("index", 0):
            continue
        for part in (candidate.get("content") or {}).get("parts") or ():
            if isinstance(part.get("text"), str) and not part.get("thought"):
                out.append(part["text"])
    return "".join(out)


def _ollama_text(event: dict[str, Any]) -> str:
    return str((event.get("message") or {}).get("content") or "")


@dataclass(frozen=True)
class Wire:
    id: str
    api_type: str
    model: str
    fixture: str  # the recorded text reply
    text_of: Callable[[dict[str, Any]], str]  # the oracle: the answer text one event carries
    error_body: Callable[[int, str], dict[str, Any]]  # the provider's HTTP error envelope
    error_frame: Callable[[str], bytes]  # an error inside a 200 stream, framed for the wire
    key_headers: tuple[str, ...]  # where the key travels: "name" or "name: prefix"
    request_id_header: str | None = "x-request-id"
    server_errors: tuple[int, ...] = (500, 503)
    ndjson: bool = False


WIRES = [
    Wire(
        "openai_responses",
        "openai-responses",
        "gpt-5.5",
        "openai_responses/responses_gpt55_text_after_tool_result.sse",
        _responses_text,
        _openai_error,
        lambda m: _sse_frame({"type": "error", "code": "invalid_request_error", "message": m}, event="error"),
        ("authorization: Bearer ",),
    ),
    Wire(
        "anthropic",
        "claude",
        "claude-haiku-4-5",
        "anthropic/anthropic_haiku45_text.sse",
        _anthropic_text,
        _anthropic_error,
        lambda m: _sse_frame(_anthropic_error(400, m), event="error"),
        ("x-api-key", "authorization: Bearer "),  # the SDK's choice varies between versions
        request_id_header="request-id",
        server_errors=(500, 503, 529),
    ),
    Wire(
        "gemini",
        "gemini",
        "gemini-2.5-flash",
        "gemini/gemini20_text_alt_sse.sse",
        _gemini_text,
        _gemini_error,
        lambda m: _sse_frame(_gemini_error(400, m), eol=b"\r\n"),
        ("x-goog-api-key",),
    ),
    Wire(
        "ollama",
        "ollama",
        "llama3.2",
        "ollama/DOCS_ollama_chat_stream.ndjson",
        _ollama_text,
        _ollama_error,
        lambda m: json.dumps({"error": m}).encode() + b"\n",
        ("authorization: Bearer ",),
        request_id_header=None,  # the native API sends none and the engine reads none
        ndjson=True,
    ),
    Wire(
        "openai_chat",
        "openai",
        "gpt-5",
        "openai_chat/openai_gpt5_text_usage_moderation.sse",
        _openai_chat_text,
        _openai_error,
        lambda m: _sse_frame(_openai_error(400, m)),
        ("authorization: Bearer ",),
    ),
]
BY_ID = {wire.id: wire for wire in WIRES}


def wires() -> list[Any]:
    """The wires as test parameters, named by wire id."""
    return [pytest.param(w, id=w.id) for w in WIRES]


@dataclass(frozen=True)
class Event:
    data_start: int  # offset of the JSON payload in the served body
    end: int  # offset just past the event's terminator
    text: str


def fixture_events(wire: Wire) -> list[Event]:
    """The recorded body split into events, with byte offsets, decoded independently of the engines."""
    body = load_fixture(wire.fixture).body
    events: list[Event] = []
    offset = 0
    data_start: int | None = None
    payload = b""
    for line in body.splitlines(keepends=True):
        start, offset = offset, offset + len(line)
        content = line.rstrip(b"\r\n")
        if wire.ndjson:
            if content.strip():
                events.append(Event(start, offset, wire.text_of(json.loads(content))))
        elif content.startswith(b"data:"):
            skip = 6 if content.startswith(b"data: ") else 5
            data_start, payload = start + skip, content[skip:]
        elif not content and data_start is not None:
            if payload != b"[DONE]":
                events.append(Event(data_start, offset, wire.text_of(json.loads(payload))))
            data_start = None
    assert events and offset == len(body)
    return events


def full_text(wire: Wire) -> str:
    return "".join(event.text for event in fixture_events(wire))


def truncation_point(wire: Wire) -> tuple[int, str]:
    """A cut inside an event's JSON after some text, and the text delivered before it.

    The cut falls in the middle text event when there are several (the partial is a proper
    prefix), otherwise in the event right after the only one; either way before any terminal event.
    """
    events = fixture_events(wire)
    with_text = [i for i, event in enumerate(events) if event.text]
    index = with_text[len(with_text) // 2] if len(with_text) > 1 else with_text[0] + 1
    assert index < len(events)
    cut = events[index]
    partial = "".join(event.text for event in events[:index])
    assert partial, "the cut must come after some text"
    return cut.data_start + (cut.end - cut.data_start) // 2, partial


def first_text_event(wire: Wire) -> Event:
    return next(event for event in fixture_events(wire) if event.text)


# -- running through a Session ------------------------------------------------------------------------


@pytest.fixture
async def replay() -> AsyncIterator[ReplayServer]:
    async with ReplayServer() as server:
        yield server




def make_engine(replay: ReplayServer, wire: Wire, *, max_retries: int) -> ProviderEngine:
    engine = engine_for(
        replay,
        wire.api_type,
        wire.model,
        max_retries=max_retries,
        timeout=10.0,
        **{f"{wire.api_type}_api_key": CANARY},
    )
    opened(engine)
    return engine


def enqueue_reply(replay: ReplayServer, wire: Wire, **knobs: Any) -> Reply:
    return replay.enqueue(load_fixture(wire.fixture, **knobs))


def error_reply(wire: Wire, status: int, message: str, **headers: str) -> Reply:
    all_headers = {"content-type": "application/json", **headers}
    if wire.request_id_header:
        all_headers[wire.request_id_header] = f"req_fmx_{status}"
    return Reply(
        status=status, headers=all_headers, body=json.dumps(wire.error_body(status, message)).encode()
    )


@dataclass
class Run:
    session: Session
    sink: CollectingSink
    turn: Turn | None
    error: BaseException | None
    seconds: float

    @property
    def types(self) -> list[str]:
        return [event.type.value for event in self.sink.events]

    def latest(self) -> Turn:
        history = self.session.turns()
        assert history
        return history[-1]

    def produced_texts(self) -> list[str]:
        """The llm_text blocks the run added to the history turn (after the seed prompt)."""
        return [b.payload["text"] for b in self.latest().blocks[1:] if b.kind is BlockKind.LLM_TEXT]

    def result(self) -> dict[str, Any]:
        value = TurnMetaKeys.INFERENCE_RESULT.get(self.latest().metadata)
        assert value is not None, "no inference_result in the history turn"
        return value

    def streamed(self) -> str:
        return "".join(getattr(e, "delta", "") for e in self.sink.events if e.type.value == "partial")


async def run_session(engine: ProviderEngine) -> Run:
    session = Session(engine)
    sink = CollectingSink()
    turn: Turn | None = None
    error: BaseException | None = None
    started = time.perf_counter()
    try:
        turn = await session.arun(Turn([Block.user(SEED)], id="seed"), sinks=[sink])
    except Exception as exc:
        error = exc
    return Run(session, sink, turn, error, time.perf_counter() - started)


def assert_key_sent_and_never_kept(replay: ReplayServer, wire: Wire, run: Run) -> None:
    """The canary was really sent on every request, and nothing the run left behind holds it."""
    assert replay.requests
    for request in replay.requests:
        sent = [(h, request.headers.get(h.partition(":")[0])) for h in wire.key_headers]
        assert any(value == h.partition(": ")[2] + CANARY for h, value in sent), sent
    if run.error is not None:
        assert CANARY not in str(run.error)
        assert CANARY not in repr(run.error) and CANARY not in repr(run.error.args)
    for turn in run.session.turns():
        assert CANARY not in to_json(turn)
    for event in run.sink.events:
        assert CANARY not in event.to_json()


def assert_succeeded(run: Run, wire: Wire) -> None:
    expected = full_text(wire)
    assert run.error is None, run.error
    assert run.turn is not None
    assert run.produced_texts() == [expected]
    assert run.streamed() == expected  # nothing from a failed attempt leaked into the events
    assert run.types.count("start") == 1 and run.types[-1] == "final" and "error" not in run.types
    assert run.result()["finish_class"] == "completed"
    assert not run.session.is_running


def assert_failed(run: Run, wire: Wire, partial: str) -> ProviderError:
    """A typed error; history holds the seed turn, intact, plus the text that had streamed."""
    assert isinstance(run.error, ProviderError), run.error
    assert run.error.provider == wire.api_type
    history = run.session.turns()
    assert len(history) == 1 and history[0].id == "seed"
    first = history[0].blocks[0]
    assert first.kind is BlockKind.USER and first.payload == {"text": SEED}
    assert [b.kind for b in history[0].blocks[1:]] == ([BlockKind.LLM_TEXT] if partial else [])
    assert run.produced_texts() == ([partial] if partial else [])
    assert run.streamed() == partial
    assert run.result()["finish_class"] == "error"
    assert run.types[0] == "start" and run.types[-1] == "error" and run.types.count("start") == 1
    assert not run.session.is_running
    return run.error


async def assert_session_still_works(run: Run, replay: ReplayServer, wire: Wire, partial: str) -> None:
    """The failed session takes the next prompt: the request carries the history, the reply lands."""
    before = len(replay.requests)
    enqueue_reply(replay, wire)
    run.session.append_user_prompt(AGAIN)
    out = await run.session.arun()
    assert len(replay.requests) == before + 1
    sent = replay.requests[-1].body.decode()
    assert SEED in sent and AGAIN in sent
    kinds = [b.kind for b in out.blocks]
    middle = [BlockKind.LLM_TEXT] if partial else []
    assert kinds == [BlockKind.USER, *middle, BlockKind.USER, BlockKind.LLM_TEXT]
    assert out.blocks[0].payload == {"text": SEED}
    assert out.blocks[-1].payload["text"] == full_text(wire)
    result = TurnMetaKeys.INFERENCE_RESULT.get(out.metadata)
    assert result is not None and result["finish_class"] == "completed"


# -- the oracle itself --------------------------------------------------------------------------------


@pytest.mark.parametrize("wire", wires())
def test_the_oracle_reads_every_fixture(wire: Wire) -> None:
    """The independent decoding finds text and a cut point that leaves a proper or whole prefix."""
    text = full_text(wire)
    cut, partial = truncation_point(wire)
    body = load_fixture(wire.fixture).body
    assert text and text.startswith(partial) and 0 < cut < len(body)
    assert first_text_event(wire).text and text.startswith(first_text_event(wire).text)


# -- 1. rate limited once, then the recorded reply ----------------------------------------------------


@pytest.mark.parametrize("wire", wires())
async def test_rate_limited_then_success(replay: ReplayServer, wire: Wire) -> None:
    replay.enqueue(error_reply(wire, 429, "fault matrix: slow down", **FAST_RETRY))
    enqueue_reply(replay, wire)
    run = await run_session(make_engine(replay, wire, max_retries=1))
    assert_succeeded(run, wire)
    assert len(replay.requests) == 2
    assert replay.requests[0].body == replay.requests[1].body  # the same request, re-sent
    assert_key_sent_and_never_kept(replay, wire, run)


# A Retry-After within the SDKs' window is waited for. google-genai's retry policy is a fixed
# exponential backoff that does not read Retry-After, so Gemini is left out by design.
RETRY_AFTER_WIRES = [
    p
    for p in wires()
    if p.values[0].id != "gemini"
]


@pytest.mark.parametrize("wire", RETRY_AFTER_WIRES)
async def test_rate_limited_retry_waits_for_retry_after(replay: ReplayServer, wire: Wire) -> None:
    replay.enqueue(error_reply(wire, 429, "fault matrix: slow down", **{"retry-after": "1"}))
    enqueue_reply(replay, wire)
    run = await run_session(make_engine(replay, wire, max_retries=1))
    assert_succeeded(run, wire)
    assert len(replay.requests) == 2
    assert run.seconds >= 0.95, f"retried after {run.seconds:.2f}s, Retry-After asked for 1s"


# -- 2. server errors until the retries are used up ---------------------------------------------------


SERVER_ERRORS = [
    pytest.param(wire, status, id=f"{wire.id}-{status}") for wire in WIRES for status in wire.server_errors
]


@pytest.mark.parametrize(("wire", "status"), SERVER_ERRORS)
async def test_server_error_exhausts_retries(replay: ReplayServer, wire: Wire, status: int) -> None:
    message = f"fault matrix: upstream failure {status}"
    replay.enqueue(error_reply(wire, status, message, **FAST_RETRY))
    replay.enqueue(error_reply(wire, status, message, **FAST_RETRY))
    run = await run_session(make_engine(replay, wire, max_retries=1))
    error = assert_failed(run, wire, "")
    assert error.status == status and error.retryable is True
    assert error.request_id == (f"req_fmx_{status}" if wire.request_id_header else None)
    assert f"HTTP {status}" in str(error) and message in str(error)
    assert len(replay.requests) == 2
    assert_key_sent_and_never_kept(replay, wire, run)
    await assert_session_still_works(run, replay, wire, "")


# -- 3. a rejected request ----------------------------------------------------------------------------


@pytest.mark.parametrize("wire", wires())
async def test_bad_request_is_not_retried(replay: ReplayServer, wire: Wire) -> None:
    message = "fault matrix: Invalid 'temperature': expected a value >= 0, but got -1"
    replay.enqueue(error_reply(wire, 400, message))
    run = await run_session(make_engine(replay, wire, max_retries=2))
    error = assert_failed(run, wire, "")
    assert error.status == 400 and error.retryable is False
    assert message in str(error) and str(error).startswith(f"{wire.api_type}: HTTP 400")
    assert len(replay.requests) == 1
    assert_key_sent_and_never_kept(replay, wire, run)
    await assert_session_still_works(run, replay, wire, "")


async def test_recorded_openai_400_body_is_quoted(replay: ReplayServer) -> None:
    """The recorded Responses 400 (not a synthesized envelope): its own message reaches the user."""
    wire = BY_ID["openai_responses"]
    name = "openai_responses/responses_http400_invalid_temperature.json"
    replay.enqueue(name)
    recorded = json.loads(load_fixture(name).body)["error"]["message"]
    run = await run_session(make_engine(replay, wire, max_retries=2))
    error = assert_failed(run, wire, "")
    assert error.status == 400 and error.retryable is False and recorded in str(error)
    assert len(replay.requests) == 1


# -- 4. a stream cut after some text ------------------------------------------------------------------


@pytest.mark.parametrize("wire", wires())
async def test_truncated_stream_keeps_the_partial_text(replay: ReplayServer, wire: Wire) -> None:
    cut, partial = truncation_point(wire)
    enqueue_reply(replay, wire, cut_after=cut)
    run = await run_session(make_engine(replay, wire, max_retries=2))
    error = assert_failed(run, wire, partial)
    assert "ended before it was complete" in str(error)
    assert run.result()["truncated"] is True
    assert len(replay.requests) == 1  # a stream that produced text is never re-sent
    assert_key_sent_and_never_kept(replay, wire, run)
    await assert_session_still_works(run, replay, wire, partial)


@pytest.mark.parametrize("wire", wires())
async def test_truncated_stream_at_an_event_boundary_is_an_error(replay: ReplayServer, wire: Wire) -> None:
    """The same cut, but between two whole events: nothing half-decoded hides the truncation."""
    events = fixture_events(wire)
    first = next(i for i, event in enumerate(events) if event.text)
    enqueue_reply(replay, wire, cut_after=events[first].end)
    run = await run_session(make_engine(replay, wire, max_retries=2))
    error = assert_failed(run, wire, "".join(event.text for event in events[: first + 1]))
    assert error.retryable is True and len(replay.requests) == 1


# -- 5. the connection reset before any output --------------------------------------------------------


def reset_points(wire: Wire) -> dict[str, int]:
    event = first_text_event(wire)
    return {
        "at_headers": 0,
        "inside_first_text_event": event.data_start + (event.end - event.data_start) // 2,
    }


RESETS = [
    pytest.param(wire, where, id=f"{wire.id}-{where}")
    for wire in WIRES
    for where in ("at_headers", "inside_first_text_event")
]


@pytest.mark.parametrize(("wire", "where"), RESETS)
async def test_reset_before_any_output_is_resent(replay: ReplayServer, wire: Wire, where: str) -> None:
    enqueue_reply(replay, wire, cut_after=reset_points(wire)[where], abort=True)
    enqueue_reply(replay, wire)
    run = await run_session(make_engine(replay, wire, max_retries=1))
    assert_succeeded(run, wire)
    assert len(replay.requests) == 2
    assert replay.requests[0].body == replay.requests[1].body
    assert_key_sent_and_never_kept(replay, wire, run)


@pytest.mark.parametrize("wire", wires())
async def test_reset_before_any_output_without_retries_is_a_typed_error(
    replay: ReplayServer, wire: Wire
) -> None:
    enqueue_reply(replay, wire, cut_after=reset_points(wire)["inside_first_text_event"], abort=True)
    run = await run_session(make_engine(replay, wire, max_retries=0))
    error = assert_failed(run, wire, "")
    assert error.retryable is True and len(replay.requests) == 1
    await assert_session_still_works(run, replay, wire, "")


# -- 6. the key never leaks, even when the provider echoes it -----------------------------------------


ECHO = "Incorrect API key provided: {key}. You can find your API key in your account."
REVOKED = "the key {key} was revoked"


def leak_replies(wire: Wire, fault: str) -> list[Reply]:
    echo = ECHO.format(key=CANARY)
    if fault == "401_echoing_the_key":
        return [error_reply(wire, 401, echo)]
    if fault == "500_echoing_the_key_twice":
        return [error_reply(wire, 500, echo, **FAST_RETRY)] * 2
    reply = load_fixture(wire.fixture)
    reply.body = reply.body[: first_text_event(wire).end] + wire.error_frame(REVOKED.format(key=CANARY))
    return [reply]


LEAKS = [
    pytest.param(wire, fault, id=f"{wire.id}-{fault}")
    for wire in WIRES
    for fault in ("401_echoing_the_key", "500_echoing_the_key_twice", "error_in_stream_quoting_the_key")
]


@pytest.mark.parametrize(("wire", "fault"), LEAKS)
async def test_the_key_never_leaks(replay: ReplayServer, wire: Wire, fault: str) -> None:
    for reply in leak_replies(wire, fault):
        replay.enqueue(reply)
    run = await run_session(make_engine(replay, wire, max_retries=1))
    in_stream = fault.startswith("error_in_stream")
    error = assert_failed(run, wire, first_text_event(wire).text if in_stream else "")
    # The provider's message is kept, only the key is cut out of it.
    template = REVOKED if in_stream else ECHO
    assert template.format(key="***") in str(error), str(error)
    assert len(replay.requests) == (2 if fault.startswith("500") else 1)
    assert_key_sent_and_never_kept(replay, wire, run)
