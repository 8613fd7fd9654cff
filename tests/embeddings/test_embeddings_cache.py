"""The memory and SQLite caches: keys, LRU, restart, and a kill -9 in the middle of writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from geppetto.embeddings.cache import CachedEmbedder, MemoryCache
from geppetto.embeddings.disk_cache import FILE_NAME, DiskCache
from geppetto.embeddings.types import EmbeddingModel

from .loopback import vector_for

MODEL = EmbeddingModel("openai", "text-embedding-3-small", 4)


class CountingEmbedder:
    def __init__(self, model: EmbeddingModel = MODEL) -> None:
        self.calls: list[list[str]] = []
        self._model = model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [vector_for(t) for t in texts]

    def model(self) -> EmbeddingModel:
        return self._model

    async def aclose(self) -> None:
        return None


async def test_only_misses_reach_the_provider_once_each() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, MemoryCache(10))
    assert await cached.embed(["a", "b", "a"]) == [vector_for("a"), vector_for("b"), vector_for("a")]
    assert await cached.embed(["b", "c"]) == [vector_for("b"), vector_for("c")]
    assert inner.calls == [["a", "b"], ["c"]]
    assert (cached.hits, cached.misses) == (2, 3)


async def test_callers_own_the_vectors_they_get() -> None:
    cached = CachedEmbedder(CountingEmbedder(), MemoryCache(10))
    first, again = await cached.embed(["a", "a"])
    first[0] = 99.0  # a caller normalising in place
    assert again == vector_for("a")
    assert await cached.embed(["a"]) == [vector_for("a")]


def test_memory_cache_is_lru_and_keyed_by_model_and_dimensions() -> None:
    cache = MemoryCache(2)
    cache.put_many(MODEL, {"a": [1.0], "b": [2.0]})
    assert cache.get_many(MODEL, ["a"]) == {"a": [1.0]}  # a is now the most recent
    cache.put_many(MODEL, {"c": [3.0]})
    assert set(cache.get_many(MODEL, ["a", "b", "c"])) == {"a", "c"}
    other = EmbeddingModel("openai", "text-embedding-3-small", 8)
    assert cache.get_many(other, ["a"]) == {}
    assert cache.get_many(EmbeddingModel("ollama", MODEL.name, 4), ["a"]) == {}


async def test_disk_cache_survives_a_restart(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    first = CachedEmbedder(inner, DiskCache(tmp_path))
    await first.embed(["x", "y", "a-distinctive-secret-text"])
    await first.aclose()
    second_inner = CountingEmbedder()
    second = CachedEmbedder(second_inner, MemoryCache(), DiskCache(tmp_path))
    assert await second.embed(["y", "x", "z"]) == [vector_for("y"), vector_for("x"), vector_for("z")]
    assert second_inner.calls == [["z"]]
    other = CachedEmbedder(
        CountingEmbedder(EmbeddingModel("openai", "text-embedding-3-large", 4)), DiskCache(tmp_path)
    )
    await other.embed(["x"])
    assert other.misses == 1  # another model never reads these vectors
    raw = (tmp_path / FILE_NAME).read_bytes()
    assert (
        b"text-embedding-3-small" in raw and b"a-distinctive-secret-text" not in raw
    )  # texts are stored as hashes


def test_disk_cache_keeps_exact_values_and_evicts_least_recent(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path, max_entries=3)
    precise = [0.1 + 0.2, -1e-300, 12345.678901234567]
    cache.put_many(MODEL, {"p": precise})
    assert cache.get_many(MODEL, ["p"]) == {"p": precise}
    for name in "abc":
        time.sleep(0.002)
        cache.put_many(MODEL, {name: [1.0]})
    cache.evict()
    assert len(cache) == 3 and cache.get_many(MODEL, ["p"]) == {}
    cache.close()


WRITER = textwrap.dedent(
    """
    import sys
    from geppetto.embeddings.disk_cache import DiskCache
    from geppetto.embeddings.types import EmbeddingModel
    model = EmbeddingModel("openai", "m", 64)
    cache = DiskCache(sys.argv[1])
    batch = 0
    while True:
        cache.put_many(model, {f"t{batch}-{i}": [float(batch)] * 64 for i in range(200)})
        batch += 1
        if batch == 3:
            print("ready", flush=True)
    """
)


def test_disk_cache_is_intact_after_kill_9_mid_write(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    time.sleep(0.2)  # inside the write loop
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    cache = DiskCache(tmp_path)
    model = EmbeddingModel("openai", "m", 64)
    batches = len(cache) // 200
    assert batches >= 3 and len(cache) == batches * 200  # whole batches only
    for batch in range(batches):
        got = cache.get_many(model, [f"t{batch}-{i}" for i in range(200)])
        assert len(got) == 200 and all(v == [float(batch)] * 64 for v in got.values())
    cache.close()


class ThreadRecordingStore(MemoryCache):
    """A store that says it blocks, and records the thread of every call."""

    blocking = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def get_many(self, model: EmbeddingModel, texts: Sequence[str]) -> dict[str, list[float]]:
        self.threads.append(threading.get_ident())
        return super().get_many(model, texts)

    def put_many(self, model: EmbeddingModel, items: dict[str, list[float]]) -> None:
        self.threads.append(threading.get_ident())
        super().put_many(model, items)


async def test_a_blocking_store_is_used_off_the_event_loop() -> None:
    store = ThreadRecordingStore()
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, MemoryCache(), store)
    await cached.embed(["a", "b"])  # one lookup and one write
    await cached.embed(["a", "c"])  # one lookup ("c"; "a" is in memory) and one write
    assert len(store.threads) == 4
    assert threading.get_ident() not in store.threads
    assert DiskCache.blocking is True


async def test_disk_lookups_and_writes_are_one_call_each_per_embed(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path)
    calls: list[str] = []
    real_get, real_put = disk.get_many, disk.put_many

    def get_many(model: EmbeddingModel, texts: Sequence[str]) -> dict[str, list[float]]:
        calls.append(f"get {len(texts)}")
        return real_get(model, texts)

    def put_many(model: EmbeddingModel, items: dict[str, list[float]]) -> None:
        calls.append(f"put {len(items)}")
        real_put(model, items)

    disk.get_many, disk.put_many = get_many, put_many  # type: ignore[method-assign]
    cached = CachedEmbedder(CountingEmbedder(), disk)
    await cached.embed([f"t{i}" for i in range(1200)])
    assert calls == ["get 1200", "put 1200"]
    await cached.aclose()


EMBED_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from geppetto.embeddings.cache import CachedEmbedder
    from geppetto.embeddings.disk_cache import DiskCache
    from geppetto.embeddings.types import EmbeddingModel

    MODEL = EmbeddingModel("openai", "m", 64)

    class Inner:
        def model(self): return MODEL
        async def aclose(self): return None
        async def embed(self, texts): return [[float(t.split("-")[0][1:])] * 64 for t in texts]

    async def main():
        cached = CachedEmbedder(Inner(), DiskCache(sys.argv[1]))
        batch = 0
        while True:
            await cached.embed([f"t{batch}-{i}" for i in range(200)])
            print(f"returned {batch}", flush=True)
            batch += 1

    asyncio.run(main())
    """
)


def test_vectors_an_embed_returned_survive_kill_9(tmp_path: Path) -> None:
    """Writes run in a thread, yet ``embed`` returns only once they are committed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", EMBED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    returned = -1
    while returned < 3:
        line = proc.stdout.readline()
        assert line.startswith(b"returned "), line
        returned = int(line.split()[1])
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()  # lines printed before the kill landed
    proc.wait()
    proc.stdout.close()
    for line in rest.splitlines():
        if line.startswith(b"returned "):
            returned = int(line.split()[1])
    cache = DiskCache(tmp_path)
    model = EmbeddingModel("openai", "m", 64)
    for batch in range(returned + 1):
        got = cache.get_many(model, [f"t{batch}-{i}" for i in range(200)])
        assert len(got) == 200 and all(v == [float(batch)] * 64 for v in got.values())
    assert len(cache) % 200 == 0  # whole batches only
    cache.close()
