// Sessions: history, run, runAsync, start() with streamed events, cancellation and timeouts.
// Run: geppetto js run examples/js/sessions.js
const { createSession, engines, turns, consts } = require('geppetto');

const session = createSession({ engine: engines.echo({ reply: 'one two three', delayMs: 10 }) });
const ask = (text) => ({ blocks: [turns.newUserBlock(text)] });

// Synchronous run: the seed is appended, the inference mutates the latest turn.
const first = session.run(ask('hello'));
assert(session.turnCount() === 1 && first.blocks.length === 2, 'run appends and completes');
first.blocks.length = 0;
assert(session.latest().blocks.length === 2, 'returned turns are snapshots, never history itself');

// runAsync: registered before it returns; a second start is rejected without appending.
const pending = session.runAsync(ask('again'));
assert(session.isRunning(), 'running right after runAsync');
try {
  await session.runAsync(ask('too soon'));
  assert(false, 'should have been rejected');
} catch (e) {
  assert(e instanceof Error && e.message === 'session already has an active inference', e.message);
}
await pending;
assert(session.turnCount() === 2 && !session.isRunning(), 'second turn done');

// start(): a run handle with events. Listeners added in the same tick see every event.
const handle = session.start(ask('stream it'));
const deltas = [];
const types = [];
handle.on(consts.EventType.PARTIAL, (e) => deltas.push(e.delta)).on('*', (e) => types.push(e.type));
const streamed = await handle.promise;
assert(types[0] === 'start' && types[types.length - 1] === 'final', types.join(','));
assert(deltas.join('') === 'one two three', deltas.join('|'));
assert(streamed.blocks.length === 2, 'each session turn carries its own seed');

// Cancellation: the promise rejects promptly with code "cancelled"; the session stays usable.
const slow = createSession({ engine: engines.echo({ reply: 'this takes a while', delayMs: 1000 }) });
const running = slow.start(ask('go'));
setTimeout(() => running.cancel(), 20);
try {
  await running.promise;
  assert(false, 'should have been cancelled');
} catch (e) {
  assert(e.code === 'cancelled', `code ${e.code}`);
}
assert(!slow.isRunning(), 'idle after cancel');

// cancelActive() stops a synchronous run too (timers keep firing while run() waits).
setTimeout(() => slow.cancelActive(), 20);
try {
  slow.run(ask('again'));
  assert(false, 'should have been cancelled');
} catch (e) {
  assert(e.code === 'cancelled', `code ${e.code}`);
}

// Run options: a deadline, and tags that middlewares, tools and hooks can read.
try {
  await slow.runAsync(ask('too slow'), { timeoutMs: 30, tags: { request: 'r-1' } });
  assert(false, 'should have timed out');
} catch (e) {
  assert(e.code === 'timeout', `code ${e.code}`);
}
assert(slow.turnCount() === 3, `history keeps cancelled runs: ${slow.turnCount()}`);
console.log(`streamed ${deltas.length} deltas; history holds ${session.turnCount()} turns`);
