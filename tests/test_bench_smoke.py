"""The bench's own drivers still work: each non-peer client answers one call and one stream
against the loopback server, with the reply the bench checks before timing. Peers (litellm,
pydantic-ai, llm) live in the ``bench`` extra and are not installed for the test suite."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bench.client import check, concurrency, expected_text, overhead, streaming
from bench.peers import CLIENTS
from bench.server import LoopbackServer, ReplyConfig, base_path
from bench.server.raw import RawServer

CHUNKS = 4
OURS = [name for name, client in CLIENTS.items() if client.group != "peer"]  # peers: the bench extra


@pytest.mark.parametrize("kind", ["aiohttp", "raw"])
@pytest.mark.parametrize("name", OURS)
async def test_driver_answers_a_call_and_a_stream(name: str, kind: str) -> None:
    server: Any = LoopbackServer(ReplyConfig(chunks=CHUNKS)) if kind == "aiohttp" else RawServer()
    async with server:
        json_url = server.url + base_path(ReplyConfig(chunks=CHUNKS, force_json=True))
        as_json = await CLIENTS[name].factory(json_url)
        streamed = await CLIENTS[name].factory(server.url + base_path(ReplyConfig(chunks=CHUNKS)))
        try:
            assert await as_json.call() == expected_text(CHUNKS)
            assert await streamed.stream() == CHUNKS
        finally:
            await as_json.aclose()
            await streamed.aclose()


class _Wrong:
    """A driver whose third reply is wrong: the bench must refuse the run, not time it."""

    def __init__(self) -> None:
        self.calls = 0

    async def call(self) -> str:
        self.calls += 1
        return expected_text(1) if self.calls != 3 else "oops"

    async def stream(self) -> int:
        self.calls += 1
        return CHUNKS if self.calls != 3 else CHUNKS - 1

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("test", "spec"),
    [
        (overhead, {"mode": "json", "chunks": 1, "warmup": 0, "reps": 2, "calls": 5}),
        (overhead, {"mode": "sse", "chunks": CHUNKS, "warmup": 0, "reps": 2, "calls": 5}),
        (streaming, {"chunks": CHUNKS, "reps": 3}),
        (concurrency, {"sessions": 5, "warmup": 0, "reps": 1, "chunks": 1}),
    ],
)
async def test_every_timed_reply_is_checked(test: Any, spec: dict[str, Any]) -> None:
    out: dict[str, Any] = {"samples": [], "cpu": []}
    with pytest.raises(AssertionError, match="wrong"):
        await test(_Wrong(), spec, out)


async def test_a_right_run_reports_how_many_replies_it_checked() -> None:
    out: dict[str, Any] = {"samples": [], "cpu": []}
    async with RawServer() as server:
        url = server.url + base_path(ReplyConfig(chunks=1, force_json=True))
        driver = await CLIENTS["floor"].factory(url)
        try:
            await concurrency(driver, {"sessions": 20, "warmup": 1, "reps": 2, "chunks": 1}, out)
            await overhead(driver, {"mode": "json", "chunks": 1, "warmup": 1, "reps": 2, "calls": 3}, out)
        finally:
            await driver.aclose()
    assert out["checked"] == 6  # overhead's count (2 reps x 3 calls) replaced concurrency's 40
    assert out["errors"] == 0
    check("same", "same", "no error")


def test_the_noise_process_runs_only_inside_the_block() -> None:
    from bench.noise import noise

    with noise(True) as proc:
        assert proc is not None and proc.poll() is None
    assert proc.poll() is not None
    with noise(False) as nothing:
        assert nothing is None


def test_the_server_process_says_which_server_served() -> None:
    from bench.server import ServerProcess

    for kind, expected in (("raw", "raw asyncio.Protocol on "), ("aiohttp", "aiohttp.web")):
        with ServerProcess(kind=kind) as server:
            assert server.name.startswith(expected)

            async def one(url: str = server.url) -> str:
                settings = base_path(ReplyConfig(chunks=2, force_json=True))
                driver = await CLIENTS["floor"].factory(url + settings)
                try:
                    return await driver.call()
                finally:
                    await driver.aclose()

            assert asyncio.run(one()) == expected_text(2)


def test_mcp_bench_measures_three_paths_against_one_server() -> None:
    """``python -m bench mcp``: the floor and both geppetto paths answer (a tiny run, no timing)."""
    from bench.bench_mcp import measure

    result = measure(calls=2, rounds=1, per_turn=2)
    assert [row["path"].split(" (")[0] for row in result["rows"]] == [
        "mcp ClientSession.call_tool",
        "geppetto ToolRegistry.acall",
        "geppetto tool loop",
    ]
    assert all(row["us/call"] > 0 for row in result["rows"])
    assert all(row["client CPU us/call"] > 0 for row in result["rows"])
    assert result["verdicts"][0]["ok"] in ("yes", "NO")


def test_embed_bench_measures_both_paths_and_the_caches() -> None:
    """``python -m bench embed``: the floor, geppetto and both caches answer (a tiny run, no timing)."""
    from bench.bench_embed import measure

    result = measure(texts=300, rounds=1)
    assert [row["path"] for row in result["rows"]] == ["raw aiohttp (floor)", "geppetto OpenAIEmbedder.embed"]
    assert all(row["texts/s"] > 0 for row in result["rows"])
    assert [row["cache"] for row in result["cache"]] == ["memory (LRU)", "disk (SQLite, memory empty)"]
    assert [v["ok"] in ("yes", "NO") for v in result["verdicts"]] == [True, True]


def test_otel_bench_measures_every_mode_with_and_without_telemetry() -> None:
    """``python -m bench otel``: each telemetry mode answers a call and a stream (no timing)."""
    from bench.bench_otel import MODES, measure

    from geppetto.telemetry import is_instrumented

    result = measure(calls=2, chunks=20, rounds=1)
    assert [row["telemetry"] for row in result["rows"]] == list(MODES)
    assert all(row["us/call"] > 0 and row["chunks/s"] > 0 for row in result["rows"])
    assert not is_instrumented()  # the bench leaves the process as it found it


def test_regen_rewrites_only_between_its_markers() -> None:
    from bench.regen import BEGIN, END, splice

    doc = f"# Title\nprose kept\n\n{BEGIN}\nold tables\n{END}\n\nmore prose\n"
    out = splice(doc, "new tables")
    assert out == f"# Title\nprose kept\n\n{BEGIN}\nnew tables\n{END}\n\nmore prose\n"
    appended = splice("# No markers\n", "t")
    assert appended.endswith(f"{BEGIN}\nt\n{END}\n") and appended.startswith("# No markers\n")


def test_compare_rows_run_the_driver_on_another_source_tree(tmp_path: Any) -> None:
    from bench.__main__ import parse, sources, with_compared

    (tmp_path / "geppetto").mkdir()
    args = parse(["overhead", "--compare", f"before={tmp_path}"])
    assert sources(args) == {"before": str(tmp_path.resolve())}
    assert with_compared(["floor", "geppetto"], args) == ["floor", "geppetto", "geppetto@before"]
    with pytest.raises(SystemExit, match="LABEL=DIR"):
        sources(parse(["overhead", "--compare", "nolabel"]))
