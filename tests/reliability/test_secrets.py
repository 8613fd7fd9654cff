"""A canary API key, given through the Python API, the CLI flag or the environment, must never
appear in any output, log record (captured at DEBUG, SDK loggers included), error message or
traceback, event, or stored turn, on success and on every failure path, including providers that
echo the Authorization header back in their error bodies.

The canary is deliberately not shaped like a known key format, so only exact-secret redaction
can hide it; the server checks that it really was sent, so no test passes by not using it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bench.server import Fault, FaultKind, LoopbackServer, ReplyConfig

from geppetto.engines.providers import engine_from_options
from geppetto.errors import ProviderError
from geppetto.events.sinks import CollectingSink
from geppetto.session import EngineBuilder, Session
from geppetto.store import TurnStore
from geppetto.turns import to_json, to_yaml
from geppetto.turns.model import Block, Turn

pytestmark = pytest.mark.timeout(120)

CANARY = "canary7Q2mXw9ZpL4vTn8R"
GEPPETTO = str(Path(sys.executable).with_name("geppetto"))

FAILURES = {
    "success": None,
    "401 echoing the Authorization header": Fault.status_code(401, echo_auth=True),
    "500 echoing it, retries used up": Fault.status_code(500, echo_auth=True),
    "error event quoting the key": Fault(
        FaultKind.ERROR_EVENT, after=2, error_type="invalid_request_error", message=f"key {CANARY} revoked"
    ),
    "error event before output quoting the key": Fault(
        FaultKind.ERROR_EVENT, after=0, error_type="server_error", message=f"Bearer {CANARY} expired"
    ),
    "truncated stream": Fault(FaultKind.TRUNCATE, after=2),
    "connection reset": Fault(FaultKind.RESET, after=2),
}


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(ReplyConfig(chunks=4), record=True) as running:
        yield running


def assert_clean(where: str, text: str | bytes) -> None:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    assert CANARY.encode() not in data, f"the key leaked into {where}"


def assert_key_was_sent(server: LoopbackServer) -> None:
    assert server.requests, "no request reached the server"
    assert all(r.headers.get("Authorization") == f"Bearer {CANARY}" for r in server.requests)


def store_bytes(path: Path) -> bytes:
    """The database and its WAL/SHM side files, raw: whatever was written, committed or not."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def script(server: LoopbackServer, fault: Fault | None) -> None:
    """Every attempt meets the fault (retries included), so the failure path is the one taken."""
    if fault is not None:
        server.script(*[fault] * 3)


# -- Python API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(FAILURES.values()), ids=list(FAILURES))
async def test_python_api_never_exposes_the_key(
    server: LoopbackServer, fault: Fault | None, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    script(server, fault)
    engine = engine_from_options(
        "openai", "x", openai_base_url=server.base_url(), openai_api_key=CANARY, environ={}, max_retries=1
    )
    sink = CollectingSink()
    db = tmp_path / "turns.db"
    store = TurnStore(db)
    session = Session(EngineBuilder(engine).with_sink(sink), store=store)
    error: BaseException | None = None
    try:
        await session.arun(Turn([Block.user("hi")]))
    except ProviderError as exc:
        error = exc
    finally:
        await engine.aclose()
    assert (error is None) == (fault is None)
    assert_key_was_sent(server)
    if error is not None:
        assert_clean("the error message", str(error))
        assert_clean("the error repr", repr(error))
        assert_clean("the formatted traceback", "".join(traceback.format_exception(error)))
        assert_clean("the error's arguments", repr(error.args))
    for event in sink.events:
        assert_clean(f"a {event.type.value} event", event.to_json())
    for turn in session.turns():
        assert_clean("the session history (JSON)", to_json(turn))
        assert_clean("the session history (YAML)", to_yaml(turn))
    for record in caplog.records:
        assert_clean(f"a log record of {record.name}", record.getMessage())
        if record.exc_info:
            assert_clean("a logged traceback", "".join(traceback.format_exception(*record.exc_info)))
    assert_clean("the captured log", caplog.text)
    assert_clean("the engine repr", repr(engine) + repr(getattr(engine, "config", "")))
    stored = store.load_turns(session.id)
    assert stored and all(CANARY not in to_json(turn) for turn in stored)
    store.close()
    assert_clean("the turn store files", store_bytes(db))


# -- CLI: the key as a flag or from the environment ------------------------------------------------------


async def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        GEPPETTO, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, stdout, stderr


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_LOG"] = "debug"  # the SDK's own debug logging goes to stderr too
    return {**env, **extra}


CLI_CASES = {
    "flag, success, JSON turn": (None, ["--output", "json"], "flag"),
    "env, success, streamed": (None, ["--stream", "--output", "yaml"], "env"),
    "flag, 401 echo": (Fault.status_code(401, echo_auth=True), [], "flag"),
    "env, 401 echo, --debug": (Fault.status_code(401, echo_auth=True), ["--debug"], "env"),
    "env, error event quoting the key": (FAILURES["error event quoting the key"], ["--stream"], "env"),
    "flag, connection reset, --debug": (Fault(FaultKind.RESET, after=2), ["--debug"], "flag"),
}


@pytest.mark.parametrize(("fault", "options", "via"), list(CLI_CASES.values()), ids=list(CLI_CASES))
async def test_cli_never_prints_or_stores_the_key(
    server: LoopbackServer, fault: Fault | None, options: list[str], via: str, tmp_path: Path
) -> None:
    script(server, fault)
    db = tmp_path / "cli.db"
    debug = ["--debug"] if "--debug" in options else []
    rest = [o for o in options if o != "--debug"]
    args = [*debug, "infer", "hi", "--ai-api-type", "openai", "--ai-engine", "x", "--store", str(db), *rest]
    args += ["--openai-base-url", server.base_url()]
    env = cli_env()
    if via == "flag":
        args += ["--openai-api-key", CANARY]
    else:
        env["OPENAI_API_KEY"] = CANARY
    code, stdout, stderr = await run_cli(args, env)
    assert (code == 0) == (fault is None), stderr.decode()[-800:]
    assert_key_was_sent(server)
    assert_clean("stdout", stdout)
    assert_clean("stderr", stderr)
    if fault is not None:
        assert b"openai" in stderr  # a real error message was printed, naming the provider
    assert db.exists()
    assert_clean("the CLI's turn store", store_bytes(db))
