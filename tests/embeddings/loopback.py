"""A loopback aiohttp server answering in the shapes of ``tests/fixtures/embeddings`` (see its
MANIFEST.md), with faults to inject: ``429`` (with Retry-After), ``500``, ``400``, ``truncated``,
``wrong_count``, ``nan``, ``huge`` (each used once, in order)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "embeddings"
SECRET_BODY = "upstream-secret-body"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def vector_for(text: str, dims: int = 4) -> list[float]:
    """The deterministic vector the fake servers return for ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[i] / 255 * 2 - 1, 6) for i in range(dims)]


class Loopback:
    def __init__(self, dims: int = 4) -> None:
        self.dims = dims
        self.faults: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> Loopback:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_post("/v1/embeddings", self._wrap(self._openai))
        app.router.add_post("/api/embed", self._wrap(self._ollama))
        app.router.add_post("/v1beta/models/{model}", self._wrap(self._gemini))
        app.router.add_post("/v1/rerank", self._wrap(self._rerank))
        app.router.add_post("/rerank", self._wrap(self._rerank))
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def _wrap(self, handler: Callable[[dict[str, Any]], Any]) -> Any:
        async def route(request: web.Request) -> web.StreamResponse:
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            self.paths.append(request.path)
            fault = self.faults.pop(0) if self.faults else ""
            if fault == "slow":
                await asyncio.sleep(30)
            if self.verbatim is not None:
                return web.Response(body=self.verbatim, content_type="application/json")
            if fault == "429":
                return web.json_response({"error": SECRET_BODY}, status=429, headers={"Retry-After": "0.01"})
            if fault in ("500", "503", "400", "401"):
                return web.json_response({"error": {"message": SECRET_BODY}}, status=int(fault))
            answer = handler(body)
            if fault == "wrong_count":
                _drop_one(answer)
            raw = json.dumps(_poison(answer)).encode() if fault == "nan" else json.dumps(answer).encode()
            if fault == "huge":
                raw = raw + b" " * (4 << 20)
            if fault == "truncated":
                resp = web.StreamResponse(headers={"Content-Type": "application/json"})
                resp.content_length = len(raw)
                await resp.prepare(request)
                await resp.write(raw[: len(raw) // 2])
                assert request.transport is not None
                request.transport.close()
                return resp
            return web.Response(body=raw, content_type="application/json")

        return route

    def _openai(self, body: dict[str, Any]) -> Any:
        shape = fixture("openai_embeddings.json")
        item = shape["data"][0]
        dims = body.get("dimensions") or self.dims
        data = [
            {**item, "embedding": vector_for(text, dims), "index": i} for i, text in enumerate(body["input"])
        ]
        shape["data"] = list(reversed(data))  # entries carry their index; clients must sort
        shape["model"] = body["model"]
        return shape

    def _ollama(self, body: dict[str, Any]) -> Any:
        shape = fixture("ollama_embed.json")
        shape["embeddings"] = [vector_for(text, self.dims) for text in body["input"]]
        shape["model"] = body["model"]
        return shape

    def _gemini(self, body: dict[str, Any]) -> Any:
        shape = fixture("gemini_batch_embed.json")
        shape["embeddings"] = [
            {
                "values": vector_for(
                    req["content"]["parts"][0]["text"], req.get("outputDimensionality") or self.dims
                )
            }
            for req in body["requests"]
        ]
        return shape

    def _rerank(self, body: dict[str, Any]) -> Any:
        shape = copy.deepcopy(self.rerank_shape)
        item = shape["results"][0]
        scored = [
            {**item, "index": i, "relevance_score": _score(body["query"], doc)}
            for i, doc in enumerate(body["documents"])
        ]
        for entry in scored:
            if "document" in entry:
                entry["document"] = {"text": body["documents"][entry["index"]]}
        scored.sort(key=lambda entry: -entry["relevance_score"])
        shape["results"] = scored[: body.get("top_n") or len(scored)]
        if "model" in shape and self.echo_model:
            shape["model"] = body.get("model", shape["model"])
        return shape

    rerank_shape: dict[str, Any] = {}
    echo_model = True  # answer with the model asked for
    verbatim: bytes | None = None  # when set: the answer to every request, as is


def _score(query: str, doc: str) -> float:
    words = set(query.lower().split())
    return float(sum(1 for word in doc.lower().split() if word in words)) + len(doc) / 1000


def _drop_one(answer: dict[str, Any]) -> None:
    for key in ("data", "embeddings", "results"):
        if isinstance(answer.get(key), list) and answer[key]:
            answer[key].pop()
            return


def _poison(answer: dict[str, Any]) -> dict[str, Any]:
    for key in ("data", "embeddings", "results"):
        items = answer.get(key)
        if isinstance(items, list) and items:
            first = items[0]
            if isinstance(first, list):
                first[0] = float("nan")
            elif "embedding" in first:
                first["embedding"][0] = float("nan")
            elif "values" in first:
                first["values"][0] = float("nan")
            else:
                first["relevance_score"] = float("nan")
            break
    return answer


class ThreadedLoopback:
    """A :class:`Loopback` served from its own thread and event loop, for callers that block
    (the JS runtime's synchronous calls)."""

    def __enter__(self) -> Loopback:
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="loopback", daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(Loopback().start(), self.loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
