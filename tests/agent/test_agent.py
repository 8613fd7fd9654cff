"""The Python agent API: agents, session builders, turn builders and run results."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geppetto import Agent, EchoEngine, FunctionEngine, RunOptions, Turn
from geppetto.agent import AgentHost, RunResult
from geppetto.engines.base import Handler, RunContext
from geppetto.errors import (
    ConfigError,
    InferenceCancelled,
    InferenceTimeout,
    SessionAlreadyActive,
    SessionEmptyTurn,
    SessionError,
    ToolError,
)
from geppetto.events.sinks import CollectingSink
from geppetto.store import TurnStore
from geppetto.tools import ToolConfig, ToolRegistry, tool
from geppetto.turns.model import Block


def history_engine() -> FunctionEngine:
    """Replies with the user and assistant texts it saw (the reference's sessionEchoEngine)."""

    def reply(turn: Turn) -> Turn:
        users = [b.text or "" for b in turn.blocks if b.role == "user"]
        assistants = [b.text or "" for b in turn.blocks if b.role == "assistant"]
        out = turn.clone()
        out.blocks.append(Block.assistant(f"users={','.join(users)} assistants={','.join(assistants)}"))
        return out

    return FunctionEngine(reply)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TurnStore]:
    with TurnStore(tmp_path / "turns.db") as opened:
        yield opened


def test_build_requires_an_engine() -> None:
    with pytest.raises(ConfigError, match=r"agent build requires engine\(\.\.\.\) or inference\(settings\)"):
        Agent.builder().name("x").build()


def test_multiturn_history_and_run_result() -> None:
    agent = Agent.builder().name("a").engine(history_engine()).build()
    session = agent.session().id("chat-a").name("s").build()
    first = session.next().system("be terse").user("one").run()
    second = session.next().user("two").run()
    assert isinstance(second, RunResult)
    assert session.turn_count == 2 and session.id == "chat-a"
    assert second.text == "users=one assistants=\nusers=one,two assistants=users=one assistants="
    assert session.turn(0).id == first.output_turn.id != second.output_turn.id  # type: ignore[union-attr]
    assert len(second.input_turn.blocks) == 4
    assert "geppetto.runtime@v1" not in first.input_turn.metadata
    assert second.effective_turn.metadata["geppetto.runtime@v1"] == {"agentName": "a", "sessionName": "s"}
    assert second.to_dict()["text"] == second.text
    assert set(second.to_dict()) == {"inputTurn", "effectiveTurn", "outputTurn", "text"}


def test_echo_run_reports_stop_reason_and_metadata() -> None:
    session = Agent.builder().engine(EchoEngine("hi")).build().session().metadata("trace_id", "t1").build()
    result = session.next().user("x").metadata("custom", 3).run()
    assert result.text == "hi"
    assert result.stop_reason == "stop"
    assert result.output_turn.metadata["geppetto.trace_id@v1"] == "t1"
    assert result.output_turn.metadata["geppetto.custom@v1"] == 3


def test_turn_builder_is_immutable() -> None:
    session = Agent.builder().engine(EchoEngine("r")).build().session().build()
    base = session.next().system("sys")
    a, b = base.user("a"), base.user("b")
    assert [blk.text for blk in a.turn.blocks] == ["sys", "a"]
    assert [blk.text for blk in b.turn.blocks] == ["sys", "b"]
    assert [blk.text for blk in base.turn.blocks] == ["sys"]


def test_fork_and_its_metadata() -> None:
    agent = Agent.builder().engine(history_engine()).build()
    main = agent.session().id("main").build()
    root = main.next().user("root").run()
    fork = main.fork().id("fork").build()
    imported = fork.latest_turn
    assert imported is not None and imported.id == root.output_turn.id
    meta = imported.metadata
    assert meta["geppetto.forkedFromSource@v1"] == "fork"
    assert meta["geppetto.forkedFromSessionID@v1"] == "main"
    assert meta["geppetto.forkedFromTurnID@v1"] == root.output_turn.id
    assert isinstance(meta["geppetto.forkedAtMs@v1"], int)
    assert meta["geppetto.session_id@v1"] == "fork"
    branch = fork.next().user("branch").run()
    assert branch.text.endswith("users=root,branch assistants=users=root assistants=")
    assert (main.turn_count, fork.turn_count) == (1, 2)
    assert main.fork(at=0).build().latest_turn.id == root.output_turn.id  # type: ignore[union-attr]
    at_turn = main.fork(at=root.output_turn).build()
    assert at_turn.turn_count == 1


def test_fork_errors() -> None:
    session = Agent.builder().engine(EchoEngine()).build().session().build()
    with pytest.raises(SessionError, match="cannot fork an empty session"):
        session.fork()
    session.next().user("x").run()
    with pytest.raises(SessionError, match=r"session\.fork at index 3 is out of range"):
        session.fork(at=3)


def test_closed_empty_and_active_sessions() -> None:
    session = Agent.builder().engine(EchoEngine(delay_ms=5_000)).build().session().build()
    with pytest.raises(SessionEmptyTurn):
        session.next().run()
    run = session.next().user("slow").start()
    with pytest.raises(SessionAlreadyActive):
        session.next()
    session.close()
    with pytest.raises(InferenceCancelled):
        run.wait(10)
    with pytest.raises(SessionError, match="session is closed"):
        session.next()
    assert session.turn_count == 1 and not session.is_running


def test_timeout_and_tags() -> None:
    seen: list[dict[str, Any]] = []

    def spy(inner: Handler) -> Handler:
        async def handler(turn: Turn, ctx: RunContext) -> Turn:
            seen.append(dict(ctx.tags))
            return await inner(turn, ctx)

        return handler

    agent = (
        Agent.builder().engine(EchoEngine(delay_ms=5_000)).middleware(spy)
        .run_defaults(tags={"a": 1, "b": 1}).build()
    )  # fmt: skip
    session = agent.session().run_defaults(timeout_ms=20, tags={"b": 2}).build()
    with pytest.raises(InferenceTimeout, match=r"inference timed out after 20ms \(timeoutMs\)"):
        session.next().user("x").run(RunOptions(tags={"c": 3}))
    assert seen == [{"a": 1, "b": 2, "c": 3}]
    assert not session.is_running
    with pytest.raises(ValueError, match="timeoutMs must be >= 0"):
        RunOptions(timeout_ms=-1)


async def test_arun_and_cancel_from_asyncio() -> None:
    session = Agent.builder().engine(EchoEngine("ok")).build().session().build()
    result = await session.next().user("x").arun()
    assert result.text == "ok"
    slow = Agent.builder().engine(EchoEngine(delay_ms=10_000)).build().session().build()
    run = slow.next().user("y").start()
    await asyncio.sleep(0)
    run.cancel()
    with pytest.raises(InferenceCancelled):
        await run
    assert not slow.is_running and slow.turn_count == 1


def test_images_in_user_blocks(tmp_path: Path) -> None:
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    session = Agent.builder().engine(EchoEngine()).build().session().build()
    builder = session.next().user(
        "what is this?",
        images=["https://example.invalid/a.jpg", png, {"media_type": "image/gif", "content": "R0lG"}],
    )
    images = builder.turn.blocks[0].payload["images"]
    assert images[0] == {"url": "https://example.invalid/a.jpg"}
    assert images[1] == {"media_type": "image/png", "content": base64.b64encode(png.read_bytes()).decode()}
    assert images[2] == {"media_type": "image/gif", "content": "R0lG"}


def test_events_reach_agent_and_run_sinks() -> None:
    agent_sink, run_sink = CollectingSink(), CollectingSink()
    calls: list[str] = []
    agent = Agent.builder().engine(EchoEngine("e")).events(agent_sink, lambda e: calls.append(e.type)).build()
    agent.session().build().next().user("x").run(sinks=[run_sink])
    assert agent_sink.events and len(agent_sink.events) == len(run_sink.events) == len(calls)


def test_tools_and_host_tools() -> None:
    @tool
    def double(n: int) -> int:
        """Double a number."""
        return 2 * n

    calls = {"n": 0}

    def engine_fn(turn: Turn) -> Turn:
        calls["n"] += 1
        out = turn.clone()
        if calls["n"] == 1:
            out.blocks.append(Block.tool_call("call-1", "double", {"n": 21}))
        else:
            out.blocks.append(Block.assistant(f"done:{turn.blocks[-1].payload.get('result')}"))
        return out

    host = AgentHost(tools=ToolRegistry([double]))
    agent = Agent.builder(host).engine(FunctionEngine(engine_fn)).host_tool("double").tool_loop(
        ToolConfig(max_iterations=3)
    ).build()
    result = agent.session().build().next().user("please").run()
    assert result.text == "done:42"
    missing = Agent.builder(host).engine(EchoEngine()).host_tool("nope").build()
    with pytest.raises(ToolError, match='resolved runtime tool "nope" not present in registry'):
        missing.session().build()
    with pytest.raises(ConfigError, match="requested tools but no tool registry is configured"):
        Agent.builder().engine(EchoEngine()).host_tool("x").build().session().build()


class _Recorder:
    def __init__(self) -> None:
        self.sessions: list[str] = []

    def persist_turn(self, session_id: str, turn: Turn, *, outcome: Any, error: str | None) -> None:
        self.sessions.append(session_id)


def test_persistence_precedence(store: TurnStore) -> None:
    host_default = _Recorder()
    host = AgentHost(default_store=store, default_persister=host_default)
    inherit = Agent.builder(host).engine(EchoEngine()).build()
    inherit.session().id("host-default").build().next().user("x").run()
    assert host_default.sessions == ["host-default"]

    agent_store = _Recorder()
    agent = Agent.builder(host).engine(EchoEngine()).store(agent_store).build()
    agent.session().id("agent-level").build().next().user("x").run()
    agent.session().id("session-level").store(store).build().next().user("x").run()
    agent.session().id("off").persist(False).build().next().user("x").run()
    assert agent_store.sessions == ["agent-level"]
    assert [r.session_id for r in store.list_turns()] == ["session-level"]

    off = Agent.builder(host).engine(EchoEngine()).store(None).build()
    off.session().id("agent-off").build().next().user("x").run()
    off.session().id("session-default").default_store().build().next().user("x").run()
    assert host_default.sessions == ["host-default"]
    assert [r.session_id for r in store.list_turns()] == ["session-level", "session-default"]


def test_resume_latest(store: TurnStore) -> None:
    agent = Agent.builder().engine(history_engine()).build()
    first = agent.session().id("resume-me").store(store).build()
    first.next().user("persisted").run()
    resumed = agent.session().id("resume-me").store(store).resume_latest().build()
    result = resumed.next().user("continued").run()
    assert resumed.turn_count == 2
    assert "users=persisted,continued" in result.text
    assert "geppetto.forkedFromSource@v1" not in resumed.turn(0).metadata  # type: ignore[union-attr]
    with pytest.raises(SessionError, match='no stored turn found for session "other"'):
        agent.session().id("other").store(store).resume_latest(required=True).build()
    assert agent.session().id("other").store(store).resume_latest().build().turn_count == 0
    with pytest.raises(ConfigError, match="resumeLatest requires a readable TurnStore"):
        agent.session().resume_latest().build()
    with pytest.raises(ConfigError, match=r"cannot use both base\(turn\) and resumeLatest\(\)"):
        agent.session().base(Turn()).resume_latest().build()
    with pytest.raises(ConfigError, match="geppetto default turn persistence is not configured"):
        agent.session().default_store()


def test_python_argument_errors_name_the_python_methods() -> None:
    """The Python builders speak Python; the JS wording is the JS module's own (it checks first)."""
    with pytest.raises(TypeError, match=r"^AgentBuilder\.inference\(\) requires settings"):
        Agent.builder().inference(None)
    with pytest.raises(ValueError, match=r"^AgentBuilder\.host_tool\(\) names must not be empty"):
        Agent.builder().host_tool(" ")
    agent = Agent.builder().engine(EchoEngine()).build()
    with pytest.raises(TypeError, match=r"^SessionBuilder\.store\(\) requires a store; persist\(False\)"):
        agent.session().store(None)  # type: ignore[arg-type]
