"""Fault injection through the loopback server, end to end through a Session on the OpenAI chat engine.

Every fault must end either in a retry that succeeds or in a clear typed error; either way the
session stays usable, its history keeps the input turn unchanged and any text that had streamed
is kept in history with ``finish_class: error``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from bench.server import Fault, FaultKind, LoopbackServer, ReplyConfig
from tests.reliability.engine_cleanup import close_opened_engines, opened  # noqa: F401 (autouse fixture)

from geppetto.engines.providers import engine_from_options
from geppetto.engines.providers.base import ProviderEngine
from geppetto.errors import ProviderError
from geppetto.events.sinks import CollectingSink
from geppetto.session import Session
from geppetto.turns.kinds import BlockKind
from geppetto.turns.model import Block, Turn

pytestmark = pytest.mark.timeout(60)

KEY = "reliability-key-0123456789"
RESULT = "geppetto.inference_result@v1"
REPLY = ReplyConfig(chunks=6)
FULL_TEXT = "t0 t1 t2 t3 t4 t5 "
PARTIAL = "t0 t1 t2 "  # what streams before a fault struck after 3 chunks


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(REPLY, record=True) as running:
        yield running




def engine(server: LoopbackServer | str, **fields: Any) -> ProviderEngine:
    options: dict[str, Any] = {"max_retries": 0, "timeout": 10.0, **fields}
    url = server if isinstance(server, str) else server.base_url()
    provider = engine_from_options(
        "openai", "x", openai_base_url=url, openai_api_key=KEY, environ={}, **options
    )
    opened(provider)
    return provider


class Run:
    """One session run: the outcome, the events and the session afterwards."""

    def __init__(
        self, session: Session, sink: CollectingSink, turn: Turn | None, error: BaseException | None
    ):
        self.session, self.sink, self.turn, self.error = session, sink, turn, error

    @property
    def history(self) -> list[Turn]:
        return self.session.turns()

    def texts(self) -> list[str]:
        latest = self.history[-1]
        return [b.payload["text"] for b in latest.blocks if b.kind is BlockKind.LLM_TEXT]

    def finish_class(self) -> str:
        return str(self.history[-1].metadata[RESULT]["finish_class"])

    def event_types(self) -> list[str]:
        return [event.type.value for event in self.sink.events]


async def run_session(provider: ProviderEngine) -> Run:
    session = Session(provider)
    sink = CollectingSink()
    turn: Turn | None = None
    error: BaseException | None = None
    try:
        turn = await session.arun(Turn([Block.user("hi")], id="seed"), sinks=[sink])
    except Exception as exc:
        error = exc
    return Run(session, sink, turn, error)


def assert_input_intact(run: Run) -> None:
    """History holds exactly the seed turn, its user block first and unchanged."""
    history = run.history
    assert len(history) == 1 and history[0].id == "seed"
    first = history[0].blocks[0]
    assert first.kind is BlockKind.USER and first.payload == {"text": "hi"}
    assert not run.session.is_running


async def assert_session_still_works(run: Run, server: LoopbackServer) -> None:
    """The failed session accepts the next prompt, and the retried history keeps the partial text."""
    run.session.append_user_prompt("again")
    out = await run.session.arun()
    assert out.blocks[-1].payload["text"] == FULL_TEXT
    assert out.blocks[0].payload == {"text": "hi"}


def assert_failed_with_partial(run: Run, partial: str) -> ProviderError:
    assert isinstance(run.error, ProviderError), run.error
    assert run.error.provider == "openai"
    assert run.texts() == ([partial] if partial else [])
    assert run.finish_class() == "error"
    assert run.event_types()[0] == "start" and run.event_types()[-1] == "error"
    assert_input_intact(run)
    return run.error


# -- HTTP status faults: retried by the SDK, or a typed error once retries are used up -------------


@pytest.mark.parametrize(
    ("status", "error_type"), [(429, "rate_limit_exceeded"), (500, "server_error"), (529, "overloaded_error")]
)
async def test_retryable_status_then_success(server: LoopbackServer, status: int, error_type: str) -> None:
    server.script(Fault.status_code(status, error_type, retry_after="0.01"))
    run = await run_session(engine(server, max_retries=1))
    assert run.error is None and run.turn is not None
    assert run.turn.blocks[-1].payload["text"] == FULL_TEXT
    assert [r.headers.get("x-stainless-retry-count") for r in server.requests] == ["0", "1"]
    assert run.event_types().count("start") == 1 and run.event_types()[-1] == "final"
    assert run.finish_class() == "completed"


@pytest.mark.parametrize("status", [429, 500, 529])
async def test_retryable_status_exhausted_is_a_typed_error(server: LoopbackServer, status: int) -> None:
    server.script(*[Fault.status_code(status, retry_after="0.01")] * 2)
    run = await run_session(engine(server, max_retries=1))
    error = assert_failed_with_partial(run, "")
    assert error.status == status and error.retryable is True
    assert error.request_id == "req_bench"
    assert f"HTTP {status}" in str(error) and "injected failure" in str(error)
    assert len(server.requests) == 2
    await assert_session_still_works(run, server)


async def test_retry_after_beyond_the_sdk_limit_is_not_waited_for(server: LoopbackServer) -> None:
    # Proves the header is read: a server asking for ten minutes gets a clear error, not a hang.
    server.script(Fault.status_code(429, retry_after="600"))
    run = await run_session(engine(server, max_retries=2))
    error = assert_failed_with_partial(run, "")
    assert error.status == 429 and "rate limited" in str(error)
    assert len(server.requests) == 1


async def test_non_retryable_status_is_not_retried(server: LoopbackServer) -> None:
    server.script(Fault.status_code(400, "invalid_request_error"))
    run = await run_session(engine(server, max_retries=2))
    error = assert_failed_with_partial(run, "")
    assert error.status == 400 and error.retryable is False and len(server.requests) == 1


# -- mid-stream faults: output already seen is kept and never re-sent -------------------------------


MID_STREAM = [
    (
        Fault(FaultKind.ERROR_EVENT, after=3, error_type="server_error", message="backend died"),
        "backend died",
    ),
    (Fault(FaultKind.TRUNCATE, after=3), "ended before it was complete"),
    (Fault(FaultKind.MALFORMED, after=3), "malformed data in the stream"),
    (Fault(FaultKind.RESET, after=3), "stream failed"),
]


@pytest.mark.parametrize(("fault", "message"), MID_STREAM, ids=lambda v: getattr(v, "kind", ""))
async def test_mid_stream_fault_keeps_partial_output(
    server: LoopbackServer, fault: Fault, message: str
) -> None:
    server.script(fault)
    run = await run_session(engine(server, max_retries=2))
    error = assert_failed_with_partial(run, PARTIAL)
    assert message in str(error)
    assert run.history[-1].metadata[RESULT]["truncated"] is True
    partials = [e for e in run.sink.events if e.type.value == "partial"]
    assert "".join(getattr(e, "delta", "") for e in partials) == PARTIAL
    assert len(server.requests) == 1  # a stream that produced text is never re-sent
    await assert_session_still_works(run, server)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.ERROR_EVENT, after=0, error_type="overloaded_error"),
        Fault(FaultKind.TRUNCATE, after=0),
        Fault(FaultKind.RESET, after=0),
    ],
    ids=lambda f: f.kind,
)
async def test_stream_failing_before_the_first_token_is_retried(server: LoopbackServer, fault: Fault) -> None:
    server.script(fault)
    run = await run_session(engine(server, max_retries=1))
    assert run.error is None and run.turn is not None
    assert run.turn.blocks[-1].payload["text"] == FULL_TEXT
    assert len(server.requests) == 2
    assert run.event_types().count("start") == 1 and "error" not in run.event_types()


async def test_retryable_mid_stream_fault_without_retries_left_is_a_typed_error(
    server: LoopbackServer,
) -> None:
    server.script(Fault(FaultKind.RESET, after=0))
    run = await run_session(engine(server, max_retries=0))
    error = assert_failed_with_partial(run, "")
    assert error.retryable is True and len(server.requests) == 1


async def test_non_retryable_error_event_before_output_is_not_retried(server: LoopbackServer) -> None:
    server.script(
        Fault(FaultKind.ERROR_EVENT, after=0, error_type="invalid_request_error", message="bad tool")
    )
    run = await run_session(engine(server, max_retries=2))
    error = assert_failed_with_partial(run, "")
    assert error.retryable is False and "bad tool" in str(error) and len(server.requests) == 1


# -- a server slower than the client timeout -------------------------------------------------------


async def test_server_slower_than_the_timeout_before_headers(server: LoopbackServer) -> None:
    server.script(Fault(FaultKind.SLOW, delay_s=5.0))
    run = await run_session(engine(server, timeout=1.0))
    error = assert_failed_with_partial(run, "")
    assert "timed out after 1s" in str(error) and error.retryable is True


async def test_server_stalling_mid_stream_hits_the_read_timeout(server: LoopbackServer) -> None:
    server.script(Fault(FaultKind.STALL, after=3))
    run = await run_session(engine(server, timeout=1.0, max_retries=2))
    error = assert_failed_with_partial(run, PARTIAL)
    assert "timed out" in str(error)
    assert len(server.requests) == 1
    await assert_session_still_works(run, server)


async def test_slow_server_within_the_timeout_succeeds(server: LoopbackServer) -> None:
    server.script(Fault(FaultKind.SLOW, delay_s=0.2))
    run = await run_session(engine(server, timeout=5.0))
    assert run.error is None and run.turn is not None and run.turn.blocks[-1].payload["text"] == FULL_TEXT


# -- the server is gone ------------------------------------------------------------------------------


async def test_connection_refused_is_a_typed_error() -> None:
    async with LoopbackServer() as gone:
        url = gone.base_url()
    run = await run_session(engine(url))
    error = assert_failed_with_partial(run, "")
    assert "could not connect" in str(error) and error.retryable is True
