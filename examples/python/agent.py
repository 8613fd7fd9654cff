"""Agents in Python: the same API the JS ``agent()`` maps onto, offline on the echo engine.

Run: .venv/bin/python examples/python/agent.py
"""

from __future__ import annotations

import asyncio

from geppetto import Agent, EchoEngine, RunOptions
from geppetto.events import CollectingSink


async def main() -> None:
    events = CollectingSink()
    agent = (
        Agent.builder()
        .name("helper")
        .engine(EchoEngine("hello there"))
        .events(events)
        .run_defaults(timeout_ms=10_000, tags={"example": "agent"})
        .build()
    )
    session = agent.session().id("agent-example").name("demo").build()

    first = session.next().system("Be brief.").user("Hi!").run()  # sync, from any thread
    print("first:", first.text, "| stop:", first.stop_reason)

    # Immutable builders, images as URLs, paths or dicts, and async runs.
    draft = session.next().user("And this picture?", images=["https://example.invalid/cat.png"])
    second = await draft.arun(RunOptions(tags={"turn": 2}))
    print("second:", second.text.replace("\n", " / "), "| turns:", session.turn_count)

    branch = session.fork(at=0).id("agent-example-branch").build()
    print("branch starts from:", branch.latest_turn.id if branch.latest_turn else None)

    run = agent.session().build().next().user("slow").start()  # an AgentRun handle
    run.cancel()
    try:
        await run
    except Exception as exc:  # InferenceCancelled
        print("cancelled:", type(exc).__name__)
    print("events seen:", len(events.events))


if __name__ == "__main__":
    asyncio.run(main())
