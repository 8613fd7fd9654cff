"""``start()`` handles: seed names and ``"*"`` keep the seed view; the reference's other names
receive ``reference_view`` payloads."""

from __future__ import annotations

import pytest

from geppetto.js import JSScriptError

from .conftest import JSHarness


def test_star_listeners_see_exactly_the_seed_events(js: JSHarness) -> None:
    types = js.one(
        """
        const s = g.createSession({engine: g.engines.echo({reply: 'a b'})});
        const h = s.start({blocks: [g.turns.newUserBlock('x')]});
        const seen = [];
        h.on('*', (e) => seen.push(e.type));
        h.on('run-started', () => {});  // a reference listener does not change what '*' sees
        await h.promise;
        report(seen);
        """
    )
    assert types == ["start", "partial", "partial", "final"]


def test_reference_names_get_reference_payloads_in_order(js: JSHarness) -> None:
    seen = js.one(
        """
        const s = g.createSession({engine: g.engines.echo({reply: 'one two'})});
        const h = s.start({blocks: [g.turns.newUserBlock('question')]});
        const seen = [];
        for (const name of ['run-started', 'provider-call-started', 'text-segment-started',
                            'text-delta', 'text-segment-finished', 'provider-call-finished',
                            'run-finished', 'run-failed']) {
          h.on(name, (e) => seen.push(e));
        }
        await h.promise;
        report(seen);
        """
    )
    assert [e["type"] for e in seen] == [
        "run-started",
        "provider-call-started",
        "text-segment-started",
        "text-delta",
        "text-delta",
        "text-segment-finished",
        "provider-call-finished",
        "run-finished",
    ]
    assert seen[0]["prompt"] == "question"
    deltas = [(e["delta"], e["text"], e["sequence"]) for e in seen[3:5]]
    assert deltas == [("one", "one", 1), (" two", "one two", 2)]
    run_id = seen[0]["correlation"]["run_id"]
    assert all(e["inferenceId"] == run_id and e["correlation"]["run_id"] == run_id for e in seen)
    assert seen[3]["correlation"]["segment_id"] == f"echo:{run_id}:provider-call:0:segment:0:text"
    assert seen[-1]["status"] == "completed"
    assert all(isinstance(e["timestampMs"], int) for e in seen)


def test_a_failed_run_delivers_run_failed_before_the_rejection(js: JSHarness) -> None:
    error = js.one(
        """
        const broken = g.engines.fromFunction(() => { throw new Error('engine broke') });
        const s = g.createSession({engine: broken});
        const h = s.start({blocks: [g.turns.newUserBlock('x')]});
        const seen = [];
        h.on('run-failed', (e) => seen.push(e));
        try { await h.promise } catch (err) { seen.push({caught: err.message}) }
        report(seen);
        """
    )
    assert error[0]["type"] == "run-failed"
    assert "engine broke" in error[0]["message"]
    assert error[0]["error"] == error[0]["message"]
    assert "engine broke" in error[1]["caught"]


def test_cancel_delivers_run_stopped_before_the_promise_settles(js: JSHarness) -> None:
    seen = js.one(
        """
        const s = g.createSession({engine: g.engines.echo({reply: 'a b c d e f g', delayMs: 20})});
        const h = s.start({blocks: [g.turns.newUserBlock('x')]});
        const seen = [];
        h.on('text-delta', () => { if (seen.length === 0) { seen.push('delta'); h.cancel(); } });
        h.on('interrupt', (e) => seen.push(e.type));
        h.on('run-stopped', (e) => seen.push(e.type + ':' + e.reason));
        try { await h.promise } catch (err) { seen.push('rejected') }
        report(seen);
        """
    )
    assert seen == ["delta", "interrupt", "run-stopped:cancelled", "rejected"]


def test_a_throwing_reference_listener_fails_the_script(js: JSHarness) -> None:
    with pytest.raises(JSScriptError, match="listener broke"):
        js.run(
            """
            const h = g.createSession({engine: g.engines.echo()}).start({blocks: [{kind: 'user'}]});
            h.on('run-finished', () => { throw new Error('listener broke') });
            await h.promise;
            await new Promise((r) => setTimeout(r, 50));
            """
        )


def test_delta_text_is_rebuilt_in_js_also_for_late_listeners(js: JSHarness) -> None:
    got = js.one(
        """
        const s = g.createSession({engine: g.engines.echo({reply: 'a b c d e'})});
        const h = s.start({blocks: [g.turns.newUserBlock('x')]});
        const early = [], late = [];
        h.on('text-delta', (e) => {
          early.push(e.text);
          if (e.sequence === 2) h.on('text-delta', (e2) => late.push([e2.sequence, e2.text]));
        });
        await h.promise;
        report({early, late});
        """
    )
    assert got["early"] == ["a", "a b", "a b c", "a b c d", "a b c d e"]
    assert got["late"] == [[3, "a b c"], [4, "a b c d"], [5, "a b c d e"]]


def test_a_function_engine_delta_carries_the_whole_text(js: JSHarness) -> None:
    got = js.one(
        """
        const engine = g.engines.fromFunction((turn) => {
          turn.blocks.push(g.turns.newAssistantBlock('whole answer'));
          return turn;
        });
        const h = g.createSession({engine}).start({blocks: [g.turns.newUserBlock('x')]});
        const seen = [];
        h.on('text-delta', (e) => seen.push([e.delta, e.text, e.sequence]));
        h.on('text-segment-finished', (e) => seen.push(e.text));
        await h.promise;
        report(seen);
        """
    )
    assert got == [["whole answer", "whole answer", 1], "whole answer"]
