"""``geppetto batch --provider-batch`` end to end, including a ``kill -9`` while the provider
batch is in progress and the resumed run that collects it without submitting again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from batch_servers import OpenAIBatchServer

import geppetto

KEY = "sk-test-BATCHCLISECRET0123456789"
SOURCE = str(Path(geppetto.__file__).resolve().parents[1])


@pytest.fixture
async def server() -> AsyncIterator[OpenAIBatchServer]:
    async with OpenAIBatchServer(polls=2) as running:
        yield running


def write_items(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def records(path: Path) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        record = orjson.loads(line)
        assert record["id"] not in out, f"{record['id']} written twice"
        out[record["id"]] = record
    return out


async def start(server: OpenAIBatchServer, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": SOURCE}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "geppetto",
        "batch",
        *args,
        "--provider-batch",
        "--poll-interval",
        "0.05",
        "--ai-api-type",
        "openai",
        "--ai-engine",
        "gpt-4o-mini",
        "--openai-base-url",
        server.base_url + "/v1",
        "--openai-api-key",
        KEY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def test_provider_batch_cli_writes_every_item(server: OpenAIBatchServer, tmp_path: Path) -> None:
    rows = [{"id": n, "prompt": f"q{n}"} for n in range(5)] + [{"id": "bad", "prompt": "FAIL me"}]
    source = write_items(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    process = await start(server, str(source), "-o", str(out))
    _, err = await asyncio.wait_for(process.communicate(), 120)
    stderr = err.decode()
    assert process.returncode == 1, stderr  # one item failed
    got = records(out)
    assert sorted(map(str, got)) == ["0", "1", "2", "3", "4", "bad"]
    assert got[3]["status"] == "ok" and got[3]["answer"] == "echo: q3"
    assert got[3]["usage"] == {"input_tokens": 2, "output_tokens": 3}
    assert got[3]["finish_class"] == "completed"
    assert got["bad"]["status"] == "error" and "cannot answer 'FAIL me'" in got["bad"]["error"]
    assert KEY not in stderr and KEY not in out.read_text()
    # One status line per change, as the provider's counts move.
    assert [line for line in stderr.splitlines() if line.startswith("provider batch:")] == [
        "provider batch: 0 done, 0 failed of 6 (1 batch: in_progress)",
        "provider batch: 3 done, 0 failed of 6 (1 batch: in_progress)",
        "provider batch: 5 done, 1 failed of 6 (1 batch: completed)",
    ]
    assert "batch: 5 ok, 1 failed" in stderr
    assert len(server.batches) == 1
    assert not (tmp_path / "out.jsonl.provider-batch.json").exists()


async def test_kill_9_while_the_provider_batch_runs_then_resume(
    server: OpenAIBatchServer, tmp_path: Path
) -> None:
    server.polls = 10_000  # stays in progress until the test lets it finish
    rows = [{"id": f"k{n}", "prompt": f"p{n}"} for n in range(4)]
    source = write_items(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    state = tmp_path / "out.jsonl.provider-batch.json"
    process = await start(server, str(source), "-o", str(out), "--quiet")
    for _ in range(600):
        if server.batches and any(r.path.startswith("/v1/batches/") for r in server.recorded):
            break
        await asyncio.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the CLI never polled its batch")
    process.send_signal(signal.SIGKILL)
    await process.wait()
    [batch_id] = server.batches
    assert orjson.loads(state.read_bytes())["batches"][0]["batch_id"] == batch_id
    assert not out.exists() or records(out) == {}

    server.batches[batch_id].polls_left = 1  # the provider finishes the batch meanwhile
    process = await start(server, str(source), "-o", str(out))
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    got = records(out)
    assert {key: value["answer"] for key, value in got.items()} == {f"k{n}": f"echo: p{n}" for n in range(4)}
    assert list(server.batches) == [batch_id]  # collected, not submitted again
    assert not state.exists()
