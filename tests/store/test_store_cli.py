"""``geppetto sessions``, ``geppetto rpc`` and ``geppetto chat`` (through a pseudo-terminal)."""

from __future__ import annotations

import io
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pexpect
import pytest
from tests.signals import default_sigint

from geppetto.engines import EchoEngine
from geppetto.session import EngineBuilder, Session
from geppetto.store import TurnStore
from geppetto.turns import BlockKind, Turn, from_yaml

# The CLI with echo as the default engine (so replies are a predictable READY) and a slow echo
# engine whose reply takes long enough to interrupt.
CLI = textwrap.dedent(
    """
    import sys
    import geppetto.cli as cli
    import geppetto.engines.factory as factory
    from geppetto.engines import EchoEngine, register_engine_factory

    factory.DEFAULT_API_TYPE = "echo"
    register_engine_factory(
        "slow-echo", lambda model="", **o: EchoEngine("one two three four", delay_ms=1500)
    )
    sys.exit(cli.main(sys.argv[1:]))
    """
)


@pytest.fixture
def cli(tmp_path: Path) -> list[str]:
    script = tmp_path / "cli.py"
    script.write_text(CLI)
    return [sys.executable, str(script)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "turns.db"


def run_cli(cli: list[str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def seed_sessions(db: Path) -> tuple[str, str]:
    with TurnStore(db) as store:
        builder = EngineBuilder(EchoEngine())
        first = Session(builder, session_id="11111111-aaaa", store=store)
        first.run(Turn.builder().system("sys").user("first question").build())
        first.append_user_prompt("follow up")
        first.run()
        second = Session(builder, session_id="22222222-bbbb", store=store)
        second.run(Turn.builder().user("other topic").build())
    return first.id, second.id


# -- sessions ----------------------------------------------------------------------------------


def test_sessions_list_and_show(cli: list[str], db: Path) -> None:
    first, second = seed_sessions(db)
    listed = run_cli(cli, "sessions", "list", "--store", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = orjson.loads(listed.stdout)
    assert [row["id"] for row in rows] == [second, first]
    assert [row["turn_count"] for row in rows] == [1, 2]

    table = run_cli(cli, "sessions", "list", "--store", str(db))
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "UPDATED", "TURNS", "LAST", "MODEL", "IN", "OUT", "COST", "TITLE"]
    assert lines[2].startswith(first) and lines[2].endswith("first question")

    shown = run_cli(cli, "sessions", "show", "1111", "--store", str(db))
    assert shown.returncode == 0, shown.stderr
    assert f"session  {first}" in shown.stdout
    assert "=== Turn 1 (latest): completed ===" in shown.stdout
    assert shown.stdout.endswith("user: follow up\nassistant: READY\n")

    as_json = orjson.loads(
        run_cli(cli, "sessions", "show", first, "--turn", "0", "--json", "--store", str(db)).stdout
    )
    assert [t["index"] for t in as_json["turns"]] == [0, 1]
    assert [b["kind"] for b in as_json["turn"]["turn"]["blocks"]] == ["system", "user", "llm_text"]

    recent = orjson.loads(
        run_cli(cli, "sessions", "list", "--since", "1h", "--json", "--store", str(db)).stdout
    )
    assert len(recent) == 2
    old = orjson.loads(
        run_cli(cli, "sessions", "list", "--until", "2000-01-01", "--json", "--store", str(db)).stdout
    )
    assert old == []


def test_sessions_export_fork_and_delete(cli: list[str], db: Path, tmp_path: Path) -> None:
    first, second = seed_sessions(db)
    exported = run_cli(cli, "sessions", "export", first, "--format", "json", "--store", str(db))
    document = orjson.loads(exported.stdout)
    assert document["session"]["id"] == first and len(document["turns"]) == 2

    latest_file = tmp_path / "latest.yaml"
    written = run_cli(
        cli, "sessions", "export", first, "--latest", "-o", str(latest_file), "--store", str(db)
    )
    assert written.returncode == 0, written.stderr
    assert [b.text for b in from_yaml(latest_file.read_text()).blocks][-2:] == ["follow up", "READY"]

    forked = run_cli(cli, "sessions", "fork", first, "--at", "0", "--json", "--store", str(db))
    assert forked.returncode == 0, forked.stderr
    fork_info = orjson.loads(forked.stdout)
    assert fork_info["forked_from_session"] == first and fork_info["turn_count"] == 1

    deleted = run_cli(cli, "sessions", "delete", first, "--yes", "--store", str(db))
    assert deleted.stdout == f"deleted session {first} (2 turns)\n"
    remaining = orjson.loads(run_cli(cli, "sessions", "list", "--json", "--store", str(db)).stdout)
    assert sorted(row["id"] for row in remaining) == sorted([second, fork_info["id"]])
    with TurnStore(db) as store:
        assert [b.text for b in store.load_turns(fork_info["id"])[0].blocks] == [
            "sys",
            "first question",
            "READY",
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sessions", "show", "nope"), "error: no stored session 'nope' in "),
        (("sessions", "delete", "nope", "--yes"), "error: no stored session 'nope' in "),
        (
            ("sessions", "fork", "11111111-aaaa", "--at", "7"),
            "error: session 11111111-aaaa has 2 stored turns",
        ),
        (("sessions", "list", "--since", "yesterday"), "error: cannot read time 'yesterday'"),
    ],
)
def test_sessions_errors_are_one_line(cli: list[str], db: Path, args: tuple[str, ...], message: str) -> None:
    seed_sessions(db)
    result = run_cli(cli, *args, "--store", str(db))
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_sessions_on_missing_corrupt_and_newer_stores(cli: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    assert (
        run_cli(cli, "sessions", "list", "--store", str(missing)).stdout
        == f"no stored sessions in {missing}\n"
    )
    assert not missing.exists()
    shown = run_cli(cli, "sessions", "show", "abc", "--store", str(missing))
    assert shown.returncode == 1 and "does not exist yet" in shown.stderr

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 1000)
    result = run_cli(cli, "sessions", "list", "--store", str(corrupt))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: turn store {corrupt} is corrupt")

    newer = tmp_path / "newer.db"
    TurnStore(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES ('0099_future', 0)")
    result = run_cli(cli, "chat", "--store", str(newer), stdin="hi\n")
    assert result.returncode == 1
    assert "was written by a newer geppetto" in result.stderr and "Traceback" not in result.stderr


# -- rpc ---------------------------------------------------------------------------------------


class Rpc:
    """A ``geppetto rpc`` subprocess: send requests, read response lines."""

    def __init__(self, cli: list[str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [*cli, "rpc", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=default_sigint,
        )
        self.ready = self.read()

    def send(self, request: dict[str, Any] | bytes) -> None:
        assert self.proc.stdin is not None
        line = request if isinstance(request, bytes) else orjson.dumps(request)
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "rpc closed its output"
        message: dict[str, Any] = orjson.loads(line)
        return message

    def read_until(self, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        messages = [self.read()]
        while not done(messages[-1]):
            messages.append(self.read())
        return messages

    def finish(self) -> tuple[int, list[dict[str, Any]]]:
        """Close stdin and collect the remaining lines; the exit status must be 0."""
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err.decode()
        return self.proc.returncode, [orjson.loads(line) for line in out.splitlines()]


def ends(request_id: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("id") == request_id and message["type"] in ("result", "error")


def test_rpc_round_trips(cli: list[str], db: Path) -> None:
    rpc = Rpc(cli, "--store", str(db))
    assert rpc.ready == {"type": "ready", "version": "0.1.0", "store": str(db)}

    rpc.send({"id": 1, "method": "run", "params": {"prompt": "hi"}})
    messages = rpc.read_until(ends(1))
    *events, result = messages
    assert [m["event"]["type"] for m in events] == ["start", "partial", "final"]
    assert result["type"] == "result" and result["outcome"] == "completed" and result["text"] == "READY"
    session_id = result["session"]
    assert all(m["session"] == session_id for m in messages)

    rpc.send(
        {"id": 2, "method": "run", "params": {"session": session_id, "prompt": "again", "system": "brief"}}
    )
    result = rpc.read_until(ends(2))[-1]
    assert [b["kind"] for b in result["turn"]["blocks"]] == ["system", "user", "llm_text", "user", "llm_text"]

    rpc.send(b"{not json")
    assert rpc.read()["error"]["code"] == "bad_request"
    rpc.send(b'["a list"]')
    assert rpc.read() == {
        "type": "error",
        "id": None,
        "error": {"code": "bad_request", "message": "line 4: a request must be a JSON object"},
    }
    rpc.send({"id": 3, "method": "dance"})
    assert rpc.read()["error"]["code"] == "unknown_method"
    rpc.send({"id": 4, "method": "run", "params": {"session": "no-such-session", "prompt": "x"}})
    assert rpc.read()["error"]["code"] == "session_not_found"
    rpc.send({"id": 5, "method": "run", "params": {}})
    assert rpc.read()["error"]["code"] == "bad_request"

    rpc.send({"id": 6, "method": "history", "params": {"session": session_id}})
    history = rpc.read()
    assert history["type"] == "result" and len(history["turns"]) == 2
    assert history["turns"][-1] == result["turn"]
    rpc.send({"id": 7, "method": "sessions"})
    assert [s["id"] for s in rpc.read()["sessions"]] == [session_id]
    assert rpc.finish() == (0, [])

    # a new process resumes the stored session by id prefix, or creates one with a chosen id
    rpc = Rpc(cli, "--store", str(db))
    rpc.send({"id": "a", "method": "run", "params": {"session": session_id[:8], "prompt": "third"}})
    resumed = rpc.read_until(ends("a"))[-1]
    assert resumed["session"] == session_id
    assert [b["payload"]["text"] for b in resumed["turn"]["blocks"] if b["kind"] == "user"] == [
        "hi",
        "again",
        "third",
    ]
    rpc.send({"id": "b", "method": "run", "params": {"session": "mine", "create": True, "prompt": "x"}})
    # end of input: the run in flight still completes and reports before the process exits
    _, rest = rpc.finish()
    assert rest[-1]["id"] == "b" and rest[-1]["type"] == "result" and rest[-1]["session"] == "mine"
    with TurnStore(db) as store:
        assert len(store.load_turns(session_id)) == 3
        assert store.session_info("mine").turn_count == 1


def test_rpc_cancel_records_the_partial_reply(cli: list[str], db: Path) -> None:
    rpc = Rpc(cli, "--ai-api-type", "slow-echo", "--store", str(db))
    rpc.send({"id": "r", "method": "run", "params": {"prompt": "hi"}})
    first_word = rpc.read_until(lambda m: m.get("event", {}).get("type") == "partial")[-1]
    session_id = first_word["session"]
    assert first_word["event"]["delta"] == "one"

    rpc.send({"id": "busy", "method": "run", "params": {"session": session_id, "prompt": "more"}})
    rpc.send({"id": "c", "method": "cancel", "params": {"session": session_id}})
    replies = {m["id"]: m for m in rpc.read_until(ends("r")) if m["type"] != "event"}
    assert replies["busy"]["error"]["code"] == "session_already_active"
    assert replies["c"] == {"type": "result", "id": "c", "session": session_id, "cancelled": True}
    cancelled = replies["r"]
    assert cancelled["type"] == "error" and cancelled["outcome"] == "cancelled"
    assert cancelled["error"] == {"code": "cancelled", "message": "inference cancelled"}
    assert cancelled["turn"]["blocks"][-1]["payload"]["text"] == "one"

    rpc.send({"id": "idle", "method": "cancel", "params": {"session": session_id}})
    assert rpc.read()["error"]["code"] == "session_not_active"
    assert rpc.finish() == (0, [])
    with TurnStore(db) as store:
        latest = store.latest(session_id)
    assert latest is not None and (latest.outcome, latest.finish_class) == ("cancelled", "interrupted")


def test_rpc_sigint_cancels_and_records_the_runs_in_flight(cli: list[str], db: Path) -> None:
    rpc = Rpc(cli, "--ai-api-type", "slow-echo", "--store", str(db))
    rpc.send({"id": "r", "method": "run", "params": {"prompt": "hi"}})
    session_id = rpc.read_until(lambda m: m.get("event", {}).get("type") == "partial")[-1]["session"]
    rpc.proc.send_signal(signal.SIGINT)
    out, err = rpc.proc.communicate(timeout=60)
    assert rpc.proc.returncode == 130 and "Traceback" not in err.decode()
    last = [orjson.loads(line) for line in out.splitlines() if b'"event"' not in line][-1]
    assert (last["id"], last["outcome"]) == ("r", "cancelled")
    with TurnStore(db) as store:
        latest = store.latest(session_id)
    assert latest is not None and latest.outcome == "cancelled"


# -- chat --------------------------------------------------------------------------------------


def spawn_chat(cli: list[str], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        cli[0], [*cli[1:], "chat", *args], encoding="utf-8", timeout=30, preexec_fn=default_sigint
    )
    child.expect_exact("/help for commands")
    return child


def test_chat_ctrl_c_stops_the_reply_and_keeps_the_repl(cli: list[str], db: Path) -> None:
    child = spawn_chat(cli, "--ai-api-type", "slow-echo", "--store", str(db))
    transcript = io.StringIO()
    child.logfile_read = transcript
    child.expect_exact("> ")
    child.sendline("hi")
    child.expect_exact("one")  # the first streamed word
    child.sendintr()
    child.expect_exact("[interrupted]")
    child.expect_exact("> ")
    child.sendline("/session")
    child.expect(r"session (\S+): 1 turn,")
    session_id = child.match.group(1)
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "two" not in transcript.getvalue()  # the rest of the reply never came

    with TurnStore(db) as store:
        latest = store.latest(session_id)
    assert latest is not None and latest.turn is not None
    assert (latest.outcome, latest.finish_class) == ("cancelled", "interrupted")
    assert latest.turn.blocks[-1].kind is BlockKind.LLM_TEXT and latest.turn.blocks[-1].text == "one"


def test_chat_multiline_commands_and_resume(cli: list[str], db: Path, tmp_path: Path) -> None:
    child = spawn_chat(cli, "--store", str(db), "--system", "be brief")
    child.expect_exact("> ")
    child.sendline("hello")
    child.expect_exact("READY")
    child.expect_exact("> ")
    child.sendline("line one \\")
    child.expect_exact("... ")
    child.sendline("line two")
    child.expect_exact("READY")
    child.sendline('"""')
    child.sendline("pasted a")
    child.sendline("pasted b")
    child.sendline('"""')
    child.expect_exact("READY")
    child.sendline("/system be verbose")
    child.expect_exact("system prompt set")
    child.sendline("fourth")
    child.expect_exact("READY")
    saved = tmp_path / "latest.json"
    child.sendline(f"/save {saved}")
    child.expect_exact("saved the latest turn")
    child.sendline("/nonsense")
    child.expect_exact("unknown command /nonsense")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    with TurnStore(db) as store:
        session_id = store.latest_session_id()
        assert session_id is not None
        turns = store.load_turns(session_id)
    assert len(turns) == 4
    users = [b.text for b in turns[-1].blocks if b.kind is BlockKind.USER]
    assert users == ["hello", "line one \nline two", "pasted a\npasted b", "fourth"]
    assert [b.text for b in turns[-1].blocks if b.kind is BlockKind.SYSTEM] == ["be verbose"]
    assert [b.text for b in turns[0].blocks if b.kind is BlockKind.SYSTEM] == ["be brief"]
    assert orjson.loads(saved.read_text())["id"] == turns[-1].id

    # --continue picks the session up again; /fork continues in a new session sharing history
    child = spawn_chat(cli, "--store", str(db), "--continue")
    assert f"session {session_id} (resumed, 4 turns)" in (child.before or "")
    child.sendline("/fork 1")
    child.expect(r"now chatting in (\S+)\r?\n")
    fork_id = child.match.group(1)
    child.sendline("in the fork")
    child.expect_exact("READY")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    with TurnStore(db) as store:
        forked = store.load_turns(fork_id)
        assert len(store.load_turns(session_id)) == 4
    users = [b.text for b in forked[-1].blocks if b.kind is BlockKind.USER]
    assert users == ["hello", "line one \nline two", "in the fork"]


def test_chat_resume_errors(cli: list[str], db: Path) -> None:
    result = run_cli(cli, "chat", "--store", str(db), "--session", "nope", stdin="")
    assert result.returncode == 1 and result.stderr.startswith("error: no stored session 'nope'")
    result = run_cli(cli, "chat", "--store", str(db), "--continue", stdin="")
    assert result.returncode == 1 and "no stored session in" in result.stderr
    result = run_cli(cli, "chat", "--no-store", "--continue", stdin="")
    assert result.returncode == 1 and "need a turn store" in result.stderr


def test_chat_ctrl_c_at_the_prompt_quits(cli: list[str], db: Path) -> None:
    child = spawn_chat(cli, "--store", str(db))
    child.expect_exact("> ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_chat_reads_piped_input_without_a_store(cli: list[str]) -> None:
    result = run_cli(cli, "chat", "--no-store", stdin="hi\n/fork\nthere\n/session\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("READY\n") == 2
    assert "now chatting in" in result.stdout
    assert ": 2 turns, store: not stored (--no-store)" in result.stdout


# -- sessions delete asks first (issue 15, defect 10) ------------------------------------------


def _two_sessions(cli: list[str], db: Path) -> list[str]:
    for prompt in ("first", "second"):
        assert run_cli(cli, "infer", prompt, "--store", str(db)).returncode == 0
    listed = run_cli(cli, "sessions", "list", "--json", "--store", str(db))
    return [row["id"] for row in orjson.loads(listed.stdout)]


def test_delete_without_a_terminal_needs_yes(cli: list[str], db: Path) -> None:
    ids = _two_sessions(cli, db)
    # the shortest prefix naming only the first session (one character unless the ids share it)
    prefix = next(ids[0][:n] for n in range(1, len(ids[0]) + 1) if not ids[1].startswith(ids[0][:n]))
    refused = run_cli(cli, "sessions", "delete", prefix, "--store", str(db), stdin="y\n")
    assert refused.returncode == 1
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert len(orjson.loads(run_cli(cli, "sessions", "list", "--json", "--store", str(db)).stdout)) == 2


def test_delete_refuses_an_ambiguous_prefix_even_with_yes(cli: list[str], db: Path) -> None:
    with TurnStore(db) as store:
        for session_id in ("abc-1", "abc-2"):
            store.persist_turn(session_id, Turn.builder().user("hi").build(), outcome="completed", error=None)
    refused = run_cli(cli, "sessions", "delete", "abc", "--yes", "--store", str(db))
    assert refused.returncode == 1 and "ambiguous" in refused.stderr
    assert len(orjson.loads(run_cli(cli, "sessions", "list", "--json", "--store", str(db)).stdout)) == 2


@pytest.mark.parametrize(("answer", "deleted"), [("n", False), ("", False), ("y", True)])
def test_delete_on_a_terminal_asks_for_confirmation(
    cli: list[str], db: Path, answer: str, deleted: bool
) -> None:
    ids = _two_sessions(cli, db)
    child = pexpect.spawn(
        cli[0], [*cli[1:], "sessions", "delete", ids[0], "--store", str(db)], encoding="utf-8", timeout=30
    )
    child.expect_exact("[y/N]")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == (0 if deleted else 1)
    remaining = orjson.loads(run_cli(cli, "sessions", "list", "--json", "--store", str(db)).stdout)
    assert len(remaining) == (1 if deleted else 2)


def test_chat_starts_with_the_default_system_prompt_like_infer(cli: list[str], db: Path) -> None:
    shown = run_cli(cli, "chat", "--store", str(db), stdin="/system\n")
    assert "system prompt: 'You are a helpful assistant. Answer the question" in shown.stdout
    assert "no system prompt" in run_cli(cli, "chat", "--system", "", "--no-store", stdin="/system\n").stdout
    run_cli(cli, "chat", "--store", str(db), stdin="hello\n")
    with TurnStore(db) as store:
        turn = store.load_turns(store.latest_session_id() or "")[-1]
    assert [b.kind for b in turn.blocks][:2] == [BlockKind.SYSTEM, BlockKind.USER]
