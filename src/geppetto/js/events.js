// require("events"): a Node-compatible EventEmitter (module.exports = EventEmitter), written for
// this runtime. Listeners live in `this._events` (null-prototype object: a single function or an
// array per event name), as in Node, so emit stays a property read plus a call on the hot path.

'use strict';

const kErrorMonitor = Symbol('events.errorMonitor');
let defaultMaxListeners = 10;

function describe(value) {
  if (typeof value === 'string') return "'" + value + "'";
  if (typeof value === 'function') return 'function ' + (value.name || '<anonymous>');
  if (typeof value === 'symbol') return value.toString();
  if (value !== null && typeof value === 'object') {
    try { return JSON.stringify(value); } catch (e) { return Object.prototype.toString.call(value); }
  }
  return String(value);
}

function checkListener(listener) {
  if (typeof listener !== 'function') {
    throw new TypeError('The "listener" argument must be of type Function. Received ' + describe(listener));
  }
}

function checkCount(name, n) {
  if (typeof n !== 'number' || n < 0 || Number.isNaN(n)) {
    throw new RangeError('The value of "' + name + '" is out of range. It must be a non-negative number. Received ' + describe(n));
  }
}

function EventEmitter(opts) {
  EventEmitter.init.call(this, opts);
}

EventEmitter.init = function init() {
  if (this._events === undefined || this._events === Object.getPrototypeOf(this)._events) {
    this._events = Object.create(null);
    this._eventsCount = 0;
  }
  this._maxListeners = this._maxListeners || undefined;
};

EventEmitter.prototype._events = undefined;
EventEmitter.prototype._eventsCount = 0;
EventEmitter.prototype._maxListeners = undefined;

function eventsOf(target) {
  if (target._events === undefined) {
    target._events = Object.create(null);
    target._eventsCount = 0;
  }
  return target._events;
}

function maxListenersOf(target) {
  return target._maxListeners === undefined ? defaultMaxListeners : target._maxListeners;
}

EventEmitter.prototype.setMaxListeners = function setMaxListeners(n) {
  checkCount('n', n);
  this._maxListeners = n;
  return this;
};

EventEmitter.prototype.getMaxListeners = function getMaxListeners() {
  return maxListenersOf(this);
};

function unhandledError(er) {
  if (er instanceof Error) return er;
  const err = new Error('Unhandled error. (' + describe(er) + ')');
  err.context = er;
  err.code = 'ERR_UNHANDLED_ERROR';
  return err;
}

EventEmitter.prototype.emit = function emit(type) {
  const n = arguments.length;
  if (n === 0) throw new TypeError('event name is required');
  const events = this._events;
  if (type === 'error' && events !== undefined && events[kErrorMonitor] !== undefined) {
    emitTo(this, events[kErrorMonitor], arguments, n);
  }
  const handler = events === undefined ? undefined : events[type];
  if (handler === undefined) {
    if (type === 'error') throw unhandledError(arguments[1]);
    return false;
  }
  emitTo(this, handler, arguments, n);
  return true;
};

function emitTo(target, handler, args, n) {
  if (typeof handler === 'function') {
    if (n === 2) handler.call(target, args[1]);
    else if (n === 1) handler.call(target);
    else if (n === 3) handler.call(target, args[1], args[2]);
    else handler.apply(target, Array.prototype.slice.call(args, 1));
    return;
  }
  // A copy: listeners added or removed by a listener take effect from the next emit.
  const list = handler.slice();
  const rest = n === 2 ? null : Array.prototype.slice.call(args, 1);
  for (let i = 0; i < list.length; i++) {
    if (rest === null) list[i].call(target, args[1]);
    else list[i].apply(target, rest);
  }
}

function addListener(target, type, listener, prepend) {
  checkListener(listener);
  let events = eventsOf(target);
  if (events.newListener !== undefined) {
    target.emit('newListener', type, listener.listener ? listener.listener : listener);
    events = target._events; // a newListener listener may have reset it
  }
  const existing = events[type];
  let list;
  if (existing === undefined) {
    events[type] = listener;
    target._eventsCount++;
    return target;
  }
  if (typeof existing === 'function') {
    list = events[type] = prepend ? [listener, existing] : [existing, listener];
  } else {
    list = existing;
    if (prepend) list.unshift(listener);
    else list.push(listener);
  }
  const max = maxListenersOf(target);
  if (max > 0 && list.length > max && !list.warned) {
    list.warned = true;
    console.warn(
      'MaxListenersExceededWarning: Possible EventEmitter memory leak detected. ' + list.length + ' ' +
        String(type) + ' listeners added. Use emitter.setMaxListeners() to increase limit',
    );
  }
  return target;
}

EventEmitter.prototype.addListener = function addListener_(type, listener) {
  return addListener(this, type, listener, false);
};
EventEmitter.prototype.on = EventEmitter.prototype.addListener;

EventEmitter.prototype.prependListener = function prependListener(type, listener) {
  return addListener(this, type, listener, true);
};

function onceWrapper(target, type, listener) {
  const state = { fired: false, target, type, listener };
  const wrapped = function () {
    if (state.fired) return undefined;
    state.fired = true;
    state.target.removeListener(state.type, wrapped);
    return state.listener.apply(state.target, arguments);
  };
  wrapped.listener = listener;
  return wrapped;
}

EventEmitter.prototype.once = function once(type, listener) {
  checkListener(listener);
  return this.on(type, onceWrapper(this, type, listener));
};

EventEmitter.prototype.prependOnceListener = function prependOnceListener(type, listener) {
  checkListener(listener);
  return this.prependListener(type, onceWrapper(this, type, listener));
};

EventEmitter.prototype.removeListener = function removeListener(type, listener) {
  checkListener(listener);
  const events = this._events;
  if (events === undefined) return this;
  const list = events[type];
  if (list === undefined) return this;
  if (list === listener || list.listener === listener) {
    if (--this._eventsCount === 0) this._events = Object.create(null);
    else delete events[type];
    if (events.removeListener !== undefined) this.emit('removeListener', type, list.listener || listener);
    return this;
  }
  if (typeof list === 'function') return this;
  let position = -1;
  for (let i = list.length - 1; i >= 0; i--) {
    if (list[i] === listener || list[i].listener === listener) {
      position = i;
      break;
    }
  }
  if (position < 0) return this;
  const removed = list[position];
  list.splice(position, 1);
  if (list.length === 1) events[type] = list[0];
  if (events.removeListener !== undefined) this.emit('removeListener', type, removed.listener || listener);
  return this;
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener;

EventEmitter.prototype.removeAllListeners = function removeAllListeners(type) {
  const events = this._events;
  if (events === undefined) return this;
  if (events.removeListener === undefined) {
    if (arguments.length === 0) {
      this._events = Object.create(null);
      this._eventsCount = 0;
    } else if (events[type] !== undefined) {
      if (--this._eventsCount === 0) this._events = Object.create(null);
      else delete events[type];
    }
    return this;
  }
  if (arguments.length === 0) {
    // Everything but removeListener first, so its listeners hear about every removal.
    for (const key of Reflect.ownKeys(events)) {
      if (key !== 'removeListener') this.removeAllListeners(key);
    }
    this.removeAllListeners('removeListener');
    this._events = Object.create(null);
    this._eventsCount = 0;
    return this;
  }
  const listeners = events[type];
  if (typeof listeners === 'function') {
    this.removeListener(type, listeners);
  } else if (listeners !== undefined) {
    for (let i = listeners.length - 1; i >= 0; i--) this.removeListener(type, listeners[i]);
  }
  return this;
};

function listenersOf(target, type, unwrap) {
  const events = target._events;
  const list = events === undefined ? undefined : events[type];
  if (list === undefined) return [];
  const all = typeof list === 'function' ? [list] : list.slice();
  return unwrap ? all.map((fn) => fn.listener || fn) : all;
}

EventEmitter.prototype.listeners = function listeners(type) { return listenersOf(this, type, true); };
EventEmitter.prototype.rawListeners = function rawListeners(type) { return listenersOf(this, type, false); };

EventEmitter.prototype.listenerCount = function listenerCount(type, listener) {
  const events = this._events;
  const list = events === undefined ? undefined : events[type];
  if (list === undefined) return 0;
  const all = typeof list === 'function' ? [list] : list;
  if (listener === undefined || listener === null) return all.length;
  let count = 0;
  for (const fn of all) if (fn === listener || fn.listener === listener) count++;
  return count;
};

EventEmitter.prototype.eventNames = function eventNames() {
  return this._eventsCount > 0 ? Reflect.ownKeys(this._events) : [];
};

Object.defineProperty(EventEmitter, 'defaultMaxListeners', {
  enumerable: true,
  get() { return defaultMaxListeners; },
  set(n) {
    checkCount('defaultMaxListeners', n);
    defaultMaxListeners = n;
  },
});

EventEmitter.listenerCount = function listenerCount(emitter, type) {
  return emitter.listenerCount(type);
};

// events.once(emitter, name): a promise of the next emit's arguments (rejects on 'error').
EventEmitter.once = function once(emitter, name) {
  return new Promise((resolve, reject) => {
    const onError = (err) => {
      emitter.removeListener(name, onEvent);
      reject(err);
    };
    const onEvent = (...args) => {
      if (name !== 'error') emitter.removeListener('error', onError);
      resolve(args);
    };
    emitter.once(name, onEvent);
    if (name !== 'error') emitter.once('error', onError);
  });
};

EventEmitter.errorMonitor = kErrorMonitor;
EventEmitter.EventEmitter = EventEmitter;

module.exports = EventEmitter;
