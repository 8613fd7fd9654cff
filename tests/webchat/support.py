"""Shared pieces of the web chat tests: scripted profiles and engines, and a server on loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from geppetto.engines.accumulator import StreamAccumulator
from geppetto.engines.base import RunContext
from geppetto.engines.echo import EchoEngine
from geppetto.serve.web import WEB_CHAT_RUNS, ChatRuns, ProfileChoice
from geppetto.session import EngineBuilder
from geppetto.tools import ToolRegistry, tool
from geppetto.turns import BlockKind, Turn

# Model output that tries to inject markup: the page must show it as text.
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
MARKDOWN_REPLY = (
    "## Result\n\nThe **sum** is `5`, see [docs](https://example.com/sum) and [bad](javascript:alert(1)).\n\n"
    "- one\n- two\n\n```python\nprint(2 + 3)\n```\n\n" + HOSTILE
)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class ScriptedEngine:
    """Reasoning and a tool call first; once the tool answered, ``reply`` word by word."""

    name = "scripted"

    def __init__(self, reply: str = MARKDOWN_REPLY, *, delay_ms: float = 0) -> None:
        self.reply = reply
        self.delay = delay_ms / 1000

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        last_user = max(i for i, b in enumerate(turn.blocks) if b.kind is BlockKind.USER)
        answered = any(b.kind is BlockKind.TOOL_USE for b in turn.blocks[last_user:])
        with StreamAccumulator(turn, ctx, provider="scripted", model="scripted-1") as acc:
            acc.start()
            if not answered:
                acc.add_reasoning("I should call <b>add</b>.")
                acc.add_complete_tool_call(id="call-1", name="add", args={"a": 2, "b": 3})
                acc.set_stop_reason("tool_calls")
                return acc.finish()
            for piece in split_words(self.reply):
                if self.delay:
                    await asyncio.sleep(self.delay)
                acc.add_text(piece)
            acc.set_stop_reason("stop")
            return acc.finish()


def split_words(text: str) -> list[str]:
    """Pieces that join back to ``text`` exactly (whitespace kept), one word each."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    assert "".join(pieces) == text
    return pieces


class ScriptedProfiles:
    """Profiles for tests: name -> a builder factory."""

    def __init__(self, builders: dict[str, Callable[[], EngineBuilder]], default: str) -> None:
        self.builders = builders
        self._default = default
        self.built: list[str] = []

    def choices(self) -> list[ProfileChoice]:
        return [ProfileChoice(name, "test", name) for name in self.builders]

    def default(self) -> str:
        return self._default

    def builder(self, name: str) -> EngineBuilder:
        self.built.append(name)
        return self.builders[name]()


def make_profiles(slow_delay_ms: float = 150) -> ScriptedProfiles:
    """``fast`` (echo), ``slow`` (a long echo reply, one word per ``slow_delay_ms``) and ``tools``
    (scripted reasoning, a tool call and a Markdown reply)."""
    registry = ToolRegistry()
    registry.register(add)
    long_reply = " ".join(f"word{i}" for i in range(400))
    return ScriptedProfiles(
        {
            "fast": lambda: EngineBuilder(EchoEngine("Hello from the fast profile.")),
            "slow": lambda: EngineBuilder(EchoEngine(long_reply, delay_ms=slow_delay_ms)),
            "tools": lambda: EngineBuilder(ScriptedEngine()).with_tools(registry),
        },
        default="fast",
    )


def sse_records(body: bytes) -> list[dict[str, Any]]:
    import orjson

    out = []
    for chunk in body.decode().split("\n\n"):
        for line in chunk.splitlines():
            if line.startswith("data: "):
                out.append(orjson.loads(line[6:]))
    return out



def runs_of(client: Any) -> ChatRuns:
    """The runs of the web chat a test client serves."""
    runs: ChatRuns = client.app[WEB_CHAT_RUNS]
    return runs


class BackgroundServer:
    """The web chat on 127.0.0.1 (a free port) served from its own event-loop thread, for a browser."""

    def __init__(self, app: Any) -> None:
        import threading

        self.app = app
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="webchat-server", daemon=True)
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        from aiohttp import web

        self._thread.start()
        self.runner = web.AppRunner(self.app)
        asyncio.run_coroutine_threadsafe(self.runner.setup(), self.loop).result()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        asyncio.run_coroutine_threadsafe(site.start(), self.loop).result()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium(width: int = 1280, height: int = 860) -> Any:
    """Headless Debian Chromium under Selenium; fails (never skips) with what to install."""
    import os

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        raise RuntimeError(
            f"the browser tests need {', '.join(missing)}: install Debian's packages with "
            "'apt-get install chromium chromium-driver'"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
