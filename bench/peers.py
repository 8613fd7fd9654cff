"""The clients compared by the bench, each behind the same small driver interface.

Every driver talks to the loopback server at ``base_url`` (an OpenAI base URL ending in ``/v1``)
and offers ``call()`` (one whole reply, returns its text), ``stream()`` (one streamed reply,
returns the number of text pieces the user saw) and ``aclose()``. Peer libraries are imported
only inside their factory, so a missing one costs nothing and is reported as skipped with the
reason. Each factory uses the library's documented default way of making the call.

Rows:

* ``floor`` - hand-rolled HTTP/1.1 on asyncio streams plus ``orjson.loads``, reading the body as
  it arrives like geppetto does: what the server, loopback and event loop cost with no HTTP
  library at all (reference);
* ``aiohttp`` - raw ``aiohttp.ClientSession`` plus ``json.loads`` (reference);
* ``openai`` - the ``openai`` SDK on its aiohttp transport (``DefaultAioHttpClient``): the
  baseline every ratio is taken against, and the transport geppetto uses;
* ``openai-httpx`` - the same SDK on its default HTTP stack (reference);
* ``geppetto`` - the Python API: ``await Session(engine).arun(seed)`` on an OpenAI chat engine;
* ``geppetto-engine`` - ``await engine.run(turn, RunContext())`` without a session;
* ``litellm``, ``pydantic-ai``, ``llm`` - the peers a user would pick instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

MESSAGES = [{"role": "user", "content": "Hi"}]
MODEL = "x"
KEY = "bench-key"


class Driver(Protocol):
    async def call(self) -> str: ...
    async def stream(self) -> int: ...
    async def aclose(self) -> None: ...


class MissingPeer(Exception):
    """The library behind a row is not installed (the row is skipped with this reason)."""


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    factory: Callable[[str], Awaitable[Driver]]
    group: str  # reference | baseline | geppetto | peer
    cost: int = 1  # divides the call count (slow clients would otherwise dominate the run time)


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingPeer(f"{module} is not installed ({extra}): {exc}") from None


# -- floor: HTTP/1.1 by hand ----------------------------------------------------------------------


class FloorDriver:
    """Keep-alive HTTP/1.1 over ``asyncio.open_connection``; understands Content-Length and chunked.

    It reads and decodes the way the fastest client (geppetto) does, so it is a true floor: the
    body is consumed as the bytes arrive (whatever one read returns, like aiohttp's
    ``iter_any()``), split into lines on bytes, and each ``data:`` payload goes through orjson.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path.rstrip("/") + "/chat/completions"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        import orjson

        self.dumps, self.loads = orjson.dumps, orjson.loads

    async def _post(self, payload: dict[str, Any], on_bytes: Callable[[bytes], None]) -> None:
        body = self.dumps(payload)
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        writer.write(head + body)
        status = await reader.readline()
        if not status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"floor: unexpected status {status!r}")
        length, chunked = -1, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while size := int((await reader.readline()).split(b";")[0], 16):
                on_bytes(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readexactly(2)
        else:
            while length > 0:
                data = await reader.read(min(length, 1 << 16))
                if not data:
                    raise RuntimeError("floor: connection closed mid-body")
                length -= len(data)
                on_bytes(data)
        self.idle.append((reader, writer))

    async def call(self) -> str:
        pieces: list[bytes] = []
        await self._post({"model": MODEL, "messages": MESSAGES}, pieces.append)
        reply = self.loads(b"".join(pieces))
        return str(reply["choices"][0]["message"]["content"])

    async def stream(self) -> int:
        loads = self.loads
        count = 0
        rest = b""

        def on_bytes(data: bytes) -> None:
            nonlocal count, rest
            lines = (rest + data if rest else data).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.startswith(b"data: {"):
                    for choice in loads(line[6:]).get("choices") or ():
                        if choice["delta"].get("content"):
                            count += 1

        await self._post({"model": MODEL, "messages": MESSAGES, "stream": True}, on_bytes)
        return count

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def floor(base_url: str) -> Driver:
    return FloorDriver(base_url)


# -- raw aiohttp -----------------------------------------------------------------------------------


class AiohttpDriver:
    def __init__(self, base_url: str) -> None:
        import aiohttp

        # No pool limit: the concurrency test opens 1,000 connections at once.
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.url = base_url.rstrip("/") + "/chat/completions"

    async def call(self) -> str:
        async with self.session.post(self.url, json={"model": MODEL, "messages": MESSAGES}) as resp:
            reply = json.loads(await resp.read())
        return str(reply["choices"][0]["message"]["content"])

    async def stream(self) -> int:
        count = 0
        payload = {"model": MODEL, "messages": MESSAGES, "stream": True}
        async with self.session.post(self.url, json=payload) as resp:
            async for line in resp.content:
                if line.startswith(b"data: {"):
                    for choice in json.loads(line[6:]).get("choices") or ():
                        if choice["delta"].get("content"):
                            count += 1
        return count

    async def aclose(self) -> None:
        await self.session.close()


async def raw_aiohttp(base_url: str) -> Driver:
    return AiohttpDriver(base_url)


# -- the openai SDK ------------------------------------------------------------------------------


class OpenAIDriver:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def call(self) -> str:
        reply = await self.client.chat.completions.create(model=MODEL, messages=MESSAGES)
        return str(reply.choices[0].message.content)

    async def stream(self) -> int:
        count = 0
        async for chunk in await self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    async def aclose(self) -> None:
        await self.client.close()


async def openai_aiohttp(base_url: str) -> Driver:
    import openai

    return OpenAIDriver(
        openai.AsyncOpenAI(api_key=KEY, base_url=base_url, http_client=openai.DefaultAioHttpClient())
    )


async def openai_default(base_url: str) -> Driver:
    import openai

    return OpenAIDriver(openai.AsyncOpenAI(api_key=KEY, base_url=base_url))


# -- geppetto ------------------------------------------------------------------------------------


class _Count:
    """Event sink counting the text events a user would render."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def publish(self, event: Any) -> None:
        if event.type.value == "partial":
            self.count += 1


class GeppettoDriver:
    def __init__(self, base_url: str, *, session: bool) -> None:
        from geppetto.engines.providers import engine_from_options

        self.engine = engine_from_options(
            "openai", MODEL, openai_base_url=base_url, openai_api_key=KEY, environ={}
        )
        self.session = session
        # Imported once here, not per call: a user's module imports them once too.
        from geppetto.engines.base import RunContext
        from geppetto.session import Session
        from geppetto.turns import Block, Turn

        self._types = RunContext, Session, Block, Turn

    async def _run(self, sink: Any = None) -> Any:
        run_context, session, block, turn = self._types
        seed = turn([block.user("Hi")])
        if self.session:
            return await session(self.engine).arun(seed, sinks=(sink,) if sink is not None else ())
        return await self.engine.run(seed, run_context(sink=sink))

    async def call(self) -> str:
        turn = await self._run()
        return str(turn.blocks[-1].payload.get("text", ""))

    async def stream(self) -> int:
        sink = _Count()
        await self._run(sink)
        return sink.count

    async def aclose(self) -> None:
        await self.engine.aclose()


async def geppetto_session(base_url: str) -> Driver:
    return GeppettoDriver(base_url, session=True)


async def geppetto_engine(base_url: str) -> Driver:
    return GeppettoDriver(base_url, session=False)


# -- peers ---------------------------------------------------------------------------------------


class LitellmDriver:
    def __init__(self, litellm: Any, base_url: str) -> None:
        self.litellm = litellm
        self.options = {"model": f"openai/{MODEL}", "api_base": base_url, "api_key": KEY}

    async def call(self) -> str:
        reply = await self.litellm.acompletion(messages=MESSAGES, **self.options)
        return str(reply.choices[0].message.content)

    async def stream(self) -> int:
        count = 0
        async for chunk in await self.litellm.acompletion(messages=MESSAGES, stream=True, **self.options):
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    async def aclose(self) -> None:
        return None


async def litellm(base_url: str) -> Driver:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price list
    return LitellmDriver(_require("litellm", "pip install litellm"), base_url)


class PydanticAIDriver:
    def __init__(self, base_url: str) -> None:
        agent_module = _require("pydantic_ai", "pip install 'pydantic-ai-slim[openai]'")
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        provider = OpenAIProvider(base_url=base_url, api_key=KEY)
        self.agent = agent_module.Agent(OpenAIChatModel(MODEL, provider=provider))

    async def call(self) -> str:
        result = await self.agent.run("Hi")
        return str(result.output)

    async def stream(self) -> int:
        count = 0
        async with self.agent.run_stream("Hi") as result:
            # delta=True, no debounce: every piece reaches the user, as with the other clients.
            async for _ in result.stream_text(delta=True, debounce_by=None):
                count += 1
        return count

    async def aclose(self) -> None:
        return None


async def pydantic_ai(base_url: str) -> Driver:
    return PydanticAIDriver(base_url)


class LlmDriver:
    def __init__(self, model: Any) -> None:
        self.model = model

    async def call(self) -> str:
        return str(await self.model.prompt("Hi", stream=False).text())

    async def stream(self) -> int:
        count = 0
        async for piece in self.model.prompt("Hi"):
            if piece:
                count += 1
        return count

    async def aclose(self) -> None:
        return None


async def llm(base_url: str) -> Driver:
    # llm reads OpenAI-compatible models from extra-openai-models.yaml under LLM_USER_PATH.
    home = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    (home / "extra-openai-models.yaml").write_text(
        f"- model_id: bench\n  model_name: {MODEL}\n  api_base: {json.dumps(base_url)}\n"
    )
    os.environ["LLM_USER_PATH"] = str(home)
    os.environ.setdefault("LLM_LOAD_PLUGINS", "")  # third-party plugins are not part of the comparison
    module = _require("llm", "pip install llm")
    return LlmDriver(module.get_async_model("bench"))


CLIENTS: dict[str, Client] = {
    client.name: client
    for client in (
        Client("floor", floor, "reference"),
        Client("aiohttp", raw_aiohttp, "reference"),
        Client("openai", openai_aiohttp, "baseline"),
        Client("openai-httpx", openai_default, "reference"),
        Client("geppetto", geppetto_session, "geppetto"),
        Client("geppetto-engine", geppetto_engine, "geppetto"),
        Client("litellm", litellm, "peer", cost=2),
        Client("pydantic-ai", pydantic_ai, "peer", cost=4),
        Client("llm", llm, "peer", cost=20),
    )
}
