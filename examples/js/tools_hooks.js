// The tools namespace with a tool loop and hooks: a scripted "model" asks for a tool, the loop
// runs it, hooks watch and adjust each call, and the model answers with the result.
// Run: geppetto js run examples/js/tools_hooks.js
const { createBuilder, engines, tools, turns, consts } = require('geppetto');

const registry = tools.createRegistry()
  .register({
    name: 'multiply',
    description: 'Multiply two numbers',
    parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    handler: ({ a, b }, ctx) => ({ product: a * b, by: ctx.toolName }),
  })
  .register({
    name: 'flaky',
    description: 'Fails on its first attempt',
    handler: (() => { let calls = 0; return () => { calls += 1; if (calls < 2) throw new Error('try again'); return { attempts: calls }; }; })(),
  });

assert(registry.list().map((t) => t.name).join(',') === 'multiply,flaky', 'list keeps registration order');
assert(registry.call('multiply', { a: 6, b: 7 }).product === 42, 'call runs a tool directly');

// The "model": first asks for both tools, then summarises the tool_use results.
const model = engines.fromFunction((turn) => {
  const results = turn.blocks.filter((b) => b.kind === consts.BlockKind.TOOL_USE);
  if (results.length === 0) {
    turn.blocks.push(turns.newToolCallBlock('c1', 'multiply', { a: 3, b: 4 }));
    turn.blocks.push(turns.newToolCallBlock('c2', 'flaky', {}));
  } else {
    turn.blocks.push(turns.newAssistantBlock(results.map((b) => b.payload.result).join(' ')));
  }
  return turn;
});

const seen = [];
const session = createBuilder()
  .withEngine(model)
  .withTools(registry, { maxIterations: 3, toolErrorHandling: consts.ToolErrorHandling.RETRY, retryBackoffMs: 1 })
  .withToolHooks({
    beforeToolCall: (p) => {
      seen.push(`before:${p.call.name}`);
      if (p.call.name === 'multiply') return { args: { a: p.call.args.a * 10, b: p.call.args.b } };
    },
    onToolError: (p) => { seen.push(`error:${p.call.name}#${p.attempt}`); return { action: consts.HookAction.RETRY, backoffMs: 0 }; },
    afterToolCall: (p) => { seen.push(`after:${p.call.name}`); },
  })
  .buildSession();

const out = session.run({ blocks: [turns.newUserBlock('compute')] });
const answer = out.blocks[out.blocks.length - 1].payload.text;
assert(answer.includes('"product":120'), answer);
assert(answer.includes('"attempts":2'), answer);
assert(seen.includes('error:flaky#0') && seen.includes('after:flaky'), seen.join(','));

// Hooks can also refuse a call: the tool never runs and its result carries the error.
const guarded = createBuilder()
  .withEngine(model)
  .withTools(registry, { hooks: { beforeToolCall: (p) => (p.call.name === 'flaky' ? { action: 'abort', error: 'not today' } : undefined) } })
  .buildSession();
const refused = guarded.run({ blocks: [turns.newUserBlock('compute')] });
const flakyUse = refused.blocks.find((b) => b.kind === 'tool_use' && b.payload.id === 'c2');
assert(flakyUse.payload.error === 'not today', JSON.stringify(flakyUse));

console.log(`answer: ${answer}`);
