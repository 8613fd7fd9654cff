"""A busy store never fails a run: opening waits out short locks (even the ones SQLite reports at once),
parallel writers with kill -9 never block the survivors, and a store that stays locked is skipped with
a warning while the run completes (issue 15, defect 6)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from geppetto.errors import ConfigError
from geppetto.store import StoreLockedError, TurnStore
from geppetto.turns import Block, Turn

SRC = Path(__file__).resolve().parents[2] / "src"

# Opens the store only after "go" (so that every writer races on the same fresh file), then
# saves COUNT turns, printing each committed seq.
WRITER = textwrap.dedent(
    """
    import sys
    from geppetto.store import TurnStore
    from geppetto.turns import Block, Turn

    path, session, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(2)
    store = TurnStore(path)
    for n in range(count):
        turn = Turn([Block.user("shared " * 40), Block.assistant(f"{session} reply {n} " + "x" * 300)])
        print(store.save_turn(session, turn).seq, flush=True)
    store.close()
    """
)


@contextlib.contextmanager
def held_lock(path: Path, mode: str = "EXCLUSIVE") -> Iterator[sqlite3.Connection]:
    """Another connection holding ``path``'s write lock until the block ends."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"BEGIN {mode}")
    try:
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def test_a_new_store_opens_while_another_connection_briefly_holds_the_write_lock(tmp_path: Path) -> None:
    # Switching a new file to WAL upgrades a read lock to a write lock, and SQLite answers that
    # upgrade with SQLITE_BUSY at once instead of calling the busy handler: opening must retry.
    path = tmp_path / "turns.db"
    with held_lock(path, "IMMEDIATE") as other:
        release = threading.Timer(0.5, lambda: other.execute("ROLLBACK"))
        release.start()
        try:
            store = TurnStore(path, busy_timeout=5)
        finally:
            release.join()
    with store:
        assert store.save_turn("s", Turn([Block.user("hi")])).index == 0
        assert store.check() == []


def test_a_store_locked_past_the_timeout_says_how_long_it_waited(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    with held_lock(path), pytest.raises(StoreLockedError, match=r"locked by another process \(waited 0\.3s"):
        TurnStore(path, busy_timeout=0.3)


def test_a_deferred_store_opens_on_first_use_once_the_lock_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    with held_lock(path):
        store = TurnStore(path, busy_timeout=0.2, defer_if_locked=True)
        with pytest.raises(StoreLockedError, match="locked by another process"):
            store.save_turn("s", Turn([Block.user("lost")]))
    with store:
        assert store.save_turn("s", Turn([Block.user("kept")])).index == 0
        assert [t.blocks[0].text for t in store.load_turns("s")] == ["kept"]


def test_infer_completes_and_warns_when_the_store_stays_locked(tmp_path: Path) -> None:
    path = tmp_path / "turns.db"
    env = dict(os.environ, PYTHONPATH=str(SRC), GEPPETTO_STORE_BUSY_TIMEOUT="0.3")
    with held_lock(path):
        command = ["infer", "--ai-api-type", "echo", "hello there", "--store", str(path)]
        result = subprocess.run(
            [sys.executable, "-m", "geppetto", *command], capture_output=True, text=True, env=env, timeout=60
        )
    assert result.returncode == 0, result.stderr
    assert "hello there" in result.stdout
    assert "was not saved" in result.stderr and "locked by another process" in result.stderr
    assert "Traceback" not in result.stderr


def test_store_busy_timeout_from_the_environment_is_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEPPETTO_STORE_BUSY_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="GEPPETTO_STORE_BUSY_TIMEOUT"):
        TurnStore(tmp_path / "turns.db")


def run_writers_with_kills(tmp_path: Path, writers: int, count: int) -> None:
    """``writers`` processes race to open one fresh store; every third is killed with SIGKILL
    after its first commit. The others must all finish, and the store must stay whole."""
    path = tmp_path / "turns.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, PYTHONPATH=str(SRC))
    pipe = subprocess.PIPE
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), f"w{i}", str(count)],
            stdin=pipe, stdout=pipe, stderr=pipe, text=True, env=env,
        )
        for i in range(writers)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    victims = procs[::3]
    for proc in victims:
        assert proc.stdout is not None
        proc.stdout.readline()  # its first commit (or EOF if it failed)
        os.kill(proc.pid, signal.SIGKILL)
    committed: dict[str, list[int]] = {}
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=300)
        if proc in victims:
            continue
        assert proc.returncode == 0, f"writer w{i} failed: {err.strip().splitlines()[-1:]}"
        committed[f"w{i}"] = [int(line) for line in out.split()]
    with TurnStore(path) as store:
        assert store.check() == []
        for session, seqs in committed.items():
            assert [r.seq for r in store.list_turns(session)] == seqs
            assert len(seqs) == count


def test_parallel_writers_with_kills_never_block_the_survivors(tmp_path: Path) -> None:
    run_writers_with_kills(tmp_path, writers=12, count=4)


@pytest.mark.heavy
@pytest.mark.parametrize("batch", range(10))
def test_parallel_writers_with_kills_never_block_the_survivors_heavy(tmp_path: Path, batch: int) -> None:
    run_writers_with_kills(tmp_path, writers=40, count=6)
