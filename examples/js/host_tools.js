// Host tools: Python @geppetto.tool functions loaded with --host-tools, used from JS.
// geppetto-js-args: --host-tools host_tools.py
// Run: geppetto js run examples/js/host_tools.js --host-tools examples/js/host_tools.py
const { createSession, engines, tools, turns } = require('geppetto');

const registry = tools.createRegistry().useHostTools(['go_double']).useGoTools('go_concat');
const names = registry.list().map((t) => t.name).sort();
assert(names.join(',') === 'go_concat,go_double', names.join(','));
assert(registry.call('go_double', { n: 21 }).value === 42, 'host tool called from JS');

// A scripted model that calls both host tools once, then reports their results.
const model = engines.fromFunction((turn) => {
  const used = turn.blocks.filter((b) => b.kind === 'tool_use');
  if (used.length) {
    turn.blocks.push(turns.newAssistantBlock(used.map((b) => b.payload.result).join(' ')));
  } else {
    turn.blocks.push(turns.newToolCallBlock('d', 'go_double', { n: 5 }));
    turn.blocks.push(turns.newToolCallBlock('c', 'go_concat', { a: 'gep', b: 'petto' }));
  }
  return turn;
});

const session = createSession({ engine: model, tools: registry, toolLoop: { maxParallelTools: 2 } });
const out = session.run({ blocks: [turns.newUserBlock('use the host tools')] });
const text = out.blocks[out.blocks.length - 1].payload.text;
assert(text === '{"value":10} {"value":"geppetto"}', text);
console.log(`host tools answered: ${text}`);
