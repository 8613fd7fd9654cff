"""``geppetto.batch.run`` on function, echo and loopback-provider engines."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from geppetto.batch import BatchConfig, BatchContext, BatchItem, RateLimiter, run, run_item
from geppetto.batch.result import BatchResult
from geppetto.engines.echo import EchoEngine
from geppetto.engines.function import FunctionEngine
from geppetto.turns.keys import DataKeys
from geppetto.turns.model import Block, Turn
from tests.batch.loopback import LoopbackServer, openai_flags


def _prompt(turn: Turn) -> str:
    return [b.text or "" for b in turn.blocks if b.kind.value == "user"][-1]


def echo_fn(turn: Turn) -> Turn:
    turn.blocks.append(Block.assistant(f"re: {_prompt(turn)}"))
    return turn


async def collect(*args: Any, **kwargs: Any) -> list[BatchResult]:
    return [result async for result in run(*args, **kwargs)]


async def test_ordered_results_keep_input_order_even_when_items_finish_backwards() -> None:
    async def slow_first(turn: Turn) -> Turn:
        index = int(_prompt(turn))
        await asyncio.sleep(0.002 * (20 - index))
        return echo_fn(turn)

    items = [{"id": f"i{n}", "prompt": str(n)} for n in range(20)]
    results = await collect(items, engine=FunctionEngine(slow_first), concurrency=8, ordered=True)
    assert [r.id for r in results] == [f"i{n}" for n in range(20)]
    assert [r.answer for r in results] == [f"re: {n}" for n in range(20)]
    assert all(r.ok and r.finish_class != "error" for r in results)


async def test_unordered_results_hold_every_id_once() -> None:
    items = [{"id": n, "prompt": f"p{n}"} for n in range(50)]
    results = await collect(items, engine=FunctionEngine(echo_fn), concurrency=7)
    assert sorted(r.id for r in results) == list(range(50))
    assert {r.id: r.answer for r in results} == {n: f"re: p{n}" for n in range(50)}


async def test_concurrency_bounds_the_items_in_flight() -> None:
    in_flight = peak = 0

    async def tracked(turn: Turn) -> Turn:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return echo_fn(turn)

    await collect(
        [{"id": n, "prompt": "x"} for n in range(40)], engine=FunctionEngine(tracked), concurrency=5
    )
    assert peak == 5


async def test_a_failing_item_is_recorded_and_the_others_run() -> None:
    def picky(turn: Turn) -> Turn:
        if _prompt(turn) == "bad":
            raise RuntimeError("no thanks")
        return echo_fn(turn)

    items = [{"id": 1, "prompt": "ok"}, {"id": 2, "prompt": "bad"}, {"id": 3, "prompt": "fine"}]
    results = {r.id: r for r in await collect(items, engine=FunctionEngine(picky), ordered=True)}
    assert results[1].ok and results[3].ok
    failed = results[2]
    assert failed.status == "error" and failed.finish_class == "error"
    assert failed.error is not None and "no thanks" in failed.error
    assert failed.to_dict()["error"] == failed.error


async def test_invalid_mappings_become_error_results() -> None:
    results = await collect([{"prompt": "no id"}, {"id": 2, "prompt": ""}], engine=EchoEngine(), ordered=True)
    assert [(r.id, r.status, r.error) for r in results] == [
        ("#1", "error", "missing 'id'"),
        (2, "error", "the item needs a non-empty 'prompt' or a 'turn'"),
    ]


async def test_skip_leaves_out_done_ids_without_breaking_order() -> None:
    items = [{"id": n, "prompt": str(n)} for n in range(6)]
    results = await collect(
        items, engine=FunctionEngine(echo_fn), skip={"1", "4"}, ordered=True, concurrency=3
    )
    assert [r.id for r in results] == [0, 2, 3, 5]


async def test_turn_items_answer_with_only_the_new_text_and_full_keeps_the_turn() -> None:
    turn = {
        "blocks": [
            {"kind": "user", "payload": {"text": "first"}},
            {"kind": "llm_text", "payload": {"text": "old answer"}},
            {"kind": "user", "payload": {"text": "second"}},
        ]
    }
    config = BatchConfig(full=True)
    results = await collect([{"id": "t", "turn": turn}], engine=FunctionEngine(echo_fn), config=config)
    (result,) = results
    assert result.answer == "re: second"
    assert result.turn is not None
    assert [b["payload"]["text"] for b in result.turn["blocks"]] == [
        "first",
        "old answer",
        "second",
        "re: second",
    ]


async def test_system_prompt_applies_to_items_without_their_own() -> None:
    seen: list[list[str]] = []

    def record(turn: Turn) -> Turn:
        seen.append([b.text or "" for b in turn.blocks if b.kind.value == "system"])
        return echo_fn(turn)

    items = [{"id": 1, "prompt": "a"}, {"id": 2, "prompt": "b", "system": "own"}]
    await collect(
        items, engine=FunctionEngine(record), config=BatchConfig(system="batch"), ordered=True, concurrency=1
    )
    assert seen == [["batch"], ["own"]]


async def test_schema_asks_for_structured_output_and_parses_the_answer() -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    configs: list[Any] = []

    def structured(turn: Turn) -> Turn:
        configs.append(turn.data.get(DataKeys.STRUCTURED_OUTPUT_CONFIG.id))
        text = '{"label": "spam"}' if _prompt(turn) == "json" else "plain words"
        turn.blocks.append(Block.assistant(text))
        return turn

    items = [{"id": 1, "prompt": "json"}, {"id": 2, "prompt": "text"}]
    config = BatchConfig(schema=schema, schema_name="label")
    results = await collect(items, engine=FunctionEngine(structured), config=config, ordered=True)
    assert configs[0] == {"mode": "json_schema", "name": "label", "schema": schema, "strict": True}
    assert results[0].ok and results[0].to_dict()["parsed"] == {"label": "spam"}
    assert results[1].status == "error" and "not the JSON the schema asks for" in (results[1].error or "")
    assert "parsed" in results[1].to_dict() and results[1].to_dict()["parsed"] is None


async def test_profiles_and_settings_go_through_the_settings_path() -> None:
    config = BatchConfig(flags={"ai-api-type": "echo"})
    items = [
        {"id": "plain", "prompt": "x"},
        {"id": "profile", "prompt": "x", "profile": "echo"},
        {"id": "unknown", "prompt": "x", "profile": "nope"},
        {"id": "bad-setting", "prompt": "x", "settings": {"ai-temperature": "hot"}},
        {"id": "no-field", "prompt": "x", "settings": {"ai-colour": 1}},
    ]
    results = {r.id: r for r in await collect(items, config=config)}
    assert results["plain"].ok and results["plain"].answer == "READY"
    assert results["profile"].ok and results["profile"].profile == "echo"
    assert "profile nope not found" in (results["unknown"].error or "")
    assert "ai-temperature" in (results["bad-setting"].error or "")
    assert "ai-colour" in (results["no-field"].error or "")


async def test_a_fixed_engine_refuses_item_profiles() -> None:
    (result,) = await collect([{"id": 1, "prompt": "x", "profile": "echo"}], engine=EchoEngine())
    assert result.status == "error" and "one given engine" in (result.error or "")


async def test_run_item_with_a_context_built_from_plain_config() -> None:
    ctx = BatchContext(BatchConfig(flags={"ai-api-type": "echo"}))
    result = await run_item(BatchItem(id="x", prompt="hello"), ctx)
    assert (result.id, result.status, result.answer, result.finish_class) == ("x", "ok", "READY", "completed")
    await ctx.aclose()


async def test_closing_the_iterator_early_cancels_the_items_in_flight() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def slow(turn: Turn) -> Turn:
        started.append(_prompt(turn))
        if _prompt(turn) != "0":
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(_prompt(turn))
                raise
        return echo_fn(turn)

    results = run(
        [{"id": n, "prompt": str(n)} for n in range(10)], engine=FunctionEngine(slow), concurrency=3
    )
    first = await results.__anext__()
    assert first.id == 0
    await results.aclose()
    assert sorted(cancelled) == sorted(set(started) - {"0"})
    assert len(started) <= 4


async def test_loopback_provider_usage_answer_and_errors(server: LoopbackServer) -> None:
    config = BatchConfig(flags=openai_flags(server))
    items = [{"id": 1, "prompt": "hello there"}, {"id": 2, "prompt": "FAIL now"}]
    results = await collect(items, config=config, ordered=True)
    assert results[0].ok and results[0].answer == "echo: hello there"
    assert results[0].usage == {"input_tokens": 2, "output_tokens": 3}
    assert results[0].finish_class == "completed"
    assert results[0].cost is None  # the settings declare no price
    assert results[1].status == "error" and "HTTP 400" in (results[1].error or "")
    line = orjson.loads(orjson.dumps(results[0].to_dict()))
    assert set(line) == {
        "id",
        "status",
        "answer",
        "finish_class",
        "usage",
        "cost",
        "error",
        "duration_ms",
        "profile",
    }


async def test_a_priced_profile_records_each_items_cost(server: LoopbackServer, tmp_path: Path) -> None:
    """model_info.cost (USD per million tokens) times the usage the provider reported."""
    registry = tmp_path / "registry.yaml"
    base_url = openai_flags(server)["openai-base-url"]
    registry.write_text(
        "slug: team\nprofiles:\n  priced:\n    inference_settings:\n"
        "      chat: {api_type: openai, engine: m}\n"
        f"      api: {{base_urls: {{openai-base-url: '{base_url}'}}, api_keys: {{openai-api-key: sk-x}}}}\n"
        "      model_info: {cost: {input: 1000000, output: 2000000}}\n"
    )
    config = BatchConfig(profile="priced", profile_registries=str(registry))
    results = await collect([{"id": 1, "prompt": "hello there"}], config=config)
    assert results[0].ok, results[0].error
    assert results[0].usage == {"input_tokens": 2, "output_tokens": 3}
    assert results[0].cost == 2 * 1.0 + 3 * 2.0
    assert results[0].profile == "priced"


async def warm(server: LoopbackServer) -> None:
    """One unlimited request first: the SDK's one-time work on its first request would delay the
    first slot and bunch the next ones up behind it."""
    await collect([{"id": "warm", "prompt": "warm"}], config=BatchConfig(flags=openai_flags(server)))
    server.seen.clear()


def assert_spaced(server: LoopbackServer, interval: float, skip: int = 0) -> None:
    """Requests arrived no faster than one per ``interval``: over the whole run, less 100 ms for
    the jitter between a request leaving and arriving on a loaded machine (it hits only the two
    ends), and with no burst (any three in a row span at least one interval, half the nominal)."""
    times = sorted(s.at for s in server.seen)[skip:]
    assert times[-1] - times[0] >= (len(times) - 1) * interval - 0.1
    assert min(c - a for a, c in zip(times, times[2:], strict=False)) >= interval


async def test_requests_per_minute_is_respected_at_the_server(server: LoopbackServer) -> None:
    await warm(server)
    config = BatchConfig(flags=openai_flags(server), requests_per_minute=300)  # one per 0.2 s
    results = await collect([{"id": n, "prompt": f"p{n}"} for n in range(6)], config=config, concurrency=6)
    assert all(r.ok for r in results)
    assert len(server.seen) == 6
    # Starts are spaced by the limiter; the server sees them no closer than that (less a little
    # for scheduling between the reservation and the connection).
    assert_spaced(server, 0.2)


async def test_rate_limit_headers_tighten_the_limit_at_run_time(server: LoopbackServer) -> None:
    await warm(server)
    server.headers = {"x-ratelimit-limit-requests": "300"}  # one per 0.2 s, learnt from the first reply
    config = BatchConfig(flags=openai_flags(server))
    results = await collect([{"id": n, "prompt": f"p{n}"} for n in range(5)], config=config, concurrency=1)
    assert all(r.ok for r in results)
    assert_spaced(server, 0.2, skip=1)


async def test_tokens_per_minute_is_respected_and_settled_by_reported_usage(server: LoopbackServer) -> None:
    await warm(server)
    # 600 tokens/min is 10 a second. "hi you" is estimated at 2 tokens; the server reports 5 used.
    config = BatchConfig(flags=openai_flags(server), tokens_per_minute=600)
    ctx = BatchContext(config)
    engine, key = ctx.engine_for(BatchItem(id=0, prompt="x"))
    engine.prepare()  # type: ignore[attr-defined]
    limiter = ctx.limiter(key)
    assert isinstance(limiter, RateLimiter)
    assert limiter.reserve(600) == 0.0  # empty the bucket
    emptied = time.monotonic()
    items = [{"id": n, "prompt": "hi you"} for n in range(2)]
    results = [r async for r in run(items, context=ctx, concurrency=1)]
    await ctx.aclose()
    assert all(r.ok for r in results)
    first, second = sorted(s.at for s in server.seen)
    assert first - emptied >= 0.2 - 0.01  # 2 tokens short
    assert second - emptied >= 0.7 - 0.01  # then 3 more used than estimated, and 2 more reserved


class BrokenEngine:
    """An engine with a bug: it raises a plain exception, not a GeppettoError."""

    name = "broken"

    async def run(self, turn: Turn, ctx: Any) -> Turn:
        raise KeyError("oops")


async def test_an_engine_bug_fails_the_item_not_the_batch() -> None:
    results = await collect([{"id": 1, "prompt": "x"}, {"id": 2, "prompt": "y"}], engine=BrokenEngine())
    assert sorted((r.id, r.status) for r in results) == [(1, "error"), (2, "error")]
    assert all(r.error == "unexpected KeyError: 'oops'" for r in results)
