// The engines namespace: echo (with delayMs), fromFunction, and engines from options.
// Run: geppetto js run examples/js/engines.js
const { engines, turns, runInference } = require('geppetto');

const seed = { blocks: [turns.newUserBlock('ping')] };

// echo: a fixed reply, streamed word by word (optionally slowly).
const echo = engines.echo({ reply: 'pong', delayMs: 5 });
assert(echo.name === 'echo', 'engine objects expose only a name');
const out = runInference(echo, seed);
assert(out.blocks[1].payload.text === 'pong', 'echo appends its reply');

// fromFunction: any JS function is an engine; returning nothing keeps the input turn.
const shout = engines.fromFunction((turn) => {
  const last = turn.blocks[turn.blocks.length - 1];
  turn.blocks.push(turns.newAssistantBlock(String(last.payload.text).toUpperCase()));
  return turn;
});
const loud = runInference(shout, seed);
assert(loud.blocks[1].payload.text === 'PING', 'function engine reply');

const silent = runInference(engines.fromFunction(() => undefined), seed);
assert(silent.blocks.length === 1, 'undefined keeps the input turn');

// An engine that throws: the error is catchable and names the callback.
try {
  runInference(engines.fromFunction(() => { throw new Error('model offline'); }), seed);
  assert(false, 'should have thrown');
} catch (e) {
  assert(e.message.includes('js engine callback: model offline'), e.message);
}

// fromConfig / fromProfile build provider engines from options (no request is made here).
const configured = engines.fromConfig({ apiType: 'openai', model: 'gpt-4o-mini', apiKey: 'sk-example' });
assert(configured.name === 'config', 'fromConfig engines are named config');
const byProfile = engines.fromProfile('claude-haiku-4-5', { apiKey: 'example-key' });
assert(byProfile.name === 'profile:claude-haiku-4-5', byProfile.name);

console.log(`echo said ${out.blocks[1].payload.text}; function engine said ${loud.blocks[1].payload.text}`);
