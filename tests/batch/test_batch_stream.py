"""Batch input and output are streamed: memory holds ids, never every row; the CLI's plan is a
re-iterable stream; Parquet is read one row group at a time."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from geppetto.batch.items import BatchItem, InputProblem
from geppetto.batch.output import ResultWriter, read_output
from geppetto.batch.source import InputSource
from geppetto.cli import main

ROWS = 4000
PROMPT = "x" * 4000  # a 16 MB input: far more than the ids the scan keeps


def _big_jsonl(path: Path) -> Path:
    with path.open("wb") as f:
        for n in range(ROWS):
            f.write(orjson.dumps({"id": n, "prompt": f"{n} {PROMPT}"}) + b"\n")
        f.write(b"{broken\n")
        f.write(orjson.dumps({"id": 5, "prompt": "a repeat"}) + b"\n")
    return path


def _peak(work: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_scanning_and_iterating_keep_ids_not_rows(tmp_path: Path) -> None:
    src = _big_jsonl(tmp_path / "in.jsonl")
    size = src.stat().st_size
    source = InputSource(src, skip={"0", "1"})

    def scan() -> tuple[int, list[InputProblem]]:
        count, problems = 0, []
        for entry in source.scan():
            if isinstance(entry, InputProblem):
                problems.append(entry)
            else:
                count += 1
        return count, problems

    (count, problems), peak = _peak(scan)
    assert count == ROWS
    assert [(p.where, p.message.split(":")[0]) for p in problems] == [
        (f"{src}:{ROWS + 1}", "invalid JSON"),
        (f"{src}:{ROWS + 2}", f"duplicate id 5 (first at {src}"),
    ]
    assert peak < size / 8, (peak, size)

    def first_ids() -> list[str | int]:
        ids = []
        for item in source:
            ids.append(item.id)
        return ids

    ids, peak = _peak(first_ids)
    assert ids == list(range(2, ROWS))  # done ids skipped, problems left out
    assert peak < size / 8, (peak, size)
    assert [item.id for item in source][:2] == [2, 3]  # re-iterable: reads the file again


def test_a_check_turns_items_into_located_problems(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "prompt": "a"}\n{"id": 2, "prompt": "b", "profile": "nope"}\n')
    source = InputSource(src, check=lambda item: "unknown profile" if item.profile else None)
    entries = list(source.scan())
    assert isinstance(entries[0], BatchItem)
    assert isinstance(entries[1], InputProblem)
    assert (entries[1].where, entries[1].message, entries[1].id) == (f"{src}:2", "unknown profile", 2)
    assert [item.id for item in source] == [1]


def test_reading_a_big_output_for_resume_keeps_ids_not_records(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResultWriter(out, fsync=False) as writer:
        writer.write({"id": n, "status": "ok", "answer": PROMPT} for n in range(ROWS))
    with out.open("ab") as f:
        f.write(b'{"id": "torn", "status": "ok", "ans')
    state, peak = _peak(lambda: read_output(out))
    assert len(state.status) == ROWS and state.torn and not state.bad_lines
    assert peak < out.stat().st_size / 8, peak
    ResultWriter(out).open().close()  # cuts the torn tail, reading only the end
    assert out.read_bytes().endswith(b"}\n")
    assert read_output(out).torn is False


def test_the_cli_hands_the_executor_a_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"id": {n}, "prompt": "p{n}"}}\n' for n in range(5)) + "{bad\n")
    out = tmp_path / "out.jsonl"
    seen: dict[str, Any] = {}

    def executor(plan: Any, on_written: Callable[[Any], None]) -> None:
        seen["type"] = type(plan.items)
        seen["ids"] = [item.id for item in plan.items]
        seen["again"] = [item.id for item in plan.items]

    monkeypatch.setattr("geppetto.cli.batch._executor", lambda _args: executor)
    code = main(["batch", str(src), "-o", str(out), "--ai-api-type", "echo", "--quiet"])
    assert code == 1  # one bad line
    assert seen == {"type": InputSource, "ids": [0, 1, 2, 3, 4], "again": [0, 1, 2, 3, 4]}
    assert f"{src}:6: invalid JSON" in capsys.readouterr().err


def test_parquet_is_read_one_row_group_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "in.parquet"
    table = pa.table({"id": list(range(10)), "prompt": [f"p{n}" for n in range(9)] + [""]})
    pq.write_table(table, path, row_group_size=3)
    groups: list[int] = []
    real = pq.ParquetFile.read_row_group

    def read_row_group(self: Any, index: int, *args: Any, **kwargs: Any) -> Any:
        groups.append(index)
        return real(self, index, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", read_row_group)
    monkeypatch.setattr(pq, "read_table", None)  # the whole-table reader is not used
    source = InputSource(path)
    stream = iter(source)
    assert next(stream).id == 0
    assert groups == [0]  # nothing past the first row group read yet
    rest = list(source.scan())
    assert groups[1:] == [0, 1, 2, 3]
    problem = rest[-1]
    assert isinstance(problem, InputProblem) and problem.where == f"{path}:row 10"


def test_the_progress_bar_is_redrawn_at_most_once_an_interval() -> None:
    import io

    from geppetto.batch.progress import BatchProgress, BatchStats
    from geppetto.batch.result import BatchResult

    now = [0.0]
    stats = BatchStats(total=1000)
    stream = io.StringIO()
    with BatchProgress(stats, stream, show=True, interval=0.1, clock=lambda: now[0]) as progress:
        for n in range(1000):
            progress.update(BatchResult(id=n))
            now[0] += 0.001  # 1,000 results a second: a redraw every 100 results
        assert stats.done == 1000  # the counts are never throttled
        assert progress.redraws == 10
    assert progress.redraws == 11  # and once more at the end, with the final counts
    assert "1000/1000" in stream.getvalue()
