"""Pricing usage with ``model_info.cost`` and what every session run records about itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from geppetto.cost import COST_KEY, price_usage, token_buckets, turn_cost, turn_run_usage, usage_cost
from geppetto.engines import RunContext, StreamAccumulator, engine_from_settings
from geppetto.errors import EngineError
from geppetto.events import Usage
from geppetto.profiles import ModelCost, ModelInfo, load_registries
from geppetto.session import EngineBuilder, Session
from geppetto.tools import ToolRegistry, tool
from geppetto.turns import Turn, TurnMetaKeys
from geppetto.turns.keys import RunMetaKeys

PRICE = ModelInfo(cost=ModelCost(input=2.0, output=10.0, cache_read=0.5, cache_write=4.0))


def test_openai_style_cached_tokens_are_part_of_the_input() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=500_000, cached_tokens=400_000)
    assert PRICE.cost is not None
    record = price_usage(usage, PRICE.cost)
    assert (record.input_tokens, record.cache_read_tokens) == (600_000, 400_000)
    assert record.input_usd == pytest.approx(1.2)
    assert record.cache_read_usd == pytest.approx(0.2)
    assert record.output_usd == pytest.approx(5.0)
    assert record.total_usd == pytest.approx(6.4)


def test_anthropic_style_cache_tokens_come_on_top_of_the_input() -> None:
    usage = {
        "input_tokens": 100,
        "output_tokens": 10,
        "cache_read_input_tokens": 1_000,
        "cache_creation_input_tokens": 2_000,
    }
    buckets = token_buckets(usage)
    assert (buckets.input, buckets.output, buckets.cache_read, buckets.cache_write) == (100, 10, 1_000, 2_000)
    expected = (100 * 2.0 + 10 * 10.0 + 1_000 * 0.5 + 2_000 * 4.0) / 1_000_000
    assert usage_cost(usage, PRICE) == pytest.approx(expected)
    assert price_usage(usage, PRICE.cost).to_dict()["total_usd"] == pytest.approx(expected)


def test_no_price_or_no_usage_means_no_cost() -> None:
    assert usage_cost({"input_tokens": 5}, ModelInfo()) is None
    assert usage_cost({"input_tokens": 5}, None) is None
    assert usage_cost(None, PRICE) is None
    # a reported cached count larger than the input never makes a bucket negative
    assert token_buckets(Usage(input_tokens=3, cached_tokens=9)).input == 0


def test_turn_cost_reads_what_the_run_recorded() -> None:
    turn = Turn()
    assert turn_cost(turn) is None
    turn.metadata[COST_KEY] = 0.25
    assert turn_cost(turn) == 0.25
    turn.metadata[COST_KEY] = True  # not a number
    assert turn_cost(turn) is None
    assert COST_KEY == "geppetto.cost_usd@v1"


class ToolThenAnswer:
    """First call asks for the ``clock`` tool (usage 100/20), the second answers (usage 150/30)."""

    name = "scripted"

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        answered = any(block.kind.value == "tool_use" for block in turn.blocks)
        with StreamAccumulator(turn, ctx, provider="test", model="m-1") as acc:
            acc.start()
            if turn.blocks[-1].text == "fail":
                acc.set_usage(Usage(input_tokens=7, output_tokens=1))
                raise EngineError("boom")
            if answered:
                acc.add_text("it is noon")
                acc.set_usage(Usage(input_tokens=150, output_tokens=30, cached_tokens=100))
                acc.set_stop_reason("stop")
            else:
                acc.add_complete_tool_call(id="c1", name="clock", args={})
                acc.set_usage(Usage(input_tokens=100, output_tokens=20))
                acc.set_stop_reason("tool_calls")
            return acc.finish()


@tool
def clock() -> str:
    """The time."""
    return "12:00"


def test_a_tool_loop_run_sums_every_call_and_prices_the_total() -> None:
    builder = EngineBuilder(ToolThenAnswer()).with_tools(ToolRegistry([clock]))
    builder.with_model_info(PRICE, profile="team/assistant")
    out = Session(builder).run(Turn.builder().user("time?").build())
    meta = out.metadata
    assert turn_run_usage(out) == {"input_tokens": 250, "output_tokens": 50, "cached_tokens": 100}
    assert meta[TurnMetaKeys.USAGE.id]["input_tokens"] == 150  # the last call's, as before
    expected = (150 * 2.0 + 100 * 0.5 + 50 * 10.0) / 1_000_000
    assert turn_cost(out) == pytest.approx(expected)
    last_call = (50 * 2.0 + 100 * 0.5 + 30 * 10.0) / 1_000_000
    assert meta[TurnMetaKeys.INFERENCE_RESULT.id]["cost"] == pytest.approx(last_call)
    assert RunMetaKeys.PROFILE.get(meta) == "team/assistant"
    assert isinstance(RunMetaKeys.DURATION_MS.get(meta), int) and meta[RunMetaKeys.DURATION_MS.id] >= 0


def test_a_failed_run_is_priced_too_and_nothing_is_carried_over() -> None:
    session = Session(EngineBuilder(ToolThenAnswer()).with_model_info(PRICE))
    session.append_user_prompt("fail")
    with pytest.raises(EngineError):
        session.run()
    failed = session.latest()
    assert failed is not None
    assert turn_run_usage(failed) == {"input_tokens": 7, "output_tokens": 1}
    assert turn_cost(failed) == pytest.approx((7 * 2.0 + 10.0) / 1_000_000)
    assert RunMetaKeys.PROFILE.id not in failed.metadata


def test_without_a_price_the_run_records_usage_but_no_cost() -> None:
    session = Session(EngineBuilder(ToolThenAnswer()).with_tools(ToolRegistry([clock])))
    out = session.run(Turn.builder().user("time?").build())
    assert turn_run_usage(out) is not None
    assert turn_cost(out) is None
    assert "cost" not in out.metadata[TurnMetaKeys.INFERENCE_RESULT.id]


def test_a_custom_engine_usage_counts_but_a_stale_one_does_not() -> None:
    calls = {"n": 0}

    class Custom:
        name = "custom"

        async def run(self, turn: Turn, ctx: RunContext) -> Turn:
            calls["n"] += 1
            if calls["n"] == 1:
                turn.metadata[TurnMetaKeys.USAGE.id] = {"input_tokens": 1_000_000, "output_tokens": 0}
                return turn
            return turn.clone(deep=True)  # a copy that came back (as through JS): same usage, new dict

    session = Session(EngineBuilder(Custom()).with_model_info(PRICE))
    first = session.run(Turn.builder().user("a").build())
    assert turn_cost(first) == pytest.approx(2.0)
    session.append_user_prompt("b")  # the new turn starts as a copy of the first, usage included
    second = session.run()
    assert turn_cost(second) is None and turn_run_usage(second) is None


def test_an_engine_built_from_profile_settings_prices_and_labels_runs(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "slug: team\nprofiles:\n  cheap:\n    inference_settings:\n      chat: {api_type: echo}\n"
        "      model_info: {cost: {input: 1, output: 1}}\n"
    )
    settings = load_registries([str(registry)]).resolve("cheap")
    builder = EngineBuilder(engine_from_settings(settings))
    assert builder.model_info is not None and builder.model_info.cost == ModelCost(input=1, output=1)
    assert builder.profile == "cheap"
    out = Session(builder).run(Turn.builder().user("hi").build())
    assert RunMetaKeys.PROFILE.get(out.metadata) == "cheap"
    assert RunMetaKeys.DURATION_MS.id in out.metadata


def test_an_agent_on_a_priced_profile_engine_reports_the_cost(tmp_path: Path) -> None:
    from geppetto.agent import Agent
    from geppetto.engines import SettingsEngine

    registry = tmp_path / "registry.yaml"
    registry.write_text(
        "slug: team\nprofiles:\n  paid:\n    inference_settings:\n      chat: {api_type: echo}\n"
        "      model_info: {cost: {input: 2, output: 10, cache_read: 0.5}}\n"
    )
    settings = load_registries([str(registry)]).resolve("paid")
    engine = SettingsEngine(ToolThenAnswer(), settings)
    agent = Agent.builder().engine(engine).tools(ToolRegistry([clock])).build()
    result = agent.session().build().next().user("time?").run()
    assert result.cost_usd == pytest.approx((150 * 2.0 + 100 * 0.5 + 50 * 10.0) / 1_000_000)
    assert RunMetaKeys.PROFILE.get(result.output_turn.metadata) == "paid"
