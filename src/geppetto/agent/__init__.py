"""Agents: an engine with middlewares, tools, event sinks and persistence, and the sessions,
turn builders and run results built on them (the reference's current "wrapper-first" API).

>>> agent = Agent.builder().name("helper").engine(EchoEngine()).build()
>>> session = agent.session().id("chat-1").build()
>>> result = session.next().system("be terse").user("hello").run()
>>> result.text
"""

from geppetto.agent.agent import Agent, AgentBuilder
from geppetto.agent.options import AgentHost, Persist, PersistChoice, RunOptions
from geppetto.agent.run import AgentRun, RunResult, turn_text
from geppetto.agent.session import AgentSession, SessionBuilder
from geppetto.agent.turn_builder import TurnBuilder, image_payload

__all__ = [
    "Agent",
    "AgentBuilder",
    "AgentHost",
    "AgentRun",
    "AgentSession",
    "Persist",
    "PersistChoice",
    "RunOptions",
    "RunResult",
    "SessionBuilder",
    "TurnBuilder",
    "image_payload",
    "turn_text",
]
