"""One measurement in a fresh process: ``python -m bench.client SPEC_JSON``.

The parent (:mod:`bench.runner`) starts one of these per (test, client, round) so imports, pools
and allocator state never leak from one client into another, and the peak RSS (``VmHWM``) is the client's
own peak. The last stdout line is a JSON object: ``samples`` (seconds), ``cpu`` (process CPU
seconds per sample), memory figures, or ``skip`` / ``error`` with a reason.

Tests:

* ``overhead``: ``warmup`` calls, then ``reps`` x ``calls`` sequential calls; a sample is the mean
  wall time per call of one rep. ``mode`` ``json`` uses ``call()``, ``sse`` uses ``stream()``.
* ``streaming``: one warm-up stream, then ``reps`` streams; a sample is one stream's wall time.
* ``concurrency``: ``warmup`` calls, then ``reps`` x ``asyncio.gather`` of ``sessions`` calls.

Every timed reply is checked, not only the first: its text (``call()``) or its count of text
pieces (``stream()``) must equal what the server sent, and the number of replies checked must
equal the number of calls made (``checked`` in the output). A wrong reply fails the process:
a fast wrong answer is never a sample.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import traceback
from typing import Any

from bench.peers import CLIENTS, Driver, MissingPeer
from bench.server.bodies import content

DEADLINE_S = 240.0  # per process; the parent also has a timeout


def rss_kib(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_kib() -> int:
    """This process's own peak RSS. Not ``ru_maxrss``: Linux keeps that across ``execve``, so a
    client started by a big parent (the bench after its in-process JS suite) reported the
    parent's peak. ``VmHWM`` belongs to the new address space."""
    return rss_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def expected_text(chunks: int) -> str:
    return "".join(content(i, 0) for i in range(chunks))


def check(got: Any, want: Any, what: str) -> None:
    if got != want:
        raise AssertionError(f"wrong reply ({what}): {str(got)[:120]!r}, expected {str(want)[:120]!r}")


async def overhead(driver: Driver, spec: dict[str, Any], out: dict[str, Any]) -> None:
    stream = spec["mode"] == "sse"
    once = driver.stream if stream else driver.call
    want: Any = spec["chunks"] if stream else expected_text(spec["chunks"])
    check(await once(), want, "first call")
    for _ in range(spec["warmup"]):
        check(await once(), want, "warm-up")
    started = time.perf_counter()
    checked = 0
    for _ in range(spec["reps"]):
        wrong = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(spec["calls"]):
            if await once() != want:  # compared inside the clock: one == per call, for every client
                wrong += 1
        out["samples"].append((time.perf_counter() - wall) / spec["calls"])
        out["cpu"].append((time.process_time() - cpu) / spec["calls"])
        if wrong:
            raise AssertionError(f"{wrong} of {spec['calls']} timed replies were wrong")
        checked += spec["calls"]
        out["checked"] = checked
        if time.perf_counter() - started > DEADLINE_S:
            out["note"] = "deadline reached: fewer reps"
            break


async def streaming(driver: Driver, spec: dict[str, Any], out: dict[str, Any]) -> None:
    pieces = await driver.stream()
    check(pieces, spec["chunks"], "text pieces of the warm-up stream")
    for _ in range(spec["reps"]):
        wall, cpu = time.perf_counter(), time.process_time()
        got = await driver.stream()
        out["samples"].append(time.perf_counter() - wall)
        out["cpu"].append(time.process_time() - cpu)
        check(got, spec["chunks"], "text pieces of a timed stream")
        out["checked"] = len(out["samples"])
    out["pieces"] = pieces


async def concurrency(driver: Driver, spec: dict[str, Any], out: dict[str, Any]) -> None:
    want = expected_text(spec.get("chunks", 1))
    for _ in range(spec["warmup"]):
        check(await driver.call(), want, "warm-up")
    out["rss_before_kib"] = rss_kib()
    errors = checked = 0
    for _ in range(spec["reps"]):
        wall, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.gather(
            *(driver.call() for _ in range(spec["sessions"])), return_exceptions=True
        )
        out["samples"].append(time.perf_counter() - wall)
        out["cpu"].append(time.process_time() - cpu)
        if len(results) != spec["sessions"]:
            raise AssertionError(f"gather returned {len(results)} results for {spec['sessions']} calls")
        failed = [r for r in results if isinstance(r, BaseException)]
        errors += len(failed)
        if failed and "first_error" not in out:
            out["first_error"] = f"{type(failed[0]).__name__}: {failed[0]}"[:300]
        wrong = [r for r in results if not isinstance(r, BaseException) and r != want]
        if wrong:
            raise AssertionError(f"{len(wrong)} of {len(results)} replies were wrong, e.g. {wrong[0]!r:.120}")
        checked += len(results) - len(failed)
    out["errors"] = errors
    out["checked"] = checked


TESTS = {"overhead": overhead, "streaming": streaming, "concurrency": concurrency}


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"client": spec["client"], "samples": [], "cpu": []}
    try:
        driver = await CLIENTS[spec.get("driver", spec["client"])].factory(spec["base_url"])
    except MissingPeer as exc:
        return {"client": spec["client"], "skip": str(exc)}
    try:
        await asyncio.wait_for(TESTS[spec["test"]](driver, spec, out), DEADLINE_S + 60)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"[:500]
        out["traceback"] = traceback.format_exc()[-2000:]
    finally:
        await driver.aclose()
    out["maxrss_kib"] = peak_rss_kib()
    return out


def main() -> None:
    spec = json.loads(sys.argv[1])
    result = asyncio.run(measure(spec))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
