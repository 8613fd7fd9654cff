"""Every input path has a documented size limit, refused with a clear error and bounded memory
(issue 15, defect 9), and ``turns show`` says what is wrong with an empty or block-less file (13)."""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from geppetto.inputs import LIMITS, InputTooLarge, read_file_text, read_line, read_stream_text

SRC = Path(__file__).resolve().parents[2] / "src"
MEMORY_CAP = 1 << 30  # 1 GiB of address space: reading /dev/zero to the end would blow through it


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def geppetto(
    *args: str, stdin: int | None = None, data: bytes | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "geppetto", *args],
        stdin=stdin, input=data, capture_output=True, env=env, timeout=120, preexec_fn=_cap_memory,
    )  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess[bytes], what: str, limit: str) -> None:
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert what in err and f"is larger than the {limit} limit" in err, err
    assert "Traceback" not in err and "MemoryError" not in err


def test_turns_show_refuses_an_endless_file() -> None:
    assert_refused(geppetto("turns", "show", "/dev/zero"), "turn file /dev/zero", "64 MiB")


def test_turns_show_refuses_an_endless_stdin() -> None:
    with open("/dev/zero", "rb") as zero:
        assert_refused(geppetto("turns", "show", "-", stdin=zero.fileno()), "turn on stdin", "64 MiB")


def test_infer_refuses_an_endless_prompt_on_stdin() -> None:
    with open("/dev/zero", "rb") as zero:
        result = geppetto("infer", "--ai-api-type", "echo", "--no-store", stdin=zero.fileno())
    assert_refused(result, "prompt on stdin", "16 MiB")


def test_js_run_refuses_an_endless_script() -> None:
    assert_refused(geppetto("js", "run", "/dev/zero", "--no-store"), "script /dev/zero", "16 MiB")


def test_profile_and_config_files_are_bounded(tmp_path: Path) -> None:
    listed = geppetto("profiles", "list", "--profile-file", "/dev/zero", home=tmp_path)
    assert "profile or config file /dev/zero is larger than the 16 MiB limit" in listed.stderr.decode()
    run = ("infer", "--ai-api-type", "echo", "hi", "--no-store")
    assert_refused(geppetto(*run, "--profile-file", "/dev/zero", home=tmp_path), "/dev/zero", "16 MiB")
    assert_refused(geppetto(*run, "--config-file", "/dev/zero", home=tmp_path), "/dev/zero", "16 MiB")


def test_rpc_answers_an_overlong_line_with_an_error_and_goes_on() -> None:
    overlong = b"x" * (LIMITS.rpc_line + 10) + b"\n"
    request = orjson.dumps({"id": 2, "method": "sessions", "params": {}}) + b"\n"
    result = geppetto("rpc", "--ai-api-type", "echo", "--no-store", data=overlong + request)
    assert result.returncode == 0, result.stderr.decode()
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["type"] == "ready"
    assert lines[1]["type"] == "error" and lines[1]["error"]["code"] == "bad_request"
    assert "line 1 is larger than the 64 MiB limit" in lines[1]["error"]["message"]
    assert lines[2] == {"type": "result", "id": 2, "sessions": []}


def test_readers_take_at_most_the_limit_plus_one_byte(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abcd")
    assert read_file_text(path, 4, "file") == "abcd"
    with pytest.raises(InputTooLarge, match=f"file {path} is larger than the 3 bytes limit"):
        read_file_text(path, 3, "file")
    stream = io.BytesIO(b"abcdef")
    with pytest.raises(InputTooLarge, match="prompt is larger than the 5 bytes limit"):
        read_stream_text(stream, 5, "prompt")
    assert stream.tell() == 6  # limit + 1, not more
    lines = io.BytesIO(b"short\n" + b"y" * 50 + b"\nnext\nlast")
    assert read_line(lines, 10) == (b"short\n", True)
    assert read_line(lines, 10) == (b"", False)
    assert read_line(lines, 10) == (b"next\n", True)
    assert read_line(lines, 10) == (b"last", True)
    assert read_line(lines, 10) == (b"", True)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.yaml", "", "is empty: expected a turn"),
        ("blank.json", "  \n", "is empty: expected a turn"),
        ("null.yaml", "null\n", "is empty: expected a turn"),
        ("nulls.yaml", "blocks: null\n", "turn.blocks is null: expected a list of blocks"),
        ("noblocks.json", '{"id": "t1"}', "has no blocks: expected a list of blocks"),
    ],
)
def test_turns_show_says_what_is_wrong_with_an_empty_turn(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = geppetto("turns", "show", str(path))
    assert result.returncode == 1
    assert message in result.stderr.decode() and str(path) in result.stderr.decode()


def test_turns_show_accepts_an_explicitly_empty_block_list(tmp_path: Path) -> None:
    path = tmp_path / "none.yaml"
    path.write_text("blocks: []\n")
    assert geppetto("turns", "show", str(path)).returncode == 0


def test_turns_show_lines_format_honours_ids_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "id: turn-1\nmetadata: {note: kept}\nblocks:\n"
        "  - {kind: user, id: block-1, payload: {text: hello}, metadata: {m: 1}}\n"
    )
    plain = geppetto("turns", "show", str(path), "--format", "lines").stdout.decode()
    assert plain == "user: hello\n"
    result = geppetto("turns", "show", str(path), "--format", "lines", "--ids", "--metadata")
    detailed = result.stdout.decode()
    assert "turn id=turn-1" in detailed and "id=block-1 user: hello" in detailed
    assert "note" in detailed and "kept" in detailed


@pytest.mark.parametrize(
    ("raw_id", "kind"), [({"a": 1}, "an object"), ([1, 2], "an array"), (True, "a boolean")]
)
def test_rpc_refuses_a_non_scalar_request_id(raw_id: object, kind: str) -> None:
    request = orjson.dumps({"id": raw_id, "method": "sessions", "params": {}}) + b"\n"
    result = geppetto("rpc", "--ai-api-type", "echo", "--no-store", data=request)
    assert result.returncode == 0, result.stderr.decode()
    answer = orjson.loads(result.stdout.splitlines()[1])
    assert answer["type"] == "error" and answer["id"] is None
    assert answer["error"]["code"] == "bad_request"
    assert f"line 1: id must be a string or a number, got {kind}" in answer["error"]["message"]
