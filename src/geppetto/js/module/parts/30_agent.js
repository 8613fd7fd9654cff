// agent(): the reference's agent builder, sessions, turn builders and run results (spec §9).
// The substance is in Python (geppetto.agent, mapped by geppetto.js.module.agent_api); this file
// checks arguments, turns emitters into event dispatchers and wraps turns into TurnWrappers.

// Turns come back as TurnWrappers (parts/05_turn_wrapper.js).
function wrapOrNull(plain) {
  return plain === undefined || plain === null ? null : turnWrapper(plain);
}

// A TurnWrapper (or anything with toJSON() returning a turn) as the plain turn Python decodes.
function turnArgOf(v) {
  if (v !== null && typeof v === 'object' && typeof v.toJSON === 'function') {
    const plain = v.toJSON();
    if (isObject(plain) && (plain.blocks === undefined || Array.isArray(plain.blocks))) return plain;
  }
  return undefined;
}

// A throwing listener is reported and the delivery goes on: a broken listener never breaks the run.
function listenerThrew(what, err) {
  console.error('geppetto events: ' + what + ' threw: ' + (err && err.message !== undefined ? err.message : String(err)));
}

// An event dispatcher for one run: called with batches of reference payloads, it emits each one
// as "event" and then under its own type ("error" as "inference-error").
function emitterDispatcher(emitter) {
  const restore = deltaTexts();
  const emitSafely = (name, payload) => {
    try {
      emitter.emit(name, payload);
    } catch (err) {
      listenerThrew('"' + name + '" listener', err);
    }
  };
  return (payloads) => {
    for (const payload of payloads) {
      restore(payload);
      emitSafely('event', payload);
      emitSafely(payload.type === 'error' ? 'inference-error' : payload.type, payload);
    }
  };
}

function functionDispatcher(fn) {
  const restore = deltaTexts();
  return (payloads) => {
    for (const payload of payloads) {
      restore(payload);
      try {
        fn(payload);
      } catch (err) {
        listenerThrew('listener', err);
      }
    }
  };
}

function isEmitter(v) {
  return v !== null && typeof v === 'object' && typeof v.emit === 'function' && !host.isHostObject(v);
}

const AgentBuilderProto = {
  name(name) {
    methodOf(this, 'AgentBuilder', 'name');
    call('geppetto.agent.agentBuilder.name', this, name === undefined ? null : String(name));
    return this;
  },
  inference(settings) {
    methodOf(this, 'AgentBuilder', 'inference');
    if (!isInferenceSettings(settings)) {
      throw new TypeError('agent().inference requires a registry-resolved InferenceSettings wrapper');
    }
    call('geppetto.agent.agentBuilder.inference', this, settings);
    return this;
  },
  engine(engine) {
    methodOf(this, 'AgentBuilder', 'engine');
    if (arguments.length < 1 || engine === undefined) throw new TypeError('agent().engine requires engine argument');
    call('geppetto.agent.agentBuilder.engine', this, engine);
    return this;
  },
  middleware(mw) {
    methodOf(this, 'AgentBuilder', 'middleware');
    if (mw === undefined || mw === null) throw new TypeError('agent().middleware requires middleware argument');
    call('geppetto.agent.agentBuilder.middleware', this, middlewareSpec(mw, 'agent().middleware'));
    return this;
  },
  goMiddleware(name, options) {
    methodOf(this, 'AgentBuilder', 'goMiddleware');
    if (name === undefined || name === null) throw new TypeError('agent().goMiddleware requires middleware name');
    checkObjectArg('agent().goMiddleware', 'options', options);
    call('geppetto.agent.agentBuilder.middleware', this, { kind: 'go', name: String(name), options: options ?? null });
    return this;
  },
  tool(registry) {
    methodOf(this, 'AgentBuilder', 'tool');
    if (registry === undefined || registry === null) throw new TypeError('agent().tool requires a tool registry');
    call('geppetto.agent.agentBuilder.tool', this, registry);
    return this;
  },
  goTool(name) {
    methodOf(this, 'AgentBuilder', 'goTool');
    if (name === undefined || name === null) throw new TypeError('agent().goTool requires tool name');
    call('geppetto.agent.agentBuilder.goTool', this, String(name));
    return this;
  },
  toolLoop(options) {
    methodOf(this, 'AgentBuilder', 'toolLoop');
    checkObjectArg('agent().toolLoop', 'options', options);
    call('geppetto.agent.agentBuilder.toolLoop', this, options ?? null);
    return this;
  },
  events(sink) {
    methodOf(this, 'AgentBuilder', 'events');
    if (sink === undefined || sink === null) throw new TypeError('agent().events requires event sink argument');
    // The host calls the factory once per run: each run has its own dispatcher state.
    if (isEmitter(sink)) call('geppetto.agent.agentBuilder.events', this, () => emitterDispatcher(sink));
    else if (typeof sink === 'function') call('geppetto.agent.agentBuilder.events', this, () => functionDispatcher(sink));
    else call('geppetto.agent.agentBuilder.eventSink', this, sink);
    return this;
  },
  store(store) { return agentStore(this, 'store', store); },
  persistTo(store) { return agentStore(this, 'persistTo', store); },
  defaultStore(enabled) { return agentDefaultStore(this, 'defaultStore', enabled); },
  persist(enabled) { return agentDefaultStore(this, 'persist', enabled); },
  persistDefault(enabled) { return agentDefaultStore(this, 'persistDefault', enabled); },
  runDefaults(options) {
    methodOf(this, 'AgentBuilder', 'runDefaults');
    call('geppetto.agent.agentBuilder.runDefaults', this, options ?? null);
    return this;
  },
  build() {
    methodOf(this, 'AgentBuilder', 'build');
    return call('geppetto.agent.agentBuilder.build', this);
  },
};
hide(AgentBuilderProto, CLASS, 'AgentBuilder');

function agentStore(builder, method, store) {
  methodOf(builder, 'AgentBuilder', method);
  if (store === undefined) throw new TypeError('agent().' + method + ' requires a TurnStore wrapper or null');
  if (store !== null && !host.isHostObject(store)) {
    throw new TypeError('agent().' + method + ' requires a TurnStore wrapper or null');
  }
  call('geppetto.agent.agentBuilder.store', builder, store, method);
  return builder;
}

function agentDefaultStore(builder, method, enabled) {
  methodOf(builder, 'AgentBuilder', method);
  call('geppetto.agent.agentBuilder.defaultStore', builder, enabled === undefined || enabled === null ? null : Boolean(enabled));
  return builder;
}

const AgentProto = {
  session() {
    methodOf(this, 'Agent', 'session');
    return call('geppetto.agent.agentObj.session', this);
  },
};
hide(AgentProto, CLASS, 'Agent');

const SessionBuilderProto = {
  id(id) {
    methodOf(this, 'SessionBuilder', 'id');
    call('geppetto.agent.sessionBuilder.id', this, id === undefined ? null : String(id));
    return this;
  },
  name(name) {
    methodOf(this, 'SessionBuilder', 'name');
    call('geppetto.agent.sessionBuilder.name', this, name === undefined ? null : String(name));
    return this;
  },
  base(turn) {
    methodOf(this, 'SessionBuilder', 'base');
    const plain = turn === undefined || turn === null ? undefined : turnArgOf(turn);
    if (plain === undefined) throw new TypeError('session().base requires a Go-owned Turn wrapper');
    call('geppetto.agent.sessionBuilder.base', this, plain);
    return this;
  },
  store(store) {
    methodOf(this, 'SessionBuilder', 'store');
    if (store === undefined || store === null || !host.isHostObject(store)) {
      throw new TypeError('session().store requires a TurnStore wrapper');
    }
    call('geppetto.agent.sessionBuilder.store', this, store);
    return this;
  },
  defaultStore() {
    methodOf(this, 'SessionBuilder', 'defaultStore');
    call('geppetto.agent.sessionBuilder.defaultStore', this);
    return this;
  },
  persist(enabled) {
    methodOf(this, 'SessionBuilder', 'persist');
    call('geppetto.agent.sessionBuilder.persist', this, enabled === undefined || enabled === null ? null : Boolean(enabled));
    return this;
  },
  resumeLatest(options) {
    methodOf(this, 'SessionBuilder', 'resumeLatest');
    call('geppetto.agent.sessionBuilder.resumeLatest', this, options ?? null);
    return this;
  },
  resumeNone() {
    methodOf(this, 'SessionBuilder', 'resumeNone');
    call('geppetto.agent.sessionBuilder.resumeNone', this);
    return this;
  },
  metadata(key, value) {
    methodOf(this, 'SessionBuilder', 'metadata');
    if (arguments.length < 2) throw new TypeError('session().metadata requires key and value');
    call('geppetto.agent.sessionBuilder.metadata', this, String(key), value === undefined ? null : value);
    return this;
  },
  runDefaults(options) {
    methodOf(this, 'SessionBuilder', 'runDefaults');
    call('geppetto.agent.sessionBuilder.runDefaults', this, options ?? null);
    return this;
  },
  build() {
    methodOf(this, 'SessionBuilder', 'build');
    return call('geppetto.agent.sessionBuilder.build', this);
  },
};
hide(SessionBuilderProto, CLASS, 'SessionBuilder');

// fork(): nothing (latest), a TurnWrapper, or {at: index | TurnWrapper}.
function forkTarget(options) {
  if (options === undefined || options === null) return null;
  const plain = turnArgOf(options);
  if (plain !== undefined) return plain;
  if (!isObject(options)) throw new Error('session.fork options must be an object, TurnWrapper, null, or undefined');
  const at = options.at;
  if (at === undefined || at === null) return null;
  const atTurn = turnArgOf(at);
  if (atTurn !== undefined) return atTurn;
  if (typeof at === 'number' && Number.isFinite(at)) return Math.trunc(at);
  throw new Error('session.fork at must be a turn index or TurnWrapper');
}

const AgentSessionProto = {
  id() { methodOf(this, 'AgentSession', 'id'); return call('geppetto.agent.agentSession.id', this); },
  name() { methodOf(this, 'AgentSession', 'name'); return call('geppetto.agent.agentSession.name', this); },
  next() { methodOf(this, 'AgentSession', 'next'); return call('geppetto.agent.agentSession.next', this); },
  fork(options) {
    methodOf(this, 'AgentSession', 'fork');
    return call('geppetto.agent.agentSession.fork', this, forkTarget(options));
  },
  latestTurn() {
    methodOf(this, 'AgentSession', 'latestTurn');
    return wrapOrNull(call('geppetto.agent.agentSession.latestTurn', this));
  },
  turns() {
    methodOf(this, 'AgentSession', 'turns');
    return call('geppetto.agent.agentSession.turns', this).map(wrapOrNull);
  },
  turn(index) {
    methodOf(this, 'AgentSession', 'turn');
    if (index === undefined || index === null) throw new TypeError('session.turn requires an index');
    const n = Number(index);
    if (!Number.isFinite(n)) return null;
    return wrapOrNull(call('geppetto.agent.agentSession.turn', this, Math.trunc(n)));
  },
  turnCount() { methodOf(this, 'AgentSession', 'turnCount'); return call('geppetto.agent.agentSession.turnCount', this); },
  isRunning() { methodOf(this, 'AgentSession', 'isRunning'); return call('geppetto.agent.agentSession.isRunning', this); },
  cancel() { methodOf(this, 'AgentSession', 'cancel'); call('geppetto.agent.agentSession.cancel', this); },
  close() { methodOf(this, 'AgentSession', 'close'); call('geppetto.agent.agentSession.close', this); },
};
hide(AgentSessionProto, CLASS, 'AgentSession');

const SessionTurnBuilderProto = {
  system(text) {
    methodOf(this, 'SessionTurnBuilder', 'system');
    return call('geppetto.agent.turnBuilder.system', this, text === undefined ? '' : String(text));
  },
  user(text) {
    methodOf(this, 'SessionTurnBuilder', 'user');
    const arg = typeof text === 'function' ? text : (text === undefined ? '' : String(text));
    return call('geppetto.agent.turnBuilder.user', this, arg);
  },
  assistant(text) {
    methodOf(this, 'SessionTurnBuilder', 'assistant');
    return call('geppetto.agent.turnBuilder.assistant', this, text === undefined ? '' : String(text));
  },
  metadata(key, value) {
    methodOf(this, 'SessionTurnBuilder', 'metadata');
    if (arguments.length < 2) throw new TypeError('session.next().metadata requires key and value');
    return call('geppetto.agent.turnBuilder.metadata', this, String(key), value === undefined ? null : value);
  },
  run(options) {
    methodOf(this, 'SessionTurnBuilder', 'run');
    return runResult(call('geppetto.agent.turnBuilder.run', this, options ?? null));
  },
  runAsync(options) {
    methodOf(this, 'SessionTurnBuilder', 'runAsync');
    const started = call('geppetto.agent.turnBuilder.runAsync', this, options ?? null);
    const cancel = () => { call('geppetto.run.cancel', started.run); };
    return { promise: started.promise.then(runResult), cancel, close: cancel };
  },
};
hide(SessionTurnBuilderProto, CLASS, 'SessionTurnBuilder');

const MessageBuilderProto = {
  text(text) {
    methodOf(this, 'MessageBuilder', 'text');
    if (text !== undefined) call('geppetto.agent.message.text', this, String(text));
    return this;
  },
  imageURL(url, options) {
    methodOf(this, 'MessageBuilder', 'imageURL');
    if (url === undefined) throw new TypeError('imageURL requires url');
    call('geppetto.agent.message.imageURL', this, String(url), isObject(options) ? options : null);
    return this;
  },
  imageFile(path) {
    methodOf(this, 'MessageBuilder', 'imageFile');
    if (path === undefined) throw new TypeError('imageFile requires path');
    call('geppetto.agent.message.imageFile', this, String(path));
    return this;
  },
  imageBytes(content, mediaType) {
    methodOf(this, 'MessageBuilder', 'imageBytes');
    if (content === undefined) throw new TypeError('imageBytes requires base64/string content');
    call('geppetto.agent.message.imageBytes', this, String(content), mediaType === undefined || mediaType === null ? null : String(mediaType));
    return this;
  },
};
hide(MessageBuilderProto, CLASS, 'MessageBuilder');

// A RunResult is a plain JS object over the host's result (a host wrapper cannot carry toJSON:
// the bridge serializes wrappers with JSON.stringify, which would call it).
const RESULT = Symbol('geppetto.runResult');

function resultOf(r, method) {
  if (r === null || typeof r !== 'object' || r[RESULT] === undefined) {
    throw new TypeError('RunResult.' + method + ' called on something that is not a RunResult');
  }
  return r[RESULT];
}

const RunResultProto = {
  inputTurn() { return turnWrapper(call('geppetto.agent.runResult.inputTurn', resultOf(this, 'inputTurn'))); },
  effectiveTurn() { return turnWrapper(call('geppetto.agent.runResult.effectiveTurn', resultOf(this, 'effectiveTurn'))); },
  outputTurn() { return turnWrapper(call('geppetto.agent.runResult.outputTurn', resultOf(this, 'outputTurn'))); },
  text() { return call('geppetto.agent.runResult.text', resultOf(this, 'text')); },
  usage() { return call('geppetto.agent.runResult.usage', resultOf(this, 'usage')) ?? null; },
  stopReason() { return call('geppetto.agent.runResult.stopReason', resultOf(this, 'stopReason')) ?? null; },
  events() { return call('geppetto.agent.runResult.events', resultOf(this, 'events')); },
  toJSON() { return call('geppetto.agent.runResult.toJSON', resultOf(this, 'toJSON')); },
};

function runResult(ref) {
  return hide(Object.create(RunResultProto), RESULT, ref);
}

host.setPrototype('AgentBuilder', AgentBuilderProto);
host.setPrototype('Agent', AgentProto);
host.setPrototype('SessionBuilder', SessionBuilderProto);
host.setPrototype('AgentSession', AgentSessionProto);
host.setPrototype('SessionTurnBuilder', SessionTurnBuilderProto);
host.setPrototype('MessageBuilder', MessageBuilderProto);

exports.agent = function agent() {
  return call('geppetto.agent.create');
};
