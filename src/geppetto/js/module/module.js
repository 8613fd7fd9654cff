// The JS half of require("geppetto"): argument checks, wrapper prototypes and run handles.
// Runs as a CommonJS body (exports, require, module, host). Everything with substance happens in
// Python (geppetto.js.module.*) behind host.call("geppetto.<name>", ...); turns cross as the
// reference plain-object form. `consts` and `version` are injected by the host as `host.call`
// results, so the lists stay defined in one place.

'use strict';

const call = host.call;
const REF = '__geppetto_ref';
const CLASS = Symbol('geppetto.class'); // marks the wrapper prototypes below

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function hide(obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: false, writable: false, configurable: false });
  return obj;
}

function requireArgs(fnName, args, count, message) {
  let given = 0;
  for (let i = 0; i < count; i++) if (args[i] !== undefined && args[i] !== null) given++;
  if (given < count) throw new TypeError(message || fnName + ' requires ' + count + ' argument(s)');
}

function checkObjectArg(fnName, argName, v) {
  if (v !== undefined && v !== null && !isObject(v)) {
    throw new TypeError(fnName + ': ' + argName + ' must be an object');
  }
}

function methodOf(obj, className, method) {
  if (!host.isHostObject(obj) || obj[CLASS] !== className) {
    throw new TypeError(className + '.' + method + ' called on something that is not a ' + className);
  }
}

// ---------------------------------------------------------------------------------- middlewares
// A middleware spec as the host reads it: {kind: "js", name, fn} | {kind: "go", name, options}.
function middlewareSpec(m, where) {
  if (typeof m === 'function') return { kind: 'js', name: 'js-middleware', fn: m };
  if (isObject(m)) {
    if (m.type === 'js' && typeof m[REF] === 'function') return { kind: 'js', name: String(m.name), fn: m[REF] };
    if (m.type === 'go' || m.type === 'host') {
      return { kind: 'go', name: String(m.name), options: m.options === undefined ? null : m.options };
    }
  }
  throw new TypeError(where + ': middleware must be a function, middlewares.fromJS(...) or middlewares.go(...)');
}

function fromJS(fn, name) {
  if (arguments.length < 1 || fn === undefined || fn === null) throw new TypeError('fromJS requires callback argument');
  if (typeof fn !== 'function') throw new TypeError('fromJS expects callable callback');
  const mw = { type: 'js', name: arguments.length >= 2 && name !== undefined ? String(name) : 'js-middleware' };
  return hide(mw, REF, fn);
}

function goMiddleware(name, options) {
  if (name === undefined || name === null) throw new TypeError('middlewares.go requires name');
  checkObjectArg('middlewares.go', 'options', options);
  const mw = { type: 'go', name: String(name) };
  if (options !== undefined && options !== null) mw.options = options;
  return mw;
}

// Options objects may hold middleware specs whose callbacks are hidden; make them explicit.
function sessionOptions(fnName, opts) {
  if (opts === undefined || opts === null) return opts;
  if (!isObject(opts)) throw new TypeError(fnName + ': options must be an object');
  const out = Object.assign({}, opts);
  if (opts.middlewares !== undefined && opts.middlewares !== null) {
    if (!Array.isArray(opts.middlewares)) throw new TypeError(fnName + ': middlewares must be an array');
    out.middlewares = opts.middlewares.map((m) => middlewareSpec(m, fnName));
  }
  return out;
}

// ---------------------------------------------------------------------------------- prototypes
const EngineProto = {
  toString() { return '[Engine ' + this.name + ']'; },
};
hide(EngineProto, CLASS, 'Engine');

const RegistryProto = {
  register(spec) {
    methodOf(this, 'ToolRegistry', 'register');
    if (!isObject(spec)) throw new TypeError('register requires a tool spec object');
    const name = String(spec.name);
    if (name === '') throw new Error('tool name is required');
    if (typeof spec.handler !== 'function') throw new TypeError('tool ' + name + ' handler must be a function');
    call('geppetto.registry.register', this, {
      name,
      description: spec.description === undefined || spec.description === null ? '' : String(spec.description),
      handler: spec.handler,
      parameters: spec.parameters === undefined ? null : spec.parameters,
    });
    return this;
  },
  useGoTools(names) {
    methodOf(this, 'ToolRegistry', 'useGoTools');
    call('geppetto.registry.useHostTools', this, toNameList('useGoTools', names));
    return this;
  },
  useHostTools(names) {
    methodOf(this, 'ToolRegistry', 'useHostTools');
    call('geppetto.registry.useHostTools', this, toNameList('useHostTools', names));
    return this;
  },
  list() {
    methodOf(this, 'ToolRegistry', 'list');
    return call('geppetto.registry.list', this);
  },
  call(name, args) {
    methodOf(this, 'ToolRegistry', 'call');
    if (name === undefined || name === null || name === '') throw new TypeError('call requires tool name');
    return call('geppetto.registry.call', this, String(name), args === undefined ? null : args);
  },
};
hide(RegistryProto, CLASS, 'ToolRegistry');

function toNameList(fnName, names) {
  if (names === undefined || names === null) return [];
  const list = Array.isArray(names) ? names : [names];
  return list.map((n) => {
    if (typeof n !== 'string') throw new TypeError(fnName + ': tool names must be strings');
    return n;
  });
}

const BuilderProto = {
  withEngine(engine) {
    methodOf(this, 'Builder', 'withEngine');
    if (engine === undefined || engine === null) throw new TypeError('withEngine requires engine argument');
    call('geppetto.builder.withEngine', this, engine);
    return this;
  },
  useMiddleware(mw) {
    methodOf(this, 'Builder', 'useMiddleware');
    if (mw === undefined || mw === null) throw new TypeError('useMiddleware requires middleware argument');
    call('geppetto.builder.useMiddleware', this, middlewareSpec(mw, 'useMiddleware'));
    return this;
  },
  useGoMiddleware(name, options) {
    methodOf(this, 'Builder', 'useGoMiddleware');
    if (name === undefined || name === null) throw new TypeError('useGoMiddleware requires middleware name');
    checkObjectArg('useGoMiddleware', 'options', options);
    call('geppetto.builder.useMiddleware', this, { kind: 'go', name: String(name), options: options ?? null });
    return this;
  },
  useHostMiddleware(name, options) {
    methodOf(this, 'Builder', 'useHostMiddleware');
    if (name === undefined || name === null) throw new TypeError('useHostMiddleware requires middleware name');
    checkObjectArg('useHostMiddleware', 'options', options);
    call('geppetto.builder.useMiddleware', this, { kind: 'go', name: String(name), options: options ?? null });
    return this;
  },
  withTools(registry, loopOptions) {
    methodOf(this, 'Builder', 'withTools');
    if (registry === undefined || registry === null) throw new TypeError('withTools requires registry argument');
    checkObjectArg('withTools', 'toolLoopOpts', loopOptions);
    call('geppetto.builder.withTools', this, registry, loopOptions ?? null);
    return this;
  },
  withToolLoop(loopOptions) {
    methodOf(this, 'Builder', 'withToolLoop');
    checkObjectArg('withToolLoop', 'opts', loopOptions);
    call('geppetto.builder.withToolLoop', this, loopOptions ?? {});
    return this;
  },
  withToolHooks(hooks) {
    methodOf(this, 'Builder', 'withToolHooks');
    if (!isObject(hooks)) throw new TypeError('withToolHooks requires hooks object');
    call('geppetto.builder.withToolHooks', this, hooks);
    return this;
  },
  withStore(store) {
    methodOf(this, 'Builder', 'withStore');
    call('geppetto.builder.withStore', this, store === undefined ? true : store);
    return this;
  },
  buildSession() {
    methodOf(this, 'Builder', 'buildSession');
    return call('geppetto.builder.buildSession', this);
  },
};
hide(BuilderProto, CLASS, 'Builder');

function runOptions(fnName, opts) {
  if (opts === undefined || opts === null) return null;
  if (!isObject(opts)) throw new TypeError(fnName + ': options must be an object');
  return opts;
}

function seedArg(fnName, seed) {
  if (seed === undefined || seed === null) return null;
  if (!isObject(seed)) throw new TypeError(fnName + ': seed must be a turn object');
  return seed;
}

// Freezes v and everything under it (already frozen objects are taken as done); returns v.
function deepFreeze(v) {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze(v[k]);
  }
  return v;
}

// One run's deltas: the host sends a text-delta/reasoning-delta without its `text` (the segment's
// text so far) when this side can rebuild it from the previous delta of the same segment; the
// returned function fills it in, so listeners always see the reference payload.
function deltaTexts() {
  const texts = new Map();
  return (p) => {
    if (p.delta === undefined || (p.type !== 'text-delta' && p.type !== 'reasoning-delta')) return;
    const key = p.type + '\u0000' + ((p.correlation && p.correlation.segment_id) || '');
    if (p.text === undefined) p.text = (texts.get(key) || '') + p.delta;
    texts.set(key, p.text);
  };
}

// A RunHandle: {promise, cancel(), on(type, fn)}; events queue in `dispatch` order, so listeners
// added in the same tick as start() see the first event, and all events precede settlement.
// `event` is the seed payload (or null); `extra` the reference-vocabulary payloads
// (run-started, text-delta, ...) for the names a listener asked for (never for "*").
function runHandle(session, seed, opts) {
  const listeners = new Map();
  const restore = deltaTexts();
  const dispatch = (event, extra) => {
    if (event !== null) {
      for (const key of [event.type, '*']) {
        const fns = listeners.get(key);
        if (fns !== undefined) for (const fn of fns.slice()) fn(event);
      }
    }
    if (extra !== undefined) {
      for (const ev of extra) {
        restore(ev);
        const fns = listeners.get(ev.type);
        if (fns !== undefined) for (const fn of fns.slice()) fn(ev);
      }
    }
  };
  const started = call('geppetto.session.start', session, seed, opts, dispatch);
  const handle = {
    promise: started.promise,
    cancel() {
      call('geppetto.run.cancel', started.run);
      return handle;
    },
    on(type, fn) {
      if (typeof type !== 'string' || type === '') throw new TypeError('on requires an event type string');
      if (typeof fn !== 'function') throw new TypeError('on requires a listener function');
      if (!listeners.has(type)) {
        listeners.set(type, []);
        call('geppetto.run.subscribe', started.run, type);
      }
      listeners.get(type).push(fn);
      return handle;
    },
  };
  return handle;
}

const SessionProto = {
  append(turn) {
    methodOf(this, 'Session', 'append');
    if (!isObject(turn)) throw new TypeError('append requires a turn object');
    return call('geppetto.session.append', this, turn);
  },
  latest() { methodOf(this, 'Session', 'latest'); return call('geppetto.session.latest', this); },
  turnCount() { methodOf(this, 'Session', 'turnCount'); return call('geppetto.session.turnCount', this); },
  turns() { methodOf(this, 'Session', 'turns'); return call('geppetto.session.turns', this); },
  getTurn(index) {
    methodOf(this, 'Session', 'getTurn');
    if (index === undefined || index === null) throw new TypeError('getTurn requires index');
    if (typeof index !== 'number' || !Number.isFinite(index)) throw new TypeError('getTurn: index must be a number');
    const turn = call('geppetto.session.getTurn', this, Math.trunc(index));
    return turn === undefined ? null : turn;
  },
  turnsRange(start, end) {
    methodOf(this, 'Session', 'turnsRange');
    for (const [n, v] of [['start', start], ['end', end]]) {
      if (v !== undefined && v !== null && (typeof v !== 'number' || Number.isNaN(v))) {
        throw new TypeError('turnsRange: ' + n + ' must be a number');
      }
    }
    const clampInt = (v) => (v === undefined || v === null ? null : Math.trunc(Math.max(Math.min(v, 2 ** 31), -(2 ** 31))));
    return call('geppetto.session.turnsRange', this, clampInt(start), clampInt(end));
  },
  isRunning() { methodOf(this, 'Session', 'isRunning'); return call('geppetto.session.isRunning', this); },
  cancelActive() { methodOf(this, 'Session', 'cancelActive'); call('geppetto.session.cancelActive', this); },
  run(seed, opts) {
    methodOf(this, 'Session', 'run');
    return call('geppetto.session.run', this, seedArg('run', seed), runOptions('run', opts));
  },
  runAsync(seed, opts) {
    methodOf(this, 'Session', 'runAsync');
    return call('geppetto.session.runAsync', this, seedArg('runAsync', seed), runOptions('runAsync', opts));
  },
  start(seed, opts) {
    methodOf(this, 'Session', 'start');
    return runHandle(this, seedArg('start', seed), runOptions('start', opts));
  },
};
hide(SessionProto, CLASS, 'Session');

// A host turn store (turnStores.default() / get(name)): read-only queries; JS never opens databases.
// Snapshots have the reference's shape: facts, `turn` as a TurnWrapper (parts/05) and toJSON().
const SnapshotProto = {
  toJSON() {
    const out = Object.assign({}, this);
    out.turn = this.turn === null ? null : this.turn.toJSON();
    return out;
  },
};
hide(SnapshotProto, CLASS, 'TurnStoreSnapshot');

function turnStoreSnapshot(plain) {
  const snap = Object.assign(Object.create(SnapshotProto), plain);
  snap.turn = plain.turn === null || plain.turn === undefined ? null : turnWrapper(plain.turn);
  return snap;
}

const TurnStoreProto = {
  name() { methodOf(this, 'TurnStore', 'name'); return call('geppetto.turnstore.name', this); },
  list(query) {
    methodOf(this, 'TurnStore', 'list');
    checkObjectArg('TurnStore.list', 'query', query);
    return call('geppetto.turnstore.list', this, query ?? null).map(turnStoreSnapshot);
  },
  loadLatest(query) {
    methodOf(this, 'TurnStore', 'loadLatest');
    checkObjectArg('TurnStore.loadLatest', 'query', query);
    const found = call('geppetto.turnstore.loadLatest', this, query ?? null);
    return found === null || found === undefined ? null : turnStoreSnapshot(found);
  },
  close() { methodOf(this, 'TurnStore', 'close'); call('geppetto.turnstore.close', this); },
  sessions(query) {
    methodOf(this, 'TurnStore', 'sessions');
    checkObjectArg('TurnStore.sessions', 'query', query);
    return call('geppetto.turnstore.sessions', this, query ?? null);
  },
};
hide(TurnStoreProto, CLASS, 'TurnStore');

host.setPrototype('Engine', EngineProto);
host.setPrototype('TurnStore', TurnStoreProto);
host.setPrototype('ToolRegistry', RegistryProto);
host.setPrototype('Builder', BuilderProto);
host.setPrototype('Session', SessionProto);

// ---------------------------------------------------------------------------------- namespaces
const turns = {
  normalize(turn) {
    if (turn === undefined || turn === null) throw new TypeError('turns.normalize requires turn');
    return call('geppetto.turns.normalize', turn);
  },
  newTurn(opts) { return call('geppetto.turns.newTurn', opts === undefined ? null : opts); },
  appendBlock(turn, block) {
    requireArgs('turns.appendBlock', [turn, block], 2, 'turns.appendBlock requires turn and block');
    return call('geppetto.turns.appendBlock', turn, block);
  },
  newUserBlock(text) { return call('geppetto.turns.newBlock', 'user', text === undefined ? '' : String(text)); },
  newSystemBlock(text) { return call('geppetto.turns.newBlock', 'system', text === undefined ? '' : String(text)); },
  newAssistantBlock(text) {
    return call('geppetto.turns.newBlock', 'llm_text', text === undefined ? '' : String(text));
  },
  newToolCallBlock(id, name, args) {
    if (arguments.length < 3) throw new TypeError('turns.newToolCallBlock requires id, name, args');
    return call('geppetto.turns.newToolCallBlock', String(id), String(name), args === undefined ? null : args);
  },
  newToolUseBlock(id, result, error) {
    if (arguments.length < 2) throw new TypeError('turns.newToolUseBlock requires id, result[, error]');
    const err = error === undefined || error === null ? '' : String(error);
    return call('geppetto.turns.newToolUseBlock', String(id), result === undefined ? null : result, err);
  },
};

const engines = {
  echo(opts) {
    checkObjectArg('engines.echo', 'opts', opts);
    return call('geppetto.engines.echo', opts ?? null);
  },
  fromFunction(fn) {
    if (arguments.length < 1 || fn === undefined || fn === null) throw new TypeError('fromFunction requires a JS function');
    if (typeof fn !== 'function') throw new TypeError('fromFunction expects callable argument');
    return call('geppetto.engines.fromFunction', fn);
  },
  fromProfile(profile, opts) {
    if (profile !== undefined && profile !== null && typeof profile !== 'string') {
      throw new TypeError('fromProfile: profile must be a string');
    }
    checkObjectArg('fromProfile', 'opts', opts);
    return call('geppetto.engines.fromProfile', profile ?? null, opts ?? null);
  },
  fromConfig(opts) {
    if (!isObject(opts)) throw new TypeError('fromConfig requires options object');
    return call('geppetto.engines.fromConfig', opts);
  },
};

const middlewares = { fromJS, go: goMiddleware, host: goMiddleware };

const tools = {
  createRegistry() { return call('geppetto.tools.createRegistry'); },
};

const turnStores = {
  default() { return call('geppetto.turnStores.default'); },
  get(name) {
    if (typeof name !== 'string' || name === '') throw new TypeError('turnStores.get requires a store name');
    return call('geppetto.turnStores.get', name);
  },
};

function createBuilder(opts) {
  return call('geppetto.builder.create', sessionOptions('createBuilder', opts) ?? null);
}

function createSession(opts) {
  if (arguments.length < 1 || opts === undefined || opts === null) {
    throw new TypeError('createSession requires options object with engine');
  }
  if (!isObject(opts)) throw new TypeError('options must be an object');
  return call('geppetto.session.create', sessionOptions('createSession', opts));
}

function runInference(engine, turn, opts) {
  if (arguments.length < 2) throw new TypeError('runInference requires (engine, turn[, options])');
  if (opts !== undefined && opts !== null && !isObject(opts)) throw new TypeError('options must be an object');
  if (!isObject(turn)) throw new TypeError('runInference: turn must be an object');
  return call('geppetto.runInference', engine ?? null, turn, sessionOptions('runInference', opts) ?? null);
}

const info = call('geppetto.moduleInfo');
exports.version = info.version;
exports.createBuilder = createBuilder;
exports.createSession = createSession;
exports.runInference = runInference;
exports.turns = turns;
exports.engines = engines;
exports.middlewares = middlewares;
exports.tools = tools;
exports.consts = info.consts;
exports.turnStores = turnStores;

deepFreeze(exports.consts);
for (const ns of [turns, engines, middlewares, tools, turnStores]) Object.freeze(ns);
