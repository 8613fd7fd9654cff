"""The Ray executor: the same result set as the local executor, resume, shared rate limits.

One local Ray instance (2 CPUs, no dashboard) serves the module; Ray starts slowly, so the Ray
tests are few and each checks several things. Ray is required: without it these tests fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import geppetto
from geppetto.batch import BatchConfig, BatchItem, BatchResult
from geppetto.batch.plan import BatchPlan, run_local
from geppetto.batch.ray_executor import pool_size, run_ray
from geppetto.batch.ray_limits import SharedLimits


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        pytest.fail(f"the Ray executor tests need ray[data] ({exc}): pip install 'geppetto[ray]'")
    # Workers are started by Ray's own processes: give them this checkout's sources.
    # The cluster's token goes by variable (Ray writes none into HOME, which tests replace), so
    # CLI subprocesses joining with --address inherit it.
    source = str(Path(geppetto.__file__).resolve().parents[1])
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "RAY_AUTH_TOKEN")}
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source, saved["PYTHONPATH"]]))
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield ray
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def items() -> list[BatchItem]:
    out = [BatchItem(id=n, prompt=f"question {n}") for n in range(20)]
    out.append(BatchItem(id="text-id", prompt="hi", system="be brief"))
    out.append(BatchItem(id="bad-setting", prompt="x", settings={"ai-temperature": "warm"}))
    out.append(BatchItem(id="bad-profile", prompt="x", profile="nope"))
    turn = {"blocks": [{"kind": "user", "payload": {"text": "from a turn"}}]}
    out.append(BatchItem(id="turn", turn=turn))
    return out


def records(path: Path) -> list[bytes]:
    """The file's records with timings zeroed, sorted: equal lists mean the same result set."""
    out = []
    for line in path.read_bytes().splitlines():
        record = orjson.loads(line)
        record["duration_ms"] = 0
        out.append(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
    return sorted(out)


def test_ray_results_equal_local_results_and_resume_skips_done_ids(ray_instance: Any, tmp_path: Path) -> None:
    config = BatchConfig(flags={"ai-api-type": "echo"}, requests_per_minute=600_000)
    local_out, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    local_seen: list[BatchResult] = []
    run_local(BatchPlan(items(), config, output=local_out, concurrency=4), local_seen.append)
    expected = records(local_out)
    assert len(expected) == len(items())
    by_id = {orjson.loads(r)["id"]: orjson.loads(r) for r in expected}
    assert by_id["bad-setting"]["status"] == "error" and "ai-temperature" in by_id["bad-setting"]["error"]
    assert by_id["bad-profile"]["status"] == "error" and "nope" in by_id["bad-profile"]["error"]
    assert by_id[3]["status"] == "ok" and by_id[3]["answer"] == "READY"

    # An earlier (killed) Ray run already wrote five results, the last line torn mid-write.
    lines = local_out.read_bytes().splitlines(keepends=True)
    ray_out.write_bytes(b"".join(lines[:5]) + lines[5][:10])
    seen: list[BatchResult] = []
    report = run_ray(BatchPlan(items(), config, output=ray_out, concurrency=4), seen.append)

    assert report.actors == 2 and report.per_actor == 2
    assert report.written == len(items()) - 5 == len(seen)
    assert records(ray_out) == expected  # same records, none lost, none twice
    # Every item that reached an engine took its slot from the one shared limiter actor.
    ran = [r for r in seen if r.id not in ("bad-setting", "bad-profile")]
    assert report.requests == {"(default)": len(ran)}


def test_shared_limits_space_requests_of_every_caller() -> None:
    """Two actors' callers share one holder: the second caller waits for the first one's slot."""
    now = [100.0]
    holder = SharedLimits(clock=lambda: now[0])
    waits = [holder.reserve("p", 60, None, 10) for _ in range(3)]  # three callers, any actors
    assert waits == [0.0, 1.0, 2.0]
    assert holder.reserve("other", None, None, 10) == 0.0  # limits are per profile
    now[0] += 10
    assert holder.reserve("p", 60, None, 10) == 0.0
    holder.observe("p", {"x-ratelimit-limit-requests": "30"})  # headers tighten it for everyone
    # the next slot was already booked at +1 s; from there on requests are 2 s apart
    assert [holder.reserve("p", 60, None, 10) for _ in range(2)] == [1.0, 3.0]
    assert holder.requests() == {"p": 6, "other": 1}


def test_pool_size_shares_concurrency_among_actors() -> None:
    assert pool_size(2, 4) == (2, 2)
    assert pool_size(64, 256) == (8, 32)
    assert pool_size(8, 3) == (3, 1)
    assert pool_size(0, 5) == (1, 5)


def test_cli_executor_ray_joins_a_cluster_by_address(ray_instance: Any, tmp_path: Path) -> None:
    """``geppetto batch --executor ray --address``: bad lines reported, the rest run on the
    cluster, the same records as ``--executor local``."""
    import subprocess
    import sys

    rows = [orjson.dumps({"id": n, "prompt": f"p{n}"}) for n in range(6)]
    rows.insert(2, b"{not json")
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(rows) + b"\n")
    address = ray_instance.get_runtime_context().gcs_address
    env = {**os.environ, "PYTHONPATH": str(Path(geppetto.__file__).resolve().parents[1])}
    outputs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.jsonl"
        extra = ["--address", address] if executor == "ray" else []
        command = [sys.executable, "-m", "geppetto", "batch", str(source), "-o", str(out)]
        done = subprocess.run(
            [*command, "--executor", executor, *extra, "--ai-api-type", "echo"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 1, done.stderr  # the bad line
        assert f"error: {source}:3: invalid JSON" in done.stderr
        assert "batch: 6 ok, 0 failed, 1 bad input" in done.stderr
        if executor == "ray":
            assert "ray: 2 actor(s), up to 3 item(s) in flight each (2 CPU in the cluster)" in done.stderr
        outputs[executor] = records(out)
    assert outputs["ray"] == outputs["local"] and len(outputs["ray"]) == 6


@pytest.mark.heavy
def test_requests_per_minute_hold_for_the_whole_actor_pool(ray_instance: Any, tmp_path: Path) -> None:
    """Measured at a loopback provider: 2 actors share one limit of 600 requests/min, so the
    server sees one request per 0.1 s overall, not one per 0.1 s per actor."""
    from tests.batch.loopback import LoopbackServer, openai_flags

    server = LoopbackServer().start()
    try:
        config = BatchConfig(flags=openai_flags(server), requests_per_minute=600)
        items = [BatchItem(id=n, prompt=f"p{n}") for n in range(16)]
        plan = BatchPlan(items, config, output=tmp_path / "o.jsonl", concurrency=8)
        seen: list[BatchResult] = []
        report = run_ray(plan, seen.append)
    finally:
        server.stop()
    assert report.actors == 2 and len(seen) == 16 and all(r.ok for r in seen)
    assert sorted(r.answer for r in seen) == sorted(f"echo: p{n}" for n in range(16))
    times = sorted(s.at for s in server.seen)
    assert len(times) == 16
    # The whole run (less 50 ms of send/arrive jitter at its two ends) and every three in a row.
    assert times[-1] - times[0] >= 15 * 0.1 - 0.05
    assert min(c - a for a, c in zip(times, times[2:], strict=False)) >= 0.1
