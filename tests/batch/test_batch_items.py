"""Batch input: items from JSONL, CSV and Parquet, and every bad row reported where it is."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from geppetto.batch.items import Template, parse_item, read_items


def _jsonl(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_jsonl_items_and_problems_keep_their_line_numbers(tmp_path: Path) -> None:
    src = _jsonl(
        tmp_path / "in.jsonl",
        '{"id": "a", "prompt": "one", "system": "be short"}',
        "{not json",
        '{"prompt": "no id"}',
        "",
        '{"id": "a", "prompt": "again"}',
        '{"id": 7, "turn": {"blocks": [{"kind": "user", "payload": {"text": "hi"}}]}}',
        '{"id": "s", "prompt": "x", "profile": "fast", "settings": {"ai-temperature": 0.1}, "topic": "t"}',
        '{"id": "e", "prompt": "   "}',
        "[1, 2]",
    )
    parsed = read_items(src)
    assert [item.id for item in parsed.items] == ["a", 7, "s"]
    first, turn_item, with_settings = parsed.items
    assert (first.prompt, first.system, first.where) == ("one", "be short", f"{src}:1")
    assert turn_item.turn is not None and turn_item.prompt == ""
    assert with_settings.profile == "fast"
    assert with_settings.settings == {"ai-temperature": 0.1}
    assert with_settings.fields == {"topic": "t"}
    problems = [(p.where.rsplit(":", 1)[1], p.message) for p in parsed.problems]
    assert [line for line, _ in problems] == ["2", "3", "5", "8", "9"]
    assert problems[0][1].startswith("invalid JSON")
    assert problems[1][1] == "missing 'id'"
    assert problems[2][1] == f"duplicate id 'a' (first at {src}:1)"
    assert "non-empty 'prompt'" in problems[3][1]
    assert problems[4][1] == "expected a JSON object, got list"


def test_a_bad_turn_is_reported_at_parse_time() -> None:
    with pytest.raises(ValueError, match=r"'turn' is not a valid turn: turn\.blocks must be a list"):
        parse_item({"id": 1, "turn": {"blocks": "user: hi"}})
    with pytest.raises(ValueError, match="'turn' has no blocks"):
        parse_item({"id": 1, "turn": {"blocks": []}})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": True, "prompt": "x"}, "'id' must be a string or an integer"),
        ({"id": 1.5, "prompt": "x"}, "'id' must be a string or an integer"),
        ({"id": 1, "prompt": 3}, "'prompt' must be a string"),
        ({"id": 1, "prompt": "x", "settings": [1]}, "'settings' must be an object"),
        ({"id": 1, "prompt": "x", "settings": "{bad"}, "'settings' is not a JSON object"),
        ({"id": 1, "prompt": "x", "profile": 3}, "'profile' must be a string"),
    ],
)
def test_field_types_are_checked(row: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_item(row)


def test_template_fills_from_the_item_fields() -> None:
    tpl = Template("Classify: {text} ({lang})")
    item = parse_item({"id": 1, "text": "bonjour", "lang": "fr"}, template=tpl)
    assert item.prompt == "Classify: bonjour (fr)"
    with pytest.raises(ValueError, match="needs field 'lang'"):
        parse_item({"id": 2, "text": "hi"}, template=tpl)
    with pytest.raises(ValueError, match="name each field"):
        Template("positional {}")


def test_item_round_trips_through_to_dict() -> None:
    item = parse_item(
        {"id": "x", "prompt": "p", "system": "s", "profile": "f", "settings": {"a": 1}, "k": 2}, "f:3"
    )
    again = parse_item(item.to_dict())
    assert again == item


def test_csv_rows_report_the_line_they_start_on(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        'id,text,settings\n1,"two\nlines",\n,missing id,\n3,plain,"{""ai-temperature"": 0.5}"\n1,dup,\n'
    )
    parsed = read_items(src, template="Say: {text}")
    assert [(item.id, item.prompt) for item in parsed.items] == [
        ("1", "Say: two\nlines"),
        ("3", "Say: plain"),
    ]
    assert parsed.items[1].settings == {"ai-temperature": 0.5}
    assert [str(p) for p in parsed.problems] == [
        f"{src}:4: missing 'id'",
        f"{src}:6: duplicate id '1' (first at {src}:2)",
    ]


def test_csv_without_an_id_column_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("text\nhello\n")
    with pytest.raises(ValueError, match="needs an 'id' column"):
        read_items(src)


def test_parquet_rows(tmp_path: Path) -> None:
    import pyarrow as pa  # type: ignore[import-untyped]  # a batch dependency: missing fails this test
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    src = tmp_path / "in.parquet"
    table = pa.table(
        {"id": [1, 2, None], "prompt": ["a", "b", "c"], "settings": [None, '{"ai-top-p": 0.5}', None]}
    )
    pq.write_table(table, src)
    parsed = read_items(src)
    assert [(item.id, item.prompt, item.settings) for item in parsed.items] == [
        (1, "a", {}),
        (2, "b", {"ai-top-p": 0.5}),
    ]
    assert [str(p) for p in parsed.problems] == [f"{src}:row 3: missing 'id'"]


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "in.jsonl", orjson.dumps({"id": 1, "prompt": "x"}).decode())
    with pytest.raises(ValueError, match="unknown input format 'xml'"):
        read_items(src, fmt="xml")
