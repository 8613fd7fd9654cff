"""``turns.*`` (spec §1.3-§1.4): shapes, canonicalisation, fresh objects and reference errors."""

from __future__ import annotations

import uuid

import pytest

from geppetto.js import JSScriptError

from .conftest import JSHarness


def test_new_turn_and_text_blocks(js: JSHarness) -> None:
    empty, seeded, user, system, assistant, missing, number = js.run(
        """
        report(g.turns.newTurn());
        report(g.turns.newTurn({id: 't1', blocks: [{kind: 'user', payload: {text: 'x'}}]}));
        report(g.turns.newUserBlock('hi'));
        report(g.turns.newSystemBlock('sys'));
        report(g.turns.newAssistantBlock('ok'));
        report(g.turns.newUserBlock());
        report(g.turns.newUserBlock(1.5));
        """
    )
    assert empty == {"id": "", "blocks": []}
    assert seeded == {
        "id": "t1",
        "blocks": [{"id": "", "kind": "user", "role": "", "payload": {"text": "x"}}],
    }
    assert (user["kind"], user["role"], user["payload"]) == ("user", "user", {"text": "hi"})
    assert (system["kind"], system["role"]) == ("system", "system")
    assert (assistant["kind"], assistant["role"], assistant["payload"]) == (
        "llm_text",
        "assistant",
        {"text": "ok"},
    )
    assert missing["payload"] == {"text": ""}
    assert number["payload"] == {"text": "1.5"}
    for block in (user, system, assistant):
        assert uuid.UUID(block["id"]).version == 4
        assert "metadata" not in block
    assert user["id"] != system["id"]


def test_tool_blocks(js: JSHarness) -> None:
    call, use, failed = js.run(
        """
        report(g.turns.newToolCallBlock('c1', 'calc', {x: [1, 2]}));
        report(g.turns.newToolUseBlock('c1', {v: 3}));
        report(g.turns.newToolUseBlock('c2', null, 'boom'));
        """
    )
    assert call == {
        "id": "c1",
        "kind": "tool_call",
        "role": "",
        "payload": {"id": "c1", "name": "calc", "args": {"x": [1, 2]}},
    }
    assert use["kind"] == "tool_use" and use["role"] == ""
    assert use["payload"] == {"id": "c1", "result": {"v": 3}, "error": ""}
    assert use["id"] != "c1" and uuid.UUID(use["id"])
    assert failed["payload"] == {"id": "c2", "result": None, "error": "boom"}


def test_normalize_canonicalises(js: JSHarness) -> None:
    out = js.one(
        """
        report(g.turns.normalize({
          id: 5,
          blocks: [
            {kind: ' User ', role: 'user', text: 'hi', id: 'b1'},
            {kind: 'bogus'},
            {role: 7, payload: {text: 'keep'}, metadata: {middleware: 'm', 'x@v2': 1, extra: true}},
            {kind: 'tool_call', id: 'c1', name: 'calc', args: {a: 1}},
          ],
          metadata: {session_id: 's', usage: {input_tokens: 1}, custom: 'c'},
          data: {},
        }));
        """
    )
    assert out["id"] == ""
    kinds = [b["kind"] for b in out["blocks"]]
    assert kinds == ["user", "other", "other", "tool_call"]
    assert out["blocks"][0]["payload"] == {"text": "hi", "id": "b1"}  # shorthand: id is also payload.id
    assert out["blocks"][1]["payload"] == {}
    assert out["blocks"][2]["role"] == ""
    assert out["blocks"][2]["metadata"] == {"middleware": "m", "x@v2": 1, "geppetto.extra@v1": True}
    assert out["blocks"][3]["payload"] == {"id": "c1", "name": "calc", "args": {"a": 1}}
    assert out["metadata"] == {"session_id": "s", "usage": {"input_tokens": 1}, "geppetto.custom@v1": "c"}
    assert "data" not in out


def test_non_array_blocks_are_ignored_and_ints_survive(js: JSHarness) -> None:
    out = js.one("report(g.turns.normalize({blocks: 'nope', metadata: {usage: {big: 9007199254740991}}}))")
    assert out == {"id": "", "blocks": [], "metadata": {"usage": {"big": 9007199254740991}}}


def test_append_block_returns_a_new_turn(js: JSHarness) -> None:
    before, after, same = js.run(
        """
        const t = {id: 't', blocks: [g.turns.newUserBlock('a')]};
        const out = g.turns.appendBlock(t, g.turns.newAssistantBlock('b'));
        report(t.blocks.length); report(out.blocks.length); report(out.blocks[0] === t.blocks[0]);
        """
    )
    assert (before, after, same) == (1, 2, False)


def test_results_are_fresh_objects(js: JSHarness) -> None:
    assert (
        js.one(
            """
        const t = g.turns.newTurn({blocks: [{kind: 'user', payload: {text: 'x', nested: {a: 1}}}]});
        const n = g.turns.normalize(t);
        n.blocks[0].payload.nested.a = 2;
        report(t.blocks[0].payload.nested.a);
        """
        )
        == 1
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("g.turns.normalize()", "turns.normalize requires turn"),
        ("g.turns.normalize(null)", "turns.normalize requires turn"),
        ("g.turns.appendBlock({blocks: []})", "turns.appendBlock requires turn and block"),
        ("g.turns.appendBlock()", "turns.appendBlock requires turn and block"),
        ("g.turns.newToolCallBlock('id', 'name')", "turns.newToolCallBlock requires id, name, args"),
        ("g.turns.newToolUseBlock('id')", "turns.newToolUseBlock requires id, result[, error]"),
        ("g.turns.normalize('text')", "turns.normalize: turn must be an object"),
        ("g.turns.appendBlock({blocks: []}, 3)", "turns.appendBlock: block must be an object"),
    ],
)
def test_argument_errors_are_type_errors(js: JSHarness, call: str, message: str) -> None:
    name, msg = js.one(f"try {{ {call}; report('no error') }} catch (e) {{ report([e.name, e.message]) }}")
    assert (name, msg) == ("TypeError", message)


@pytest.mark.parametrize(
    ("turn", "fragment"),
    [
        ("{blocks: [3]}", "block must be an object"),
        ("{metadata: {when: () => 1}}", 'decode turn metadata key "when"'),
        ("{blocks: [{kind: 'user', payload: {fn() {}}}]}", "not JSON-serializable"),
        ("(() => { const o = {blocks: []}; o.self = o; return o; })()", "circular"),
        ("{blocks: [{kind: 'user', payload: {n: 10n}}]}", "BigInt"),
    ],
)
def test_malformed_turns_are_catchable(js: JSHarness, turn: str, fragment: str) -> None:
    result = js.one(
        f"""
        try {{ g.turns.normalize({turn}); report('no error') }}
        catch (e) {{ report([e instanceof Error, e.message]) }}
        """
    )
    assert result[0] is True
    assert fragment.lower() in result[1].lower()


def test_decode_errors_can_be_left_uncaught(js: JSHarness) -> None:
    with pytest.raises(JSScriptError, match="block must be an object"):
        js.run("g.turns.normalize({blocks: [null]})")
    assert js.one("report(g.turns.newTurn().blocks.length)") == 0  # the host keeps working
