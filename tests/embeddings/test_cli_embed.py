"""``geppetto embed`` and ``geppetto rerank`` end to end against loopback servers."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .loopback import Loopback, ThreadedLoopback, fixture, vector_for


@pytest.fixture
def server() -> Iterator[Loopback]:
    with ThreadedLoopback() as loop:
        loop.rerank_shape = fixture("llamacpp_rerank.json")
        yield loop


def registry(tmp_path: Path, server: Loopback) -> Path:
    profiles = {
        "emb": {
            "inference_settings": {
                "api": {"base_urls": {"ollama-base-url": server.url}},
                "embeddings": {
                    "type": "ollama",
                    "engine": "all-minilm",
                    "dimensions": 4,
                    "cache_type": "file",
                    "cache_directory": str(tmp_path / "cache"),
                },
            }
        },
        "rr": {
            "inference_settings": {
                "api": {
                    "base_urls": {"rerank-base-url": server.url},
                    "allow_http": {"rerank": True},
                    "allow_local_networks": {"rerank": True},
                },
                "rerank": {"type": "llamacpp", "engine": "bge"},
            }
        },
    }
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump({"slug": "cli", "profiles": profiles}))
    return path


def geppetto(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINOCCHIO_")}
    env["HOME"] = str(tmp_path)
    src = str(Path(__file__).resolve().parents[2] / "src")  # this checkout's sources, whatever the cwd
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "geppetto", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def test_embed_text_stdin_file_and_cache(tmp_path: Path, server: Loopback) -> None:
    reg = str(registry(tmp_path, server))
    common = ["--profile-registries", reg, "--profile", "emb"]
    one = geppetto(tmp_path, "embed", "hello", *common)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == vector_for("hello")
    piped = geppetto(tmp_path, "embed", "-", *common, stdin="from stdin")
    assert json.loads(piped.stdout) == vector_for("from stdin")
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "x", "text": "hello"}\n"plain json string"\n\nnot json at all\n')
    many = geppetto(tmp_path, "embed", "--file", str(inputs), *common, "--json")
    assert many.returncode == 0, many.stderr
    doc = json.loads(many.stdout)
    assert doc["model"] == {"provider": "ollama", "name": "all-minilm", "dimensions": 4}
    assert [(d["id"], d["embedding"]) for d in doc["data"]] == [
        ("x", vector_for("hello")),
        ("2", vector_for("plain json string")),
        ("4", vector_for("not json at all")),
    ]
    sent = [text for request in server.requests for text in request["input"]]
    assert sent.count("hello") == 1  # the second "hello" came from the file cache
    lines = geppetto(tmp_path, "embed", "--file", str(inputs), *common, "--no-cache")
    assert [json.loads(line)["id"] for line in lines.stdout.splitlines()] == ["x", "2", "4"]
    assert sum(len(r["input"]) for r in server.requests) == len(sent) + 3


def test_embed_errors_are_one_line(tmp_path: Path, server: Loopback) -> None:
    reg = str(registry(tmp_path, server))
    neither = geppetto(tmp_path, "embed", "--profile-registries", reg, "--profile", "emb")
    assert neither.returncode == 1 and "give a TEXT" in neither.stderr
    wrong = geppetto(tmp_path, "embed", "x", "--profile-registries", reg, "--profile", "rr")
    assert wrong.returncode == 1 and "missing inference_settings.embeddings" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_rerank_table_and_json(tmp_path: Path, server: Loopback) -> None:
    reg = str(registry(tmp_path, server))
    docs = tmp_path / "docs.txt"
    docs.write_text(
        "bananas are yellow\nthe blue sea\n" + json.dumps({"id": "w", "text": "blue whales"}) + "\n"
    )
    table = geppetto(
        tmp_path, "rerank", "blue sea", "--docs", str(docs), "--profile-registries", reg, "--profile", "rr"
    )
    assert table.returncode == 0, table.stderr
    rows = [line.split(None, 3) for line in table.stdout.splitlines()]
    assert [(r[0], r[2]) for r in rows] == [("1", "2"), ("2", "w"), ("3", "1")]
    out = geppetto(
        tmp_path,
        "rerank",
        "blue sea",
        "--docs",
        str(docs),
        "--top-n",
        "1",
        "--json",
        "--profile-registries",
        reg,
        "--profile",
        "rr",
    )
    response = json.loads(out.stdout)
    assert [(r["document_id"], r["rank"]) for r in response["results"]] == [("2", 1)]
    assert response["provider"] == "llama.cpp" and response["usage"]["input_tokens"] == 51
    bad = geppetto(
        tmp_path,
        "rerank",
        "q",
        "--docs",
        str(docs),
        "--top-n",
        "9",
        "--profile-registries",
        reg,
        "--profile",
        "rr",
    )
    assert bad.returncode == 1 and "top_n (9) must be <= number of documents (3)" in bad.stderr


def test_rerank_table_shows_control_characters_of_documents(tmp_path: Path, server: Loopback) -> None:
    reg = str(registry(tmp_path, server))
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps({"id": "t\u001b]0;owned\u0007", "text": "blue \u001b[2J sea"}) + "\nthe blue sea\n"
    )
    table = geppetto(
        tmp_path, "rerank", "blue sea", "--docs", str(docs), "--profile-registries", reg, "--profile", "rr"
    )
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "t\u241b]0;owned\u2407" in table.stdout and "blue \u241b[2J sea" in table.stdout


def test_input_files_are_read_within_their_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import geppetto.inputs
    from geppetto.cli.embed import read_inputs
    from geppetto.errors import ConfigError

    docs = tmp_path / "docs.jsonl"
    docs.write_text('"a\u2028b"\r\nplain line\n' + json.dumps({"id": "x", "text": "t"}) + "\n")
    assert read_inputs(str(docs)) == [("1", "a\u2028b"), ("2", "plain line"), ("x", "t")]
    small = dataclasses.replace(geppetto.inputs.LIMITS, text_file=16)
    monkeypatch.setattr(geppetto.inputs, "LIMITS", small)
    with pytest.raises(ConfigError, match=r"--docs .*docs\.jsonl is larger than the 16 bytes limit"):
        read_inputs(str(docs), "--docs")
    monkeypatch.setattr(sys, "stdin", io.StringIO("x" * 17))
    with pytest.raises(ConfigError, match="--file on stdin is larger than the 16 bytes limit"):
        read_inputs("-")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_long_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    from geppetto.cli.embed import PROGRESS_MIN, progress_bar

    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    with progress_bar(PROGRESS_MIN, "embedding") as advance:
        advance(PROGRESS_MIN)
    assert "embedding" in tty.getvalue()
    short = FakeTTY()
    monkeypatch.setattr(sys, "stderr", short)
    with progress_bar(PROGRESS_MIN - 1, "embedding") as advance:
        advance(1)
    assert short.getvalue() == ""
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with progress_bar(10 * PROGRESS_MIN, "embedding") as advance:
        advance(10 * PROGRESS_MIN)
    assert piped.getvalue() == ""
