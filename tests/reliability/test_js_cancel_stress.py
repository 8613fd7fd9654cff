"""Cancellation stress from JS: rapid start/cancel/wait cycles through the real ``require('geppetto')``.

A JS script starts a run on a session whose echo engine would pause for a minute before its first
word, cancels it at different stages (at once, after a turn of the event loop, after the ``start``
event) through ``handle.cancel()`` and ``session.cancelActive()`` in turn, and awaits the rejected
promise. Afterwards: exactly one settlement per cycle seen by JS, all of them ``cancelled``, nothing
running, no task left on the runtime's background loop, no extra thread, and the session still runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.jsapi.conftest import JSHarness
from tests.reliability.test_cancel_stress import (
    background_tasks,
    eventually,
    new_threads,
    threads_besides_executors,
)

from geppetto.background import background_loop

pytestmark = pytest.mark.timeout(300)

CYCLES = 1_000

# ``ctx.tags.quick`` lets the final check run without the slow engine: the middleware answers itself.
SCRIPT = """
const quick = (turn, next, ctx) => ctx.tags && ctx.tags.quick
  ? {...turn, blocks: [...turn.blocks, g.turns.newAssistantBlock('quick')]}
  : next(turn);
const s = g.createSession({engine: g.engines.echo({reply: 'never', delayMs: 60000}), middlewares: [quick]});
const settled = new Array(CYCLES).fill(0);
const codes = {};
const interrupts = [];
for (let i = 0; i < CYCLES; i++) {
  const h = s.start({blocks: [g.turns.newUserBlock('q' + i)]});
  let started = false;
  const startSeen = new Promise((resolve) => h.on('start', () => { started = true; resolve(); }));
  h.on('interrupt', () => interrupts.push(i));
  const outcome = h.promise.then(
    () => { settled[i]++; codes.resolved = (codes.resolved || 0) + 1; },
    (e) => { settled[i]++; const k = (e instanceof Error) + ':' + e.code; codes[k] = (codes[k] || 0) + 1; },
  );
  const stage = i % 3;
  if (stage === 1) await new Promise((r) => setTimeout(r, 0));
  if (stage === 2) await Promise.race([startSeen, outcome]);  // never wait on a start that failed
  if (i % 2) h.cancel(); else s.cancelActive();
  await outcome;
  if (!started && stage === 2) throw new Error('cycle ' + i + ' ended before it started');
  if (s.isRunning()) throw new Error('still running after cycle ' + i);
}
await new Promise((r) => setTimeout(r, 50));  // room for any late, second settlement
report(settled.filter((n) => n !== 1).length);
report(codes);
report(s.turnCount());
report(s.isRunning());
report(s.turns().every((t, i) => t.blocks[0].payload.text === 'q' + i));
report(interrupts.length);
const out = await s.runAsync({blocks: [g.turns.newUserBlock('after')]}, {tags: {quick: true}});
report(out.blocks.map((b) => b.payload.text));
report(s.turnCount());
"""


def test_js_start_cancel_wait_cycles_leave_nothing_behind(js: JSHarness) -> None:
    js_start_cancel_wait_cycles(js, CYCLES, timeout=240)


@pytest.mark.heavy
@pytest.mark.timeout(1800)
def test_js_start_cancel_wait_cycles_heavy(js: JSHarness) -> None:
    """The same with 10,000 cycles; deselected by default (pyproject addopts), run with ``-m heavy``."""
    js_start_cancel_wait_cycles(js, 10 * CYCLES, timeout=1500)


def js_start_cancel_wait_cycles(js: JSHarness, cycles: int, *, timeout: float) -> None:
    loop = background_loop()
    tasks_before = background_tasks(loop)
    threads = threads_besides_executors()

    reports: list[Any] = js.run(SCRIPT.replace("CYCLES", str(cycles)), timeout=timeout)
    bad_settlements, codes, count, running, inputs_kept, interrupts, final_texts, final_count = reports

    assert bad_settlements == 0  # every cycle's promise settled exactly once
    assert codes == {"true:cancelled": cycles}
    assert count == cycles and running is False and inputs_kept is True
    assert interrupts >= cycles // 3  # every run cancelled after its start event said it was interrupted
    assert final_texts == ["after", "quick"] and final_count == cycles + 1
    assert js.eval("6 * 7") == 42  # the runtime still answers
    assert eventually(lambda: background_tasks(loop) <= tasks_before), (background_tasks(loop), tasks_before)
    assert eventually(lambda: not new_threads(threads)), new_threads(threads)
