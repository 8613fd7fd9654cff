"""Cancellation stress through the agent API: ``session.next().user(..).runAsync()`` start/cancel
cycles, cancelled at once, after a turn of the event loop, or after the run's ``run-started``
event reached an agent ``events()`` listener, through ``handle.cancel()``, ``handle.close()`` and
``session.cancel()`` in turn. Afterwards: one settlement per cycle, all ``cancelled`` Errors,
nothing running, no task left on the background loop, no extra thread, and the session still runs.
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

SCRIPT = """
let onStarted = null;
const quick = (turn, next, ctx) => ctx.tags && ctx.tags.quick
  ? {...turn, blocks: [...turn.blocks, g.turns.newAssistantBlock('quick')]}
  : next(turn);
const agent = g.agent()
  .engine(g.engines.echo({reply: 'never', delayMs: 60000}))
  .middleware(quick)
  .events((ev) => { if (ev.type === 'run-started' && onStarted) onStarted(); })
  .build();
const s = agent.session().id('agent-stress').build();
const settled = new Array(CYCLES).fill(0);
const codes = {};
for (let i = 0; i < CYCLES; i++) {
  let started = false;
  const startSeen = new Promise((resolve) => { onStarted = () => { started = true; resolve(); }; });
  const h = s.next().user('q' + i).runAsync();
  const outcome = h.promise.then(
    () => { settled[i]++; codes.resolved = (codes.resolved || 0) + 1; },
    (e) => { settled[i]++; const k = (e instanceof Error) + ':' + e.code; codes[k] = (codes[k] || 0) + 1; },
  );
  const stage = i % 3;
  if (stage === 1) await new Promise((r) => setTimeout(r, 0));
  if (stage === 2) await Promise.race([startSeen, outcome]);
  const how = i % 3;
  if (how === 0) h.cancel(); else if (how === 1) h.close(); else s.cancel();
  await outcome;
  if (!started && stage === 2) throw new Error('cycle ' + i + ' ended before it started');
  if (s.isRunning()) throw new Error('still running after cycle ' + i);
}
await new Promise((r) => setTimeout(r, 50));  // room for any late, second settlement
report(settled.filter((n) => n !== 1).length);
report(codes);
report(s.turnCount());
report(s.isRunning());
const out = await s.next().user('after').runAsync({tags: {quick: true}}).promise;
report(out.outputTurn().toJSON().blocks.slice(-2).map((b) => b.payload.text));
report(s.turnCount());
"""


def test_agent_run_async_cancel_cycles_leave_nothing_behind(js: JSHarness) -> None:
    agent_cancel_cycles(js, 100, timeout=120)


@pytest.mark.heavy
@pytest.mark.timeout(900)
def test_agent_run_async_cancel_cycles_heavy(js: JSHarness) -> None:
    """1,000 cycles; deselected by default (pyproject addopts), run with ``-m heavy``."""
    agent_cancel_cycles(js, 1_000, timeout=800)


def agent_cancel_cycles(js: JSHarness, cycles: int, *, timeout: float) -> None:
    loop = background_loop()
    tasks_before = background_tasks(loop)
    threads = threads_besides_executors()

    reports: list[Any] = js.run(SCRIPT.replace("CYCLES", str(cycles)), timeout=timeout)
    bad_settlements, codes, count, running, final_texts, final_count = reports

    assert bad_settlements == 0  # every cycle's promise settled exactly once
    assert codes == {"true:cancelled": cycles}
    assert count == cycles and running is False
    assert final_texts == ["after", "quick"] and final_count == cycles + 1
    assert js.eval("6 * 7") == 42
    assert eventually(lambda: background_tasks(loop) <= tasks_before), (background_tasks(loop), tasks_before)
    assert eventually(lambda: not new_threads(threads)), new_threads(threads)
