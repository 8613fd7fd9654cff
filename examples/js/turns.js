// The turns namespace: building and normalising turns in the reference plain-object form.
// Run: geppetto js run examples/js/turns.js
const { turns, consts } = require('geppetto');

const system = turns.newSystemBlock('You are terse.');
const user = turns.newUserBlock('What is 2 + 2?');
assert(system.kind === consts.BlockKind.SYSTEM && system.role === 'system', 'system block');
assert(user.id.length === 36, 'text blocks get a fresh UUID');

let turn = turns.newTurn({ blocks: [system] });
const grown = turns.appendBlock(turn, user);
assert(turn.blocks.length === 1 && grown.blocks.length === 2, 'appendBlock returns a new turn');
turn = grown;

// Tool call and result blocks: the call block's id is the call id.
const call = turns.newToolCallBlock('call-1', 'calculator', { expression: '2 + 2' });
const result = turns.newToolUseBlock('call-1', { value: 4 });
assert(call.id === 'call-1' && call.payload.name === 'calculator', 'tool call block');
assert(result.payload.id === 'call-1' && result.payload.error === '', 'tool use block');

// normalize canonicalises loose input: kinds, payload shorthands and metadata keys.
const loose = {
  blocks: [{ kind: ' LLM_TEXT ', role: 'assistant', text: 'four' }, { kind: 'mystery' }],
  metadata: { session_id: 's-1', custom: 1 },
  data: {},
};
const normal = turns.normalize(loose);
assert(normal.blocks[0].kind === 'llm_text' && normal.blocks[0].payload.text === 'four', 'shorthand payload');
assert(normal.blocks[1].kind === 'other', 'unknown kinds become other');
assert(normal.metadata.session_id === 's-1', 'known keys keep their short names');
assert(normal.metadata['geppetto.custom@v1'] === 1, 'other keys come back as full ids');
assert(!('data' in normal), 'empty data is dropped');

console.log(`built a turn with ${turn.blocks.length} blocks; normalized ${normal.blocks.length}`);
