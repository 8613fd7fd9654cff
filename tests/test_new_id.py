"""``new_id`` hands out version-4 UUIDs from a pooled ``os.urandom`` read: unique across
batches and threads, and a forked child never repeats its parent's next ids."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from geppetto.turns.model import new_id


def test_ids_are_version_4_uuids_and_unique_across_batches() -> None:
    ids = [new_id() for _ in range(3 * 256 + 7)]  # several refills
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    # the variant digit keeps its two random bits (122 random bits per id, like uuid4)
    assert {value[19] for value in ids} == set("89ab")


def test_threads_never_share_an_id() -> None:
    seen: list[list[str]] = [[] for _ in range(8)]

    def take(out: list[str]) -> None:
        out.extend(new_id() for _ in range(2000))

    threads = [threading.Thread(target=take, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [value for out in seen for value in out]
    assert len(set(flat)) == len(flat) == 16_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_fresh_ids() -> None:
    new_id()  # the pool is filled: a child copying it would repeat the parent's next ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, ",".join(new_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(5)]
    assert len(child) == 5 and not set(child) & set(parent)
