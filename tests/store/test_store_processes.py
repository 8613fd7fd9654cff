"""Several processes on one store: concurrent writers, and a writer killed with SIGKILL."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from geppetto.store import TurnStore

# Writes COUNT turns (or forever when COUNT is 0) into session SESSION, each with fresh blocks
# plus a large shared history, printing the seq of every committed turn.
WRITER = textwrap.dedent(
    """
    import sys
    from geppetto.store import TurnStore
    from geppetto.turns import Block, Turn

    path, session, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = TurnStore(path)
    history = [Block.user("shared " * 50) for _ in range(20)]
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(2)
    n = 0
    while count == 0 or n < count:
        fresh = [Block.assistant(f"{session} reply {n} part {i} " + "x" * 500) for i in range(30)]
        record = store.save_turn(session, Turn(history + fresh), outcome="completed")
        print(record.seq, flush=True)
        n += 1
    store.close()
    """
)


def start_writer(tmp_path: Path, store_path: Path, session: str, count: int) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(store_path), session, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def test_two_processes_write_one_store_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    count = 60
    writers = [start_writer(tmp_path, path, name, count) for name in ("left", "right")]
    for proc in writers:  # both are open and migrated before either writes
        go(proc)
    seqs: dict[str, list[int]] = {}
    for name, proc in zip(("left", "right"), writers, strict=True):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        seqs[name] = [int(line) for line in out.split()]
    with TurnStore(path) as store:
        assert store.check() == []
        for name in ("left", "right"):
            records = store.list_turns(name)
            assert [r.seq for r in records] == seqs[name]
            assert [r.index for r in records] == list(range(count))
            assert all(r.parent_seq == prev.seq for prev, r in itertools.pairwise(records))
        assert store.counts()["turns"] == 2 * count
        # each writer's history (20 blocks with their own ids) is stored once, plus 30 fresh per turn
        assert store.counts()["blocks"] == 2 * 20 + 2 * count * 30
        assert all(len(turn.blocks) == 50 for turn in store.load_turns("left"))


def test_sigkill_during_writes_loses_at_most_the_write_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    proc = start_writer(tmp_path, path, "victim", 0)
    go(proc)
    assert proc.stdout is not None
    committed = [int(proc.stdout.readline()) for _ in range(25)]
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    committed += [int(line) for line in rest.split()]
    assert proc.returncode == -signal.SIGKILL

    assert integrity_check(path) == "ok"
    with TurnStore(path) as store:
        assert store.check() == []
        records = store.list_turns("victim")
        stored = [r.seq for r in records]
        assert stored[: len(committed)] == committed  # every reported commit survived
        assert len(stored) - len(committed) <= 1  # at most one commit not yet reported
        turns = store.load_turns("victim")  # every stored turn is complete
        assert all(len(turn.blocks) == 50 for turn in turns)
        assert len(turns) == len(records)
        # the store is usable afterwards
        assert store.save_turn("victim", turns[-1]).index == len(records)


def integrity_check(path: Path) -> str:
    """``PRAGMA integrity_check`` on a fresh plain connection (not the store's own)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
