// The consts namespace: named values instead of string literals (frozen).
// Run: geppetto js run examples/js/consts.js
const { consts, turns } = require('geppetto');

assert(consts.BlockKind.LLM_TEXT === 'llm_text', 'block kinds');
assert(consts.TurnMetadataKeys.SESSION_ID === 'session_id', 'turn metadata keys are the codec short names');
assert(consts.TurnDataKeys.TOOL_CONFIG === 'tool_config', 'turn data keys');
assert(consts.PayloadKeys.TEXT === 'text', 'payload keys');
assert(consts.ToolChoice.REQUIRED === 'required' && consts.ToolErrorHandling.RETRY === 'retry', 'tool options');
assert(consts.EventType.PARTIAL === 'partial' && consts.EventType.TOOL_CALL_EXECUTE === 'tool-call-execute', 'events');
assert(Object.isFrozen(consts) && Object.isFrozen(consts.BlockKind), 'consts are frozen');

// Use them to build and inspect turns.
const turn = turns.normalize({
  blocks: [{ kind: consts.BlockKind.USER, role: 'user', payload: { [consts.PayloadKeys.TEXT]: 'hi' } }],
  metadata: { [consts.TurnMetadataKeys.TRACE_ID]: 'trace-1' },
});
assert(turn.metadata[consts.TurnMetadataKeys.TRACE_ID] === 'trace-1', 'key round trip');
console.log(`${Object.keys(consts.EventType).length} event types, ${Object.keys(consts.BlockKind).length} block kinds`);
