from __future__ import annotations

from geppetto.turns import Block, BlockKind, PrettyPrinter, Turn, format_turn


def sample_turn() -> Turn:
    return Turn(
        [
            Block.system("You are brief. "),
            Block.user("What is 2+2?"),
            Block.reasoning("adding"),
            Block.reasoning(encrypted_content="opaque"),
            Block(BlockKind.REASONING, "assistant"),
            Block.tool_call("c1", "add", {"b": 2, "a": 2}),
            Block.tool_use("c1", "4"),
            Block.tool_use("c2", None, "boom"),
            Block.assistant("4"),
            Block(BlockKind.USER, "user"),
            Block(BlockKind.OTHER, payload={"x": 1}),
        ],
        id="t1",
    )


def test_reference_line_format() -> None:
    assert format_turn(sample_turn()) == (
        "system: You are brief. \n"
        "user: What is 2+2?\n"
        "reasoning: adding\n"
        "reasoning: <encrypted content>\n"
        "reasoning: <no content>\n"
        "tool_call: add\n"
        "tool_use: id=c1\n"
        "tool_use: id=c2 error=boom\n"
        "assistant: 4\n"
        "user: <no text>\n"
        "other block kind\n"
    )


def test_pretty_printer_details() -> None:
    turn = sample_turn()
    turn.blocks[0].id = "b0"
    text = PrettyPrinter(include_ids=True).format(turn)
    lines = text.splitlines()
    assert lines[0] == "turn id=t1"
    assert lines[1] == "[00] id=b0 system: You are brief. "
    assert "[05] id=c1 tool_call: name=add id=c1" in lines
    assert '  args: {"a":2,"b":2}' in lines
    assert "  error: boom" in lines
    assert "  result: 4" in lines
    plain = PrettyPrinter().format(turn)
    assert plain.splitlines()[1] == "[01] user: What is 2+2?"


def test_pretty_printer_clips_long_text_and_shows_metadata() -> None:
    turn = Turn([Block.assistant("a\nb\nc\nd")], metadata={"geppetto.model@v1": "m"})
    text = PrettyPrinter(max_text_lines=2, include_metadata=True).format(turn)
    assert text == '[00] assistant: a\n  b\n  ... (2 more lines)\nmetadata:\n  geppetto.model@v1: "m"\n'
