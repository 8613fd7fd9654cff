"""The reference's embedding caches: an in-memory LRU and (``disk_cache``) a SQLite file.

A cache entry is keyed by provider, model, dimensions and text, so two profiles that differ in
any of them never share vectors. :class:`CachedEmbedder` asks its store for every text at once,
sends only the misses to the provider (deduplicated), and stores what came back.

A store that does blocking I/O says so (``blocking = True``: the SQLite file) and is called from
a worker thread, once per ``embed`` for the lookups and once for the writes, so the event loop
never waits on the disk. ``embed`` still returns only after the new vectors are committed: a
``kill -9`` after it returned loses none of them.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from geppetto.embeddings.types import Embedder, EmbeddingModel, check_texts

DEFAULT_MAX_ENTRIES = 1000


class VectorStore(Protocol):
    """Where cached vectors live, per ``(provider, model, dimensions)`` namespace."""

    def get_many(self, model: EmbeddingModel, texts: Sequence[str]) -> dict[str, list[float]]: ...

    def put_many(self, model: EmbeddingModel, items: dict[str, list[float]]) -> None: ...

    def close(self) -> None: ...


def _blocking(store: VectorStore) -> bool:
    return bool(getattr(store, "blocking", False))


class MemoryCache:
    """LRU over ``(provider, model, dimensions, text)``; ``max_entries`` vectors at most."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries if max_entries > 0 else DEFAULT_MAX_ENTRIES
        self._entries: OrderedDict[tuple[str, str, int, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, model: EmbeddingModel, texts: Sequence[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        entries = self._entries
        prefix = (model.provider, model.name, model.dimensions)
        with self._lock:
            for text in texts:
                key = (*prefix, text)
                vector = entries.get(key)
                if vector is not None:
                    entries.move_to_end(key)
                    found[text] = vector
        return found

    def put_many(self, model: EmbeddingModel, items: dict[str, list[float]]) -> None:
        prefix = (model.provider, model.name, model.dimensions)
        with self._lock:
            for text, vector in items.items():
                key = (*prefix, text)
                self._entries[key] = vector
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        return None


class CachedEmbedder:
    """An embedder in front of which ``stores`` are asked first (memory before disk); a hit in a
    later store is copied into the earlier ones."""

    def __init__(self, inner: Embedder, *stores: VectorStore) -> None:
        self.inner = inner
        self.stores = stores
        self.hits = 0
        self.misses = 0

    def model(self) -> EmbeddingModel:
        return self.inner.model()

    async def aclose(self) -> None:
        for store in self.stores:
            if _blocking(store):  # waits for a write still in its thread (a cancelled embed's)
                await asyncio.to_thread(store.close)
            else:
                store.close()
        await self.inner.aclose()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = check_texts(texts)
        model = self.inner.model()  # the configured identity: the key stays stable across processes
        found: dict[str, list[float]] = {}
        wanted: list[str] = list(dict.fromkeys(items))
        for level, store in enumerate(self.stores):
            if not wanted:
                break
            if _blocking(store):
                got = await asyncio.to_thread(store.get_many, model, wanted)
            else:
                got = store.get_many(model, wanted)
            if got:
                for earlier in self.stores[:level]:
                    await _put(earlier, model, got)
                found.update(got)
                wanted = [text for text in wanted if text not in got]
        self.hits += len(items) - len(wanted)
        self.misses += len(wanted)
        if wanted:
            vectors = await self.inner.embed(wanted)
            fresh = dict(zip(wanted, vectors, strict=True))
            for store in self.stores:
                await _put(store, model, fresh)
            found.update(fresh)
        # Copies: a caller that normalises a vector in place must not change the cached one (or
        # the vector of a repeated text).
        return [list(found[text]) for text in items]


async def _put(store: VectorStore, model: EmbeddingModel, items: dict[str, list[float]]) -> None:
    """Store ``items``; a blocking store writes (one transaction) in a worker thread."""
    if _blocking(store):
        await asyncio.to_thread(store.put_many, model, items)
    else:
        store.put_many(model, items)
