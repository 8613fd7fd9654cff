// Agents (the reference's current API): agent() -> session() -> next() -> run()/runAsync().
// Run: geppetto js run examples/js/agent.js
// With a profile registry: gp.agent().inference(gp.inferenceProfiles.resolve('name')) instead of .engine(...).
const gp = require('geppetto');

const seen = [];
const agent = gp.agent()
  .name('helper')
  .engine(gp.engines.echo({ reply: 'hello there' }))
  .events((ev) => seen.push(ev.type))                 // or an EventEmitter: .events(new EventEmitter())
  .runDefaults({ timeoutMs: 10000, tags: { example: 'agent' } })
  .build();

// A session keeps the conversation; next() starts from its latest turn.
const session = agent.session().id('agent-example').name('demo').metadata('trace_id', 'demo-1').build();
const first = session.next().system('Be brief.').user('Hi!').run();
assert(first.text() === 'hello there', 'text() joins the assistant replies');
assert(first.effectiveTurn().toJSON().metadata.runtime.agentName === 'helper', 'runs are stamped');
assert(seen[0] === 'run-started' && seen.includes('text-delta'), 'events use the reference vocabulary');

// Turn builders are immutable: each method returns a new one.
const draft = session.next().user('Second question?');
const withImage = draft.user((m) => m.text('And this picture?').imageURL('https://example.invalid/cat.png'));
assert(draft !== withImage, 'a new builder');
const second = await draft.runAsync().promise;
assert(session.turnCount() === 2 && second.inputTurn().toJSON().blocks.length === 4, 'history carried on');

// Fork a branch from the first turn; the copy records where it came from.
const branch = session.fork({ at: 0 }).id('agent-example-branch').build();
const base = branch.latestTurn().toJSON();
assert(base.metadata['geppetto.forkedFromSessionID@v1'] === 'agent-example', 'fork metadata');

// runAsync handles cancel (and close); a cancelled run rejects with an Error whose code is "cancelled".
const slow = gp.agent().engine(gp.engines.echo({ delayMs: 60000 })).build().session().build();
const handle = slow.next().user('never mind').runAsync();
handle.cancel();
try {
  await handle.promise;
  assert(false, 'should have been cancelled');
} catch (err) {
  assert(err instanceof Error && err.code === 'cancelled', 'cancelled');
}
console.log(JSON.stringify({ text: second.text(), turns: session.turnCount(), branchTurns: branch.turnCount() }));
