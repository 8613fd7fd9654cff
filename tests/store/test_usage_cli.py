"""``geppetto usage``, ``geppetto logs``, ``geppetto tokens count`` and the usage in ``sessions``
(in-process, against a real SQLite store)."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from geppetto.cli import main
from geppetto.cli.usage import format_cost, format_duration
from geppetto.engines import RunContext, StreamAccumulator
from geppetto.events import Usage
from geppetto.profiles import ModelCost, ModelInfo
from geppetto.session import EngineBuilder, Session
from geppetto.store import TurnStore
from geppetto.turns import Turn

PRICE = ModelInfo(cost=ModelCost(input=1.0, output=2.0))
HOSTILE = "evil\x1b]0;pwned\x07model"


class Metered:
    name = "metered"

    def __init__(self, model: str, usage: Usage, stop: str = "stop") -> None:
        self.model, self.usage, self.stop = model, usage, stop

    async def run(self, turn: Turn, ctx: RunContext) -> Turn:
        with StreamAccumulator(turn, ctx, provider="test", model=self.model) as acc:
            acc.start()
            acc.add_text("ok")
            acc.set_usage(self.usage)
            acc.set_stop_reason(self.stop)
            return acc.finish()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "turns.db"
    with TurnStore(path) as store:
        cheap = EngineBuilder(Metered("m-a", Usage(input_tokens=1000, output_tokens=500)))
        cheap.with_model_info(PRICE, profile="fast")
        first = Session(cheap, session_id="aaaa1111", store=store)
        first.run(Turn.builder().user("one").build())
        first.append_user_prompt("two")
        first.run()
        hostile = EngineBuilder(Metered(HOSTILE, Usage(input_tokens=7, output_tokens=3), stop="length"))
        Session(hostile, session_id="bbbb2222", store=store).run(Turn.builder().user("three").build())
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_usage_totals_groups_and_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = cli(capsys, "usage", "--store", str(db))
    header, row, note = text.splitlines()
    assert header.split()[:3] == ["RUNS", "IN", "OUT"]
    assert row.split()[:3] == ["3", "2007", "1003"]
    assert "$0.0040" in row and "2/3" in row
    assert "declare model_info.cost" in note
    by_model = cli(capsys, "usage", "--by", "model", "--store", str(db))
    assert "test:m-a" in by_model and "\x1b" not in by_model and "\u241b" in by_model
    assert by_model.splitlines()[-2].startswith("total")
    document = orjson.loads(cli(capsys, "usage", "--by", "profile", "--json", "--store", str(db)))
    assert {group["key"]: group["runs"] for group in document["groups"]} == {"": 1, "fast": 2}
    assert document["total"]["cost_usd"] == pytest.approx(0.004)
    assert document["total"]["priced_runs"] == 2
    assert "no stored runs" in cli(capsys, "usage", "--since", "2999-01-01", "--store", str(db))
    assert "no stored runs" in cli(capsys, "usage", "--store", str(db.with_name("missing.db")))


def test_logs_table_json_limit_and_session(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = cli(capsys, "logs", "--store", str(db))
    lines = text.splitlines()
    assert lines[0].split() == [
        "TIME", "SESSION", "PROFILE", "MODEL", "IN", "OUT", "CACHED", "COST", "DURATION", "FINISH",
    ]  # fmt: skip
    assert len(lines) == 4
    assert "fast" in lines[1] and "$0.0020" in lines[1] and "completed" in lines[1]
    assert "\x1b" not in text and "max_tokens" in lines[3]
    entries = orjson.loads(cli(capsys, "logs", "-n", "2", "--json", "--store", str(db)))
    assert [entry["session_id"] for entry in entries] == ["aaaa1111", "bbbb2222"]
    assert entries[1]["model"] == HOSTILE  # JSON stays exact
    assert entries[0]["cost_usd"] == pytest.approx(0.002) and entries[1]["cost_usd"] is None
    assert all(isinstance(entry["duration_ms"], int) for entry in entries)
    only = orjson.loads(cli(capsys, "logs", "--session", "aaaa", "--json", "--store", str(db)))
    assert len(only) == 2 and {entry["profile"] for entry in only} == {"fast"}
    assert main(["logs", "-n", "0", "--store", str(db)]) != 0
    assert "-n must be at least 1" in capsys.readouterr().err


def test_sessions_list_and_show_print_tokens_and_cost(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = cli(capsys, "sessions", "list", "--store", str(db))
    row = next(line for line in listed.splitlines() if line.startswith("aaaa1111"))
    assert "2000" in row and "1000" in row and "$0.0040" in row
    rows = orjson.loads(cli(capsys, "sessions", "list", "--json", "--store", str(db)))
    first = next(r for r in rows if r["id"] == "aaaa1111")
    assert (first["input_tokens"], first["output_tokens"]) == (2000, 1000)
    shown = cli(capsys, "sessions", "show", "aaaa", "--store", str(db))
    assert "usage    2000 in, 1000 out, cost $0.0040" in shown
    header = next(line for line in shown.splitlines() if line.startswith("#"))
    columns = ["#", "TURN", "OUTCOME", "FINISH", "MODEL", "IN", "OUT", "COST", "TOOK", "BLOCKS", "TIME"]
    assert header.split() == columns


def test_tokens_count_estimates_for_echo_and_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = orjson.loads(cli(capsys, "tokens", "count", "abcdefgh", "--ai-api-type", "echo", "--json"))
    assert result == {
        "input_tokens": 4 + 2,
        "method": "estimate",
        "provider": "echo",
        "model": "",
        "estimated": True,
    }
    monkeypatch.setattr("sys.stdin", io.StringIO("abcd\n"))
    assert main(["tokens", "count", "-", "--ai-api-type", "echo", "--system", "abcd"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{2 * 4 + 2}\n"  # two messages of one token each, stdin's newline dropped
    assert captured.err.startswith("estimated: this engine has no count endpoint (echo)")


def test_formats() -> None:
    assert (format_cost(None), format_cost(0.00042), format_cost(12.345)) == ("-", "$0.0004", "$12.35")
    assert (format_duration(None), format_duration(850), format_duration(2300)) == ("-", "850ms", "2.3s")
    assert format_duration(65_000) == "1m05s"
