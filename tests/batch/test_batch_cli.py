"""``geppetto batch`` end to end: bad lines, fail-fast, resume (after ``kill -9`` too), stdout
output, templates and schemas, the progress bar, and executor options that do not fit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pexpect
import pytest

from geppetto.cli import main
from tests.batch.loopback import LoopbackServer, openai_args
from tests.signals import default_sigint

GEPPETTO = [sys.executable, "-m", "geppetto"]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows))
    return path


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_bad_lines_are_reported_with_their_line_and_the_rest_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "a", "prompt": "one"},
            b"{oops",
            {"prompt": "no id"},
            {"id": "a", "prompt": "dup"},
            {"id": "p", "prompt": "x", "profile": "missing-profile"},
            {"id": "b", "prompt": "two"},
        ],
    )
    out = tmp_path / "out.jsonl"
    rc = main(["batch", str(src), "-o", str(out), "--ai-api-type", "echo"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"error: {src}:2: invalid JSON" in err
    assert f"error: {src}:3: missing 'id'" in err
    assert f"error: {src}:4: duplicate id 'a' (first at {src}:1)" in err
    assert f"error: {src}:5: profile missing-profile not found" in err
    assert "batch: 2 ok, 0 failed, 4 bad input" in err
    assert sorted(r["id"] for r in records(out)) == ["a", "b"]
    assert all(r["status"] == "ok" and r["answer"] == "READY" for r in records(out))


def test_fail_fast_stops_before_running_when_a_line_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "x"}, {"prompt": "no id"}])
    out = tmp_path / "out.jsonl"
    rc = main(["batch", str(src), "-o", str(out), "--ai-api-type", "echo", "--fail-fast"])
    err = capsys.readouterr().err
    assert rc == 1
    assert f"{src}:2: missing 'id'" in err
    assert "1 bad input line(s); nothing was run (--fail-fast)" in err
    assert not out.exists()


def test_fail_fast_stops_at_the_first_failed_item(
    tmp_path: Path, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"id": n, "prompt": "FAIL" if n == 2 else f"p{n}"} for n in range(6)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["batch", str(src), "-o", str(out), *openai_args(server), "--concurrency", "1", "--fail-fast"]
    rc = main(args)
    capsys.readouterr()
    assert rc == 1
    assert [(r["id"], r["status"]) for r in records(out)] == [(0, "ok"), (1, "ok"), (2, "error")]
    # The item after the failure may have started before the stop; it is cancelled, not written.
    assert server.prompts()[:3] == ["p0", "p1", "FAIL"]
    assert len(server.seen) <= 4


def test_resume_skips_done_items_and_retry_failed_runs_the_failures_again(
    tmp_path: Path, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "p1"}, {"id": 2, "prompt": "FAIL"}])
    out = tmp_path / "out.jsonl"
    base = ["batch", str(src), "-o", str(out), *openai_args(server)]
    assert main(base) == 1
    failed = [r for r in records(out) if r["status"] == "error"]
    assert [r["id"] for r in failed] == [2]
    assert "HTTP 400" in failed[0]["error"]
    assert main(base) == 0  # everything has a record: nothing to run
    assert "resuming" in capsys.readouterr().err
    assert len(server.seen) == 2
    assert main([*base, "--retry-failed"]) == 1
    assert server.prompts() == ["p1", "FAIL", "FAIL"]
    assert [r["id"] for r in records(out)] == [1, 2, 2] or [r["id"] for r in records(out)] == [2, 1, 2]


def test_a_torn_last_line_is_cut_before_appending(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "prompt": "x"} for n in range(3)])
    out = tmp_path / "out.jsonl"
    done = {"id": 0, "status": "ok", "answer": "READY"}
    out.write_bytes(orjson.dumps(done) + b'\n{"id": 1, "status": "o')
    assert main(["batch", str(src), "-o", str(out), "--ai-api-type", "echo", "-q"]) == 0
    assert capsys.readouterr().err == ""  # --quiet: nothing on stderr
    assert sorted(r["id"] for r in records(out)) == [0, 1, 2]


def test_output_that_is_not_a_batch_result_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "x"}])
    out = tmp_path / "notes.txt"
    out.write_text("dear diary\n")
    assert main(["batch", str(src), "-o", str(out), "--ai-api-type", "echo"]) == 1
    assert "line 1 is not a batch result" in capsys.readouterr().err
    assert out.read_text() == "dear diary\n"


def test_without_output_results_go_to_stdout_in_order(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "prompt": "x"} for n in range(5)])
    assert main(["batch", str(src), "--ai-api-type", "echo", "--ordered", "-q"]) == 0
    captured = capfd.readouterr()
    assert [orjson.loads(line)["id"] for line in captured.out.splitlines()] == [0, 1, 2, 3, 4]
    assert captured.err == ""


def test_template_and_schema_over_csv(
    tmp_path: Path, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,label\nx,spam\ny,ham\n")
    schema = {"type": "object", "properties": {"label": {"type": "string"}}, "required": ["label"]}
    schema_file = tmp_path / "schema.json"
    schema_file.write_bytes(orjson.dumps(schema))
    out = tmp_path / "out.jsonl"
    template = 'RAW:{{"label": "{label}"}}'
    args = ["batch", str(src), "-o", str(out), "--template", template, "--schema", str(schema_file)]
    assert main([*args, *openai_args(server), "--ordered"]) == 0, capsys.readouterr().err
    assert [(r["id"], r["parsed"]) for r in records(out)] == [
        ("x", {"label": "spam"}),
        ("y", {"label": "ham"}),
    ]
    body = server.seen[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema


def test_full_writes_the_final_turn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "hello", "system": "sys"}])
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(src), "-o", str(out), "--ai-api-type", "echo", "--full", "-q"]) == 0
    (record,) = records(out)
    kinds = [(b["kind"], b["payload"]["text"]) for b in record["turn"]["blocks"]]
    assert kinds == [("system", "sys"), ("user", "hello"), ("llm_text", "READY")]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--provider-batch"], "echo has no provider batch API"),
        (["--executor", "ray", "--provider-batch", "--address", "ray://x:1"], "not --provider-batch"),
        (["--address", "ray://x:1"], "--address is for --executor ray"),
    ],
)
def test_executor_options_that_do_not_fit_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "x"}])
    assert main(["batch", str(src), "--ai-api-type", "echo", *flags]) == 1
    assert message in capsys.readouterr().err


def test_schema_file_problems_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "x"}])
    bad = tmp_path / "schema.json"
    bad.write_text("[1]")
    assert main(["batch", str(src), "--ai-api-type", "echo", "--schema", str(bad)]) == 1
    assert "must hold a JSON object" in capsys.readouterr().err
    bad.write_text(" " * (16 << 20) + "{}")  # over the 16 MiB limit of a schema file
    assert main(["batch", str(src), "--ai-api-type", "echo", "--schema", str(bad)]) == 1
    assert "--schema " + str(bad) + " is larger than the 16 MiB limit" in capsys.readouterr().err


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path: Path, server: LoopbackServer) -> None:
    server.delay = 0.05
    total = 40
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"item-{n}", "prompt": f"p{n}"} for n in range(total)])
    out = tmp_path / "out.jsonl"
    command = [*GEPPETTO, "batch", str(src), "-o", str(out), *openai_args(server), "--concurrency", "4", "-q"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 8:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the batch ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    first_run = out.read_bytes().count(b"\n")
    assert 8 <= first_run < total
    time.sleep(0.2)  # the server reads any request the dead client had already sent
    seen_at_kill = len(server.seen)

    again = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    ids = [r["id"] for r in records(out)]
    assert len(ids) == total  # no item lost, none written twice
    assert sorted(ids) == sorted(f"item-{n}" for n in range(total))
    assert all(r["status"] == "ok" for r in records(out))
    # The second run asked the server for exactly what the first had not written: nothing on disk
    # is redone, so the only items the server saw twice are those in flight at the kill (running,
    # or answered and waiting for the group fsync; how many depends on the disk, not a constant).
    assert len(server.seen) - seen_at_kill == total - first_run


def test_ctrl_c_keeps_what_is_written_and_says_how_to_resume(tmp_path: Path, server: LoopbackServer) -> None:
    server.delay = 0.05
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "prompt": f"p{n}"} for n in range(200)])
    out = tmp_path / "out.jsonl"
    command = [*GEPPETTO, "batch", str(src), "-o", str(out), *openai_args(server), "--concurrency", "2"]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_sigint
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"run the same command to resume" in err
    ids = [r["id"] for r in records(out)]
    assert 4 <= len(ids) < 200 and len(set(ids)) == len(ids)


def test_progress_bar_and_summary_on_a_terminal(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "prompt": "x"} for n in range(30)])
    out = tmp_path / "out.jsonl"
    child = pexpect.spawn(
        GEPPETTO[0],
        [*GEPPETTO[1:], "batch", str(src), "-o", str(out), "--ai-api-type", "echo"],
        encoding="utf-8",
        timeout=60,
        dimensions=(24, 160),
    )
    child.expect_exact("30/30")
    child.expect(r"items/s")
    child.expect(r"batch: 30 ok, 0 failed in [0-9.]+s; [0-9.]+ items/s, 0 tokens \(0/s\), cost n/a")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_batch_whose_own_engine_cannot_be_built_fails_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "prompt": "x"} for n in range(50)])
    assert main(["batch", str(src), "--ai-api-type", "openai", "--ai-engine", "gpt-x"]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert "openai-api-key" in err


def test_limits_are_per_profile(
    tmp_path: Path, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "slug: team\nprofiles:\n"
        + "".join(
            f"  {name}:\n    inference_settings:\n"
            f"      chat: {{api_type: openai, engine: m}}\n"
            f"      api:\n        base_urls: {{openai-base-url: '{server.base_url}'}}\n"
            f"        api_keys: {{openai-api-key: sk-loopback}}\n"
            f"      client: {{max_retries: 0}}\n"
            for name in ("slow", "fast")
        )
    )
    rows = [{"id": f"{p}{n}", "prompt": f"{p}{n}", "profile": p} for n in range(4) for p in ("slow", "fast")]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["batch", str(src), "--profile-registries", str(registry), "--concurrency", "10"]
    # Warm up once without limits: the SDK's one-time work on its first request would otherwise
    # delay the first slot and bunch the next ones up behind it.
    assert main([*args, "-o", str(tmp_path / "warm.jsonl")]) == 0, capsys.readouterr().err
    server.seen.clear()
    assert main([*args, "-o", str(out), "--limit", "slow=120"]) == 0, capsys.readouterr().err
    assert {r["profile"] for r in records(out)} == {"slow", "fast"}
    slow = sorted(s.at for s in server.seen if s.prompt.startswith("slow"))
    fast = sorted(s.at for s in server.seen if s.prompt.startswith("fast"))
    # one per 0.5 s, less arrival jitter at both ends (a loaded 2-core machine delays some by ~0.1 s)
    assert slow[-1] - slow[0] >= 3 * 0.5 - 0.3
    assert fast[-1] < slow[-1]  # the fast profile never waited for the slow one's slots


@pytest.mark.parametrize("spec", ["slow", "=5", "slow=x", "slow=-1", "slow=5/0"])
def test_bad_limit_specs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "prompt": "x"}])
    assert main(["batch", str(src), "--ai-api-type", "echo", "--limit", spec]) == 1
    assert "expected PROFILE=RPM[/TPM]" in capsys.readouterr().err


def test_the_readme_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "batch"
    out = tmp_path / "labels.jsonl"
    template = "Classify the sentiment of this review: {text}"
    args = [
        "batch",
        str(examples / "reviews.jsonl"),
        "-o",
        str(out),
        "--ai-api-type",
        "echo",
        "--template",
        template,
    ]
    assert main([*args, "--schema", str(examples / "label.schema.json")]) == 1  # echo's READY is no JSON
    capsys.readouterr()
    assert {r["error"].split(":")[0] for r in records(out)} == {
        "the answer is not the JSON the schema asks for"
    }
    out.unlink()
    assert main([*args, "--concurrency", "16"]) == 0
    assert len(records(out)) == 10
    assert "batch: 10 ok, 0 failed" in capsys.readouterr().err
