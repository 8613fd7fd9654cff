// TurnWrapper (reference HEAD): an immutable turn handed to scripts by turn store snapshots, run
// results and sessions. One implementation for every part of the module:
//   turnWrapper(plainTurn)  -> a TurnWrapper holding a frozen private copy of plainTurn
//   isTurnWrapper(v)        -> true for wrappers made here
//   plainTurnOf(wrapper)    -> the wrapper's frozen plain turn (no copy; pass it to host.call as is)
// toJSON() returns a fresh, mutable plain turn; clone() a new wrapper. The read-only getters
// (id, blocks, metadata, data) keep seed-era scripts that read `snapshot.turn.blocks` working.

const TURN = Symbol('geppetto.turn');

function copyJSON(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copyJSON);
  const out = {};
  for (const k of Object.keys(v)) out[k] = copyJSON(v[k]);
  return out;
}

const TurnWrapperProto = {
  toJSON() { return copyJSON(plainTurnOf(this)); },
  clone() {
    return wrapFrozen(plainTurnOf(this)); // frozen, so the copy can share it
  },
};
for (const key of ['id', 'blocks', 'metadata', 'data']) {
  Object.defineProperty(TurnWrapperProto, key, {
    get() { return plainTurnOf(this)[key]; },
    enumerable: false,
  });
}
hide(TurnWrapperProto, CLASS, 'TurnWrapper');
Object.freeze(TurnWrapperProto);

function turnWrapper(plainTurn) {
  if (!isObject(plainTurn)) throw new TypeError('turnWrapper: turn must be an object');
  return wrapFrozen(deepFreeze(copyJSON(plainTurn)));
}

function wrapFrozen(frozenTurn) {
  const w = Object.create(TurnWrapperProto);
  Object.defineProperty(w, TURN, { value: frozenTurn, enumerable: false });
  return Object.freeze(w);
}

function isTurnWrapper(v) {
  return v !== null && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, TURN);
}

function plainTurnOf(w) {
  if (!isTurnWrapper(w)) throw new TypeError('expected a TurnWrapper');
  return w[TURN];
}
