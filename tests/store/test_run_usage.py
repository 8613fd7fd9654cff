"""Per-run rows in the store: profile, tokens, cost and duration columns, sums, and old databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from geppetto.engines import RunContext, StreamAccumulator
from geppetto.events import Usage
from geppetto.profiles import ModelCost, ModelInfo
from geppetto.session import EngineBuilder, Session
from geppetto.store import MIGRATIONS, TurnStore
from geppetto.store.usage import usage_summary
from geppetto.turns import Turn

PRICE = ModelInfo(cost=ModelCost(input=1.0, output=2.0, cache_read=0.5))


class Metered:
    """Answers with a fixed usage; the model name is whatever the test sets."""

    name = "metered"

    def __init__(self, model: str, usage: Usage) -> None:
        self.model, self.usage = model, usage

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        with StreamAccumulator(turn, ctx, provider="test", model=self.model) as acc:
            acc.start()
            acc.add_text("ok")
            acc.set_usage(self.usage)
            acc.set_stop_reason("stop")
            return acc.finish()


@pytest.fixture
def store(tmp_path: Path) -> TurnStore:
    with TurnStore(tmp_path / "turns.db") as opened:
        yield opened  # type: ignore[misc]


def _run(store: TurnStore, model: str, usage: Usage, *, profile: str = "", priced: bool = True) -> Session:
    builder = EngineBuilder(Metered(model, usage)).with_model_info(PRICE if priced else None, profile=profile)
    session = Session(builder, store=store)
    session.run(Turn.builder().user("hi").build())
    return session


def test_a_stored_run_keeps_profile_tokens_cost_and_duration(store: TurnStore) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, cached_tokens=400)
    session = _run(store, "m-a", usage, profile="fast")
    record = store.list_turns(session.id)[0]
    assert (record.profile, record.input_tokens, record.output_tokens) == ("fast", 1000, 100)
    assert (record.cache_read_tokens, record.cache_write_tokens) == (400, 0)
    assert record.cost_usd == pytest.approx((600 * 1.0 + 400 * 0.5 + 100 * 2.0) / 1_000_000)
    assert record.duration_ms is not None and record.duration_ms >= 0
    assert record.forked is False
    info = store.session_info(session.id)
    assert (info.input_tokens, info.output_tokens) == (1000, 100)
    assert info.cost_usd == pytest.approx(record.cost_usd)
    assert info.to_dict()["cost_usd"] == info.cost_usd


def test_sums_group_by_model_profile_and_day_and_skip_fork_copies(store: TurnStore) -> None:
    first = _run(store, "m-a", Usage(input_tokens=10, output_tokens=1), profile="p1")
    _run(store, "m-a", Usage(input_tokens=20, output_tokens=2), profile="p2")
    _run(store, "m-b", Usage(input_tokens=30, output_tokens=3), profile="p2", priced=False)
    forked = store.fork(first.id)
    assert store.list_turns(forked)[0].forked is True
    (total,) = usage_summary(store)
    assert (total.key, total.runs, total.input_tokens, total.output_tokens) == ("total", 3, 60, 6)
    assert total.priced_runs == 2
    assert total.cost_usd == pytest.approx((10 + 20 + 2 * 3) / 1_000_000)
    by_model = {row.key: row for row in usage_summary(store, by="model")}
    assert set(by_model) == {"m-a", "m-b"}
    assert (by_model["m-a"].runs, by_model["m-a"].provider) == (2, "test")
    assert by_model["m-b"].cost_usd is None and by_model["m-b"].priced_runs == 0
    by_profile = {row.key: row.input_tokens for row in usage_summary(store, by="profile")}
    assert by_profile == {"p1": 10, "p2": 50}
    (day,) = usage_summary(store, by="day")
    assert len(day.key) == 10 and day.runs == 3
    assert usage_summary(store, since_ms=2**62) == []
    assert [r.forked for r in store.list_turns(runs_only=True)] == [False, False, False]
    # the fork's own session totals leave out the copied turn
    assert store.session_info(forked).input_tokens is None
    with pytest.raises(ValueError, match="cannot group usage by 'week'"):
        usage_summary(store, by="week")  # type: ignore[arg-type]


def _old_database(path: Path) -> None:
    """A store as the first schema wrote it: one session with a run, and a fork of it."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at_ms INTEGER NOT NULL)")
    for statement in MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (MIGRATIONS[0].name,))
    conn.execute("INSERT INTO sessions(id, created_at_ms, updated_at_ms) VALUES ('s1', 1, 1)")
    conn.execute(
        "INSERT INTO sessions(id, created_at_ms, updated_at_ms, forked_from_session, forked_from_turn_seq) "
        "VALUES ('s2', 2, 2, 's1', 1)"
    )
    usage = orjson.dumps({"input_tokens": 50, "output_tokens": 5, "cache_read_input_tokens": 7}).decode()
    for seq, session, parent in ((1, "s1", None), (2, "s2", 1), (3, "s2", 2)):
        conn.execute(
            "INSERT INTO turns(seq, session_id, turn_id, outcome, parent_seq, created_at_ms, model, "
            "input_tokens, output_tokens, usage_json, block_count) VALUES (?, ?, ?, 'completed', ?, ?, "
            "'old-model', 50, 5, ?, 0)",
            (seq, session, f"t{seq}", parent, seq, usage),
        )
    conn.commit()
    conn.close()


def test_an_old_database_migrates_and_keeps_its_facts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_database(path)
    with TurnStore(path) as store:
        records = store.list_turns()
        assert [r.forked for r in records] == [False, True, False]
        assert [r.cache_read_tokens for r in records] == [7, 7, 7]
        assert all(r.cost_usd is None and r.duration_ms is None and r.profile == "" for r in records)
        (total,) = usage_summary(store)
        assert (total.runs, total.input_tokens, total.priced_runs, total.cost_usd) == (2, 100, 0, None)
        _run(store, "new-model", Usage(input_tokens=1, output_tokens=1))
    conn = sqlite3.connect(path)
    names = {name for (name,) in conn.execute("SELECT name FROM schema_migrations")}
    conn.close()
    assert names == {migration.name for migration in MIGRATIONS}
