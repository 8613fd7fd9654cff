// Turn stores: persist every run, continue a stored session, fork it, and query what was stored.
// Run: geppetto js run examples/js/store.js --store /tmp/geppetto-example.db
// (without --store it writes to the default store: $GEPPETTO_STORE, else ~/.local/share/geppetto/turns.db)
// geppetto-js-args: --store $TMP/turns.db
const { createSession, createBuilder, engines, turns, turnStores } = require('geppetto');

const ask = (text) => ({ blocks: [turns.newUserBlock(text)] });
// run(seed) appends the seed as the session's next turn; carry the conversation on explicitly.
const next = (session, text) => ({ blocks: [...session.latest().blocks, turns.newUserBlock(text)] });
const texts = (turn) => turn.blocks.map((b) => b.payload.text);
const sessionId = `example-${Date.now()}`; // a fresh id: the example can run again on the same store

// store: true persists every run (completed, failed or cancelled) to the host's default store.
const chat = createSession({ engine: engines.echo({ reply: 'noted' }), sessionId, store: true });
chat.run(ask('my name is Ada'));
chat.run(next(chat, 'what is my name?'));

// resumeLatest: a new session (in a later process too) continues the stored history.
const resumed = createSession({
  engine: engines.echo({ reply: 'Ada' }),
  resumeLatest: { sessionId, required: true },
});
assert(resumed.id === sessionId && resumed.turnCount() === 2, 'resumed both stored turns');
const answer = resumed.run(next(resumed, 'say it again'));
assert(texts(answer).length === 6, 'the new turn carries the whole conversation');

// required: true fails loudly when there is nothing to continue.
try {
  createSession({ engine: engines.echo(), resumeLatest: { sessionId: 'no-such-session', required: true } });
  assert(false, 'should have thrown');
} catch (e) {
  assert(e.message === 'no stored turn found for session "no-such-session"', e.message);
}

// fork: branch off at the first turn into a new session; the stored blocks are shared, not copied.
const branch = createBuilder({ engine: engines.echo({ reply: 'Grace' }), fork: { sessionId, at: 0 } })
  .withStore()
  .buildSession();
assert(branch.id !== sessionId && branch.turnCount() === 1, 'a fork starts from one stored turn');
assert(texts(branch.run(next(branch, 'actually, call me Grace'))).join('|') === 'my name is Ada|noted|actually, call me Grace|Grace');

// A cancelled run is stored too, with its outcome.
const slow = createSession({ engine: engines.echo({ reply: 'never', delayMs: 600000 }), sessionId, resumeLatest: true });
const handle = slow.start(ask('this will be cancelled'));
handle.on('start', () => handle.cancel());
try {
  await handle.promise;
} catch (e) {
  assert(e.code === 'cancelled', e.code);
}

// turnStores: read what the host stored (JS never opens databases itself).
const store = turnStores.default();
const stored = store.list({ sessionId });
assert(stored.map((s) => s.outcome).join() === 'completed,completed,completed,cancelled', stored.map((s) => s.outcome).join());
const latest = store.loadLatest({ sessionId, outcome: 'completed' });
assert(latest.turn.blocks[latest.turn.blocks.length - 1].payload.text === 'Ada', 'latest completed reply');
const sessions = store.sessions({ limit: 2 }).map((s) => s.id);
assert(sessions.includes(branch.id) && sessions.includes(sessionId), sessions.join());
console.log(`stored ${stored.length} turns of ${sessionId} in store "${store.name()}"; forked into ${branch.id}`);
