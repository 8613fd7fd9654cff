"""``embeddings(settings)`` and ``reranker(settings)`` (reference HEAD): a thin mapping onto
:mod:`geppetto.embeddings` and :mod:`geppetto.rerank`.

The JS objects (``parts/40_embeddings.js``) hold a hidden host reference; every call runs the
Python coroutine on the runtime's background loop. Sync calls wait on the owner thread (JS jobs
keep running meanwhile); ``rerankAsync`` settles a promise. Argument checks and their messages
are the reference's (``decodeRerankRequest``); error messages never quote the query, a document
text or an id.
"""

from __future__ import annotations

import math
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from geppetto.js.module.profiles_api import settings_of

if TYPE_CHECKING:
    import concurrent.futures

    from geppetto.embeddings.types import Embedder
    from geppetto.js.module.host import GeppettoHost
    from geppetto.rerank.provider import HTTPReranker
    from geppetto.rerank.types import RerankRequest, RerankResponse

T = TypeVar("T")
MAX_SAFE_INTEGER = 2**53 - 1


class JSEmbeddings:
    __js_class__ = "EmbeddingsRef"
    __slots__ = ("__weakref__", "embedder")

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder


class JSReranker:
    __js_class__ = "RerankerRef"
    __slots__ = ("__weakref__", "reranker")

    def __init__(self, reranker: HTTPReranker) -> None:
        self.reranker = reranker


class RerankControl:
    """What ``cancel()`` / ``close()`` of a ``rerankAsync`` handle reach."""

    __js_class__ = "RerankControl"
    __slots__ = ("__weakref__", "future")

    def __init__(self, future: concurrent.futures.Future[Any] | None) -> None:
        self.future = future

    def cancel(self) -> None:
        if self.future is not None:
            self.future.cancel()


def _submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    import asyncio  # here, not at import: installing the module must not load asyncio

    from geppetto.background import background_loop

    return asyncio.run_coroutine_threadsafe(coro, background_loop())


def _ref(value: Any, cls: type[T], what: str) -> T:
    if not isinstance(value, cls):
        raise TypeError(f"{what} called on something that is not one")
    return value


def decode_rerank_request(query: Any, documents: Any, options: Any, where: str = "rerank") -> RerankRequest:
    """The reference's checks, in its order and words."""
    from geppetto.rerank.types import Document, RerankInvalidRequest, RerankRequest

    if not isinstance(query, str):
        raise TypeError(f"{where}: query must be a string")
    if documents is None or not isinstance(documents, list):
        raise TypeError("documents must be an array of {id, text} objects")
    if options is None:
        raise TypeError("options are required (expected {topN, model?})")
    if not isinstance(options, Mapping):
        raise TypeError("options must be an object")
    if query == "":
        raise RerankInvalidRequest("rerank query is required")
    if not documents:
        raise RerankInvalidRequest("rerank requires at least one document")
    docs: list[Document] = []
    for index, raw in enumerate(documents):
        if raw is None:
            raise RerankInvalidRequest(f"rerank document {index} is null")
        if not isinstance(raw, Mapping):
            raise TypeError(f"documents[{index}] must be an object")
        doc_id, text = raw.get("id"), raw.get("text")
        if not isinstance(doc_id, str) or not doc_id:
            raise RerankInvalidRequest(f"rerank document {index} requires a non-empty string id")
        if not isinstance(text, str) or not text:
            raise RerankInvalidRequest(f"rerank document {index} requires non-empty string text")
        docs.append(Document(doc_id, text))
    for key in options:
        if key not in ("topN", "model"):
            raise RerankInvalidRequest(f"rerank options: unknown key {str(key)!r} (expected topN, model)")
    if "topN" not in options:
        raise RerankInvalidRequest("rerank options.topN is required")
    top_n = _safe_integer(options["topN"])
    if top_n < 1 or top_n > len(docs):
        raise RerankInvalidRequest(f"rerank options.topN ({top_n}) must be between 1 and {len(docs)}")
    model = options.get("model")
    if model is not None and not isinstance(model, str):
        raise RerankInvalidRequest("rerank options.model must be a string")
    return RerankRequest(query, tuple(docs), top_n, model or "")


def _safe_integer(value: Any) -> int:
    from geppetto.rerank.types import RerankInvalidRequest

    bad = "rerank options.topN must be an integer: value is not a JavaScript safe integer"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RerankInvalidRequest("rerank options.topN must be an integer: value is not a number")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise RerankInvalidRequest(bad)
    if abs(value) > MAX_SAFE_INTEGER:
        raise RerankInvalidRequest(bad)
    return int(value)


def response_js(response: RerankResponse) -> dict[str, Any]:
    """The reference's JS ``RerankResponse`` (camelCase; absent parts left out)."""
    out: dict[str, Any] = {
        "provider": response.provider,
        "model": response.model,
        "results": [
            {"documentId": r.document_id, "index": r.index, "score": r.score, "rank": r.rank}
            for r in response.results
        ],
    }
    if response.usage is not None:
        usage = response.usage
        out["usage"] = {"inputTokens": usage.input_tokens, "totalTokens": usage.total_tokens}
    if response.cost is not None:
        out["cost"] = response.cost
    if response.request_id:
        out["requestId"] = response.request_id
    if response.duration_ms is not None:
        out["durationMs"] = response.duration_ms
    return out


def host_functions(host: GeppettoHost) -> dict[str, Any]:
    """The ``host.call`` table of both API objects (registered by :class:`GeppettoHost`)."""
    runtime = host.runtime

    def wait(coro: Coroutine[Any, Any, T]) -> T:
        return runtime.wait_for(_submit(coro))

    def create_embeddings(settings: Any) -> JSEmbeddings:
        from geppetto.embeddings.factory import embedder_from_settings
        from geppetto.errors import GeppettoError

        resolved = settings_of(settings, "embeddings(settings)")
        try:
            return JSEmbeddings(embedder_from_settings(resolved))
        except GeppettoError as exc:
            exc.args = (f"embeddings(settings): {exc}",)
            raise

    def embed(ref: Any, text: Any) -> list[float]:
        embedder = _ref(ref, JSEmbeddings, "embed").embedder
        if not isinstance(text, str):
            raise TypeError("embed: text must be a string")
        return wait(embedder.embed([text]))[0]

    def embed_batch(ref: Any, texts: Any) -> list[list[float]]:
        embedder = _ref(ref, JSEmbeddings, "embedBatch").embedder
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise TypeError("embedBatch: texts must be an array of strings")
        return wait(embedder.embed(texts))

    def embeddings_model(ref: Any) -> dict[str, Any]:
        model = _ref(ref, JSEmbeddings, "model").embedder.model()
        return {"name": model.name, "dimensions": model.dimensions}

    def create_reranker(settings: Any) -> JSReranker:
        from geppetto.errors import GeppettoError
        from geppetto.rerank.factory import reranker_from_settings

        resolved = settings_of(settings, "reranker(settings)")
        try:
            return JSReranker(reranker_from_settings(resolved))
        except GeppettoError as exc:
            exc.args = (f"reranker(settings): {exc}",)
            raise

    def rerank(ref: Any, query: Any, documents: Any, options: Any) -> dict[str, Any]:
        reranker = _ref(ref, JSReranker, "rerank").reranker
        request = decode_rerank_request(query, documents, options)
        return response_js(wait(reranker.rerank(request)))

    def rerank_async(ref: Any, query: Any, documents: Any, options: Any) -> dict[str, Any]:
        reranker = _ref(ref, JSReranker, "rerankAsync").reranker
        request = decode_rerank_request(query, documents, options, "rerankAsync")
        promise = runtime.create_promise()
        future = _submit(reranker.rerank(request))

        def settle(done: concurrent.futures.Future[RerankResponse]) -> None:
            if done.cancelled():
                from geppetto.errors import InferenceCancelled

                promise.reject(InferenceCancelled("rerank cancelled"))
                return
            error = done.exception()
            if error is not None:
                promise.reject(error)
            else:
                promise.resolve(response_js(done.result()))

        future.add_done_callback(settle)
        return {"promise": promise, "control": RerankControl(future)}

    def rerank_cancel(control: Any) -> None:
        _ref(control, RerankControl, "cancel").cancel()

    def reranker_model(ref: Any) -> dict[str, str]:
        return _ref(ref, JSReranker, "model").reranker.model().to_dict()

    return {
        "geppetto.embeddings.create": create_embeddings,
        "geppetto.embeddings.embed": embed,
        "geppetto.embeddings.embedBatch": embed_batch,
        "geppetto.embeddings.model": embeddings_model,
        "geppetto.reranker.create": create_reranker,
        "geppetto.reranker.rerank": rerank,
        "geppetto.reranker.rerankAsync": rerank_async,
        "geppetto.reranker.cancel": rerank_cancel,
        "geppetto.reranker.model": reranker_model,
    }


__all__ = ["decode_rerank_request", "host_functions", "response_js"]
