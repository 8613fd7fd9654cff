// The middlewares namespace: JS middlewares (fromJS or bare functions) and host middlewares.
// Run: geppetto js run examples/js/middlewares.js
const { createBuilder, engines, middlewares, turns } = require('geppetto');

const order = [];
const trace = (tag) => middlewares.fromJS((turn, next, ctx) => {
  order.push(`${tag}:in`);
  const out = next(turn);
  order.push(`${tag}:out`);
  return out;
}, tag);

// Uppercase the reply after the engine ran: middlewares see (turn, next, ctx).
const upper = (turn, next, ctx) => {
  const out = next();
  for (const b of out.blocks) if (b.kind === 'llm_text') b.payload.text = b.payload.text.toUpperCase();
  out.metadata = Object.assign(out.metadata || {}, { upper_by: ctx.middlewareName });
  return out;
};

const session = createBuilder()
  .withEngine(engines.echo({ reply: 'hello there' }))
  .useMiddleware(trace('outer'))
  .useMiddleware(trace('inner'))
  .useMiddleware(upper)
  .useGoMiddleware('systemPrompt', { prompt: 'Be brief.' })
  .buildSession();

const out = session.run({ blocks: [turns.newUserBlock('hi')] });
assert(order.join(',') === 'outer:in,inner:in,inner:out,outer:out', order.join(','));
assert(out.blocks[0].kind === 'system' && out.blocks[0].payload.text === 'Be brief.', 'system prompt added');
assert(out.blocks[out.blocks.length - 1].payload.text === 'HELLO THERE', 'reply uppercased');
assert(out.metadata['geppetto.upper_by@v1'] === 'js-middleware', 'bare functions are named js-middleware');

// Host middlewares resolve by name when they are added; unknown names fail right away.
try {
  createBuilder().useMiddleware(middlewares.go('noSuchMiddleware'));
  assert(false, 'should have thrown');
} catch (e) {
  assert(e.message === 'unknown go middleware: noSuchMiddleware', e.message);
}

console.log(`middleware order: ${order.join(' -> ')}`);
