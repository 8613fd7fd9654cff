"""The bench's own drivers still work: each non-peer client answers one call and one stream
against the loopback server, with the reply the bench checks before timing. Peers (litellm,
pydantic-ai, llm) live in the ``bench`` extra and are not installed for the test suite."""

from __future__ import annotations

import pytest
from bench.client import expected_text
from bench.peers import CLIENTS
from bench.server import LoopbackServer, ReplyConfig

CHUNKS = 4


@pytest.mark.parametrize("name", ["floor", "aiohttp", "openai", "geppetto", "geppetto-engine"])
async def test_driver_answers_a_call_and_a_stream(name: str) -> None:
    async with LoopbackServer(ReplyConfig(chunks=CHUNKS)) as server:
        as_json = await CLIENTS[name].factory(server.base_url(ReplyConfig(chunks=CHUNKS, force_json=True)))
        streamed = await CLIENTS[name].factory(server.base_url(ReplyConfig(chunks=CHUNKS)))
        try:
            assert await as_json.call() == expected_text(CHUNKS)
            assert await streamed.stream() == CHUNKS
        finally:
            await as_json.aclose()
            await streamed.aclose()


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
