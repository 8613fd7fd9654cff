from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from geppetto.turns import Block, Turn, from_yaml, save_turn
from tests.signals import default_sigint

GEPPETTO = [sys.executable, "-m", "geppetto"]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GEPPETTO, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_infer_on_echo_prints_the_reference_final_turn() -> None:
    result = run_cli("infer", "Reply with exactly READY.", "--ai-api-type", "echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "\n=== Final Turn ===\n"
        "system: You are a helpful assistant. Answer the question in a short and concise manner. \n"
        "user: Reply with exactly READY.\n"
        "assistant: READY\n"
    )


def test_infer_stream_with_json_output_prints_only_the_json_document() -> None:
    result = run_cli("infer", "hi", "--ai-api-type", "echo", "--stream", "--output", "json", "--system", "")
    assert result.returncode == 0, result.stderr
    turn = orjson.loads(result.stdout)  # stdout is one JSON document (stderr is no terminal: no live text)
    assert "READY" not in result.stderr
    assert [b["kind"] for b in turn["blocks"]] == ["user", "llm_text"]
    assert turn["metadata"]["geppetto.inference_result@v1"]["finish_class"] == "completed"


def test_infer_yaml_output_round_trips() -> None:
    result = run_cli("infer", "hi", "--ai-api-type", "echo", "--output", "yaml")
    assert result.returncode == 0, result.stderr
    assert from_yaml(result.stdout).blocks[-1].text == "READY"


def test_infer_reads_the_prompt_from_stdin() -> None:
    result = run_cli("infer", "--ai-api-type", "echo", stdin="piped prompt\n")
    assert result.returncode == 0, result.stderr
    assert "user: piped prompt\n" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("infer", "hi", "--ai-api-type", "bogus"), "error: failed to create engine: unknown provider bogus"),
        (("infer", "   "), "error: the prompt is empty"),
        (("infer", "hi", "--ai-engine", "/nonexistent/model.gguf"), "error: failed to create engine: "),
        (("turns", "show", "/nonexistent/turn.yaml"), "error: cannot read turn file /nonexistent/turn.yaml"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_fails() -> None:
    result = run_cli()
    assert result.returncode == 2 and "infer" in result.stderr


def test_turns_show_formats(tmp_path: Path) -> None:
    path = tmp_path / "turn.json"
    save_turn(path, Turn([Block.system("s"), Block.tool_call("c1", "add", {"a": 1})], id="t1"))
    pretty = run_cli("turns", "show", str(path), "--ids")
    assert pretty.returncode == 0, pretty.stderr
    assert pretty.stdout.splitlines()[0] == "turn id=t1"
    assert '  args: {"a":1}' in pretty.stdout
    lines = run_cli("turns", "show", str(path), "--format", "lines")
    assert lines.stdout == "system: s\ntool_call: add\n"
    yaml_text = path.read_text()
    assert run_cli("turns", "show", "-", "--format", "json", stdin=yaml_text).returncode == 0


def test_turns_show_reports_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("blocks:\n  - kind: user\n    payload: [oops]\n")
    result = run_cli("turns", "show", str(bad))
    assert result.returncode == 1
    assert "bad.yaml: blocks[0].payload must be a mapping" in result.stderr


SLOW_CLI = textwrap.dedent(
    """
    import sys
    from geppetto.cli import main
    from geppetto.engines import EchoEngine, register_engine_factory
    register_engine_factory("slow-echo", lambda model="", **o: EchoEngine("one two three four", delay_ms=400))
    sys.exit(main(sys.argv[1:]))
    """
)


def test_ctrl_c_cancels_the_run_and_prints_the_partial_turn(tmp_path: Path) -> None:
    script = tmp_path / "slow_cli.py"
    script.write_text(SLOW_CLI)
    proc = subprocess.Popen(
        [sys.executable, str(script), "infer", "hi", "--ai-api-type", "slow-echo", "--stream"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=default_sigint,
    )
    assert proc.stdout is not None
    first = proc.stdout.read(3)  # the first streamed word
    assert first == "one"
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert "=== Final Turn ===" in out
    assert "\nassistant: one" in out
    assert "four" not in out


def test_infer_defaults_to_the_embedded_local_model_offline() -> None:
    result = run_cli("infer", "What is the capital of France?", "--output", "json", "--no-store")
    assert result.returncode == 0, result.stderr
    turn = orjson.loads(result.stdout)
    reply = turn["blocks"][-1]
    assert reply["kind"] == "llm_text" and reply["payload"]["text"].strip()
    result_meta = turn["metadata"]["geppetto.inference_result@v1"]
    assert result_meta["provider"] == "local" and result_meta["finish_class"] in ("completed", "max_tokens")
