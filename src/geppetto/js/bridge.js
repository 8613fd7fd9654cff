// Trusted-runtime bridge (follows prelude.js in the same function body; `__gp_hostCall` is the one
// Python callable, captured by the wrapper and deleted from globalThis before any script runs).
//
// Wire format. JS -> host: hostCall(kind, special, json) where json is JSON.stringify output (flat:
// the binding cannot convert rope strings) of an argument array and special says where markers are:
// bit i for argument i < 30, bit 30 for "anywhere" (so the host revives only those arguments and a
// large plain turn passed beside a handle is not walked).
// Host -> JS: 'P' + json (plain) or 'S' + json (markers inside). Envelopes: {ok: v} | {} (undefined)
// | {err: {name, message, code, exc, ref}}. Markers: {__gcb: id} JS function, {__gfn: id} host
// function, {__gh: id, m, p, c} host object, {__gp: id} host promise, {__gjp: id} JS promise.

const __gp_K = {
  CALL: 0, FN: 1, METHOD: 2, CONSOLE: 3, RELEASE_HANDLE: 4, RELEASE_FN: 5, JS_SETTLED: 6,
  UNCAUGHT: 7, REQUIRE: 8,
};
const __gp_REF = '__geppetto_ref';
const __gp_EXC = '__geppetto_exc';
const __gp_HOSTFN = Symbol('geppetto.hostFunction');

const __gp_handles = new Map();       // hid -> WeakRef(wrapper): one live JS object per host object
const __gp_protos = new Map();        // class name -> prototype for wrappers
const __gp_hostFns = new Map();       // fid -> WeakRef(function)
const __gp_cbIds = new Map();         // JS function -> callback id
const __gp_cbs = new Map();           // callback id -> JS function
const __gp_cbRefs = new Map();        // callback id -> references handed to the host
const __gp_hostPromises = new Map();  // pid -> {promise, resolve, reject}
const __gp_errRing = new Map();       // id -> thrown JS value, so a JS error that crossed the host rethrows as itself
const __gp_ERR_RING_MAX = 256;
let __gp_nextCb = 1, __gp_nextJsPromise = 1, __gp_nextErr = 1;
let __gp_special = 0;
let __gp_root = null;   // the argument array being encoded
let __gp_top = 30;      // index of the argument being serialized (30: not inside an argument array)
let __gp_newCbRefs = [];
let __gp_encoding = 0;  // > 0 while the bridge serializes: a host object's toJSON() yields itself

// What a prototype's toJSON() gives while the bridge serializes (JSON.stringify calls toJSON()
// before the replacer sees the value): the replacer turns it back into the host object's marker.
class __gp_Self {
  constructor(w) { this.w = w; }
}

const __gp_handleReg = new FinalizationRegistry((hid) => {
  const w = __gp_handles.get(hid);
  if (w !== undefined && w.deref() === undefined) {
    __gp_handles.delete(hid);
    __gp_notify(__gp_K.RELEASE_HANDLE, [hid]);
  }
});
const __gp_fnReg = new FinalizationRegistry((fid) => {
  const w = __gp_hostFns.get(fid);
  if (w !== undefined && w.deref() === undefined) {
    __gp_hostFns.delete(fid);
    __gp_notify(__gp_K.RELEASE_FN, [fid]);
  }
});

function __gp_isWrapper(x) {
  const ref = x[__gp_REF];
  if (ref === undefined) return false;
  const w = __gp_handles.get(ref);
  return w !== undefined && w.deref() === x;
}

function __gp_marked() {
  __gp_special |= 1 << (__gp_top < 30 ? __gp_top : 30);
}

function __gp_replacer(key, x) {
  if (this === __gp_root) __gp_top = +key;
  if (typeof x === 'function') {
    __gp_marked();
    const fid = x[__gp_HOSTFN];
    if (fid !== undefined) return { __gfn: fid };
    let id = __gp_cbIds.get(x);
    if (id === undefined) {
      id = __gp_nextCb++;
      __gp_cbIds.set(x, id);
      __gp_cbs.set(id, x);
      __gp_cbRefs.set(id, 0);
    }
    __gp_newCbRefs.push(id);
    return { __gcb: id };
  }
  if (x !== null && typeof x === 'object') {
    if (x instanceof __gp_Self) {
      __gp_marked();
      return { __gh: x.w[__gp_REF] };
    }
    if (__gp_isWrapper(x)) {
      __gp_marked();
      return { __gh: x[__gp_REF] };
    }
    if (x instanceof Promise) {
      __gp_marked();
      return { __gjp: __gp_exportPromise(x) };
    }
  }
  return x;
}

// JSON text for the host plus the "markers inside" flag; callback refs count only once it succeeded.
function __gp_encode(value) {
  __gp_special = 0;
  __gp_root = Array.isArray(value) ? value : null;
  __gp_top = 30;
  __gp_newCbRefs = [];
  let json;
  __gp_encoding++;
  try {
    json = JSON.stringify(value, __gp_replacer);
  } finally {
    __gp_encoding--;
  }
  __gp_root = null;
  for (const id of __gp_newCbRefs) __gp_cbRefs.set(id, __gp_cbRefs.get(id) + 1);
  return json;
}

function __gp_envelopeOk(v) {
  try {
    const env = v === undefined ? { s: 0 } : { ok: v, s: 0 };
    __gp_special = 0;
    __gp_root = null;
    __gp_top = 30;
    __gp_newCbRefs = [];
    let json;
    __gp_encoding++;
    try {
      json = JSON.stringify(env, function (key, x) {
        if (key === 's' && this === env) return __gp_special;
        return __gp_replacer.call(this, key, x);
      });
    } finally {
      __gp_encoding--;
    }
    for (const id of __gp_newCbRefs) __gp_cbRefs.set(id, __gp_cbRefs.get(id) + 1);
    return json;
  } catch (e) {
    return __gp_envelopeErr(e);
  }
}

function __gp_remember(e) {
  const id = __gp_nextErr++;
  __gp_errRing.set(id, e);
  if (__gp_errRing.size > __gp_ERR_RING_MAX) __gp_errRing.delete(__gp_errRing.keys().next().value);
  return id;
}

function __gp_fullErrInfo(e) {
  const info = __gp_errInfo(e);
  info.ref = __gp_remember(e);
  let exc = null;
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) exc = e[__gp_EXC] ?? null;
  } catch (_) { /* a hostile getter: no host exception to restore */ }
  info.exc = exc;
  if (info.nonError) {
    try { info.thrown = JSON.parse(JSON.stringify(e) ?? 'null'); } catch (_) { info.thrown = null; }
  }
  return info;
}

function __gp_envelopeErr(e) {
  try {
    return JSON.stringify({ err: __gp_fullErrInfo(e) });
  } catch (_) {
    return '{"err":{"name":"Error","message":"unreportable JS error","stack":"","code":null}}';
  }
}

function __gp_reviver(key, x) {
  if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
    if (x.__gh !== undefined) return __gp_wrapperFor(x);
    if (x.__gfn !== undefined) return __gp_hostFunction(x.__gfn);
    if (x.__gcb !== undefined) return __gp_cbs.get(x.__gcb) ?? __gp_releasedCallback;
    if (x.__gp !== undefined) return __gp_hostPromise(x);
  }
  return x;
}

function __gp_releasedCallback() {
  throw new Error('this JS function was released by the host');
}

function __gp_decode(payload) {
  const body = payload.slice(1);
  return payload.charCodeAt(0) === 83 ? JSON.parse(body, __gp_reviver) : JSON.parse(body);
}

function __gp_toError(info) {
  if (info.ref != null && __gp_errRing.has(info.ref)) return __gp_errRing.get(info.ref);
  const Ctor = __gp_ERRORS[info.name] || Error;
  const e = new Ctor(info.message);
  if (info.code != null) e.code = info.code;
  if (info.exc != null) Object.defineProperty(e, __gp_EXC, { value: info.exc, enumerable: false });
  e.stack = __gp_cleanStack(e.stack);
  return e;
}

function __gp_unwrap(payload) {
  const env = __gp_decode(payload);
  if (env.err !== undefined) throw __gp_toError(env.err);
  return env.ok;
}

function __gp_callHost(kind, args) {
  const json = __gp_encode(args);
  const payload = __gp_hostCall(kind, __gp_special, json);
  if (payload === 'I') __gp_halt();
  return __gp_unwrap(payload);
}

// The host was interrupted while JS waited on it: spin until the engine's interrupt handler (armed
// by then) stops the script, uncatchably, so no more of the script runs after a deadline or Ctrl-C.
function __gp_halt() {
  for (;;) { /* the interrupt check ends this */ }
}

// Host notifications that must not throw into the caller (finalizers, promise settlements).
function __gp_notify(kind, args) {
  try {
    __gp_callHost(kind, args);
  } catch (e) {
    try { __gp_report('uncaughtException', e); } catch (_) { /* nothing left to do */ }
  }
}

function __gp_wrapperFor(d) {
  const live = __gp_handles.get(d.__gh)?.deref();
  if (live !== undefined) return live;
  const proto = d.c != null && __gp_protos.has(d.c) ? __gp_protos.get(d.c) : Object.prototype;
  const w = Object.create(proto);
  Object.defineProperty(w, __gp_REF, { value: d.__gh, enumerable: false, writable: false, configurable: false });
  for (const m of d.m || []) {
    const hid = d.__gh;
    const method = function __gp_method(...args) {
      args.unshift(hid, m);
      return __gp_callHost(__gp_K.METHOD, args);
    };
    Object.defineProperty(method, 'name', { value: m });
    Object.defineProperty(w, m, { value: method, enumerable: false, writable: true, configurable: true });
  }
  if (d.p) for (const k of Object.keys(d.p)) w[k] = d.p[k];
  __gp_handles.set(d.__gh, new WeakRef(w));
  __gp_handleReg.register(w, d.__gh);
  return w;
}

function __gp_hostFunction(fid) {
  const live = __gp_hostFns.get(fid)?.deref();
  if (live !== undefined) return live;
  const f = function __gp_hostFn(...args) {
    args.unshift(fid);
    return __gp_callHost(__gp_K.FN, args);
  };
  Object.defineProperty(f, __gp_HOSTFN, { value: fid });
  Object.defineProperty(f, 'name', { value: 'hostFunction' });
  __gp_hostFns.set(fid, new WeakRef(f));
  __gp_fnReg.register(f, fid);
  return f;
}

function __gp_hostPromise(d) {
  if (d.state === 'ok') return Promise.resolve(d.value);
  if (d.state === 'err') return Promise.reject(__gp_toError(d.error));
  let rec = __gp_hostPromises.get(d.__gp);
  if (rec === undefined) {
    rec = {};
    rec.promise = new Promise((resolve, reject) => { rec.resolve = resolve; rec.reject = reject; });
    __gp_hostPromises.set(d.__gp, rec);
  }
  return rec.promise;
}

function __gp_exportPromise(p) {
  const id = __gp_nextJsPromise++;
  p.then(
    (v) => {
      try {
        __gp_notify(__gp_K.JS_SETTLED, [id, true, v]);
      } catch (e) {
        __gp_notify(__gp_K.JS_SETTLED, [id, false, __gp_fullErrInfo(e)]);
      }
    },
    (e) => __gp_notify(__gp_K.JS_SETTLED, [id, false, __gp_fullErrInfo(e)]),
  );
  return id;
}

// Whether the running script's top-level body has finished (its async function settled).
let __gp_mainSettled = true;
let __gp_mainResult;  // what the script returned at top level

function __gp_report(kind, e) {
  __gp_hostCall(__gp_K.UNCAUGHT, 0, JSON.stringify([kind, __gp_fullErrInfo(e)]));
}

function __gp_consoleSink(level, text) {
  __gp_hostCall(__gp_K.CONSOLE, 0, JSON.stringify([level, text]));
}

// ---------------------------------------------------------------------------------- require
const __gp_moduleCache = new Map();
const __gp_hostApi = Object.freeze({
  call: (name, ...args) => __gp_callHost(__gp_K.CALL, [name, ...args]),
  fn: (name) => {
    const f = function (...args) { return __gp_callHost(__gp_K.CALL, [name, ...args]); };
    Object.defineProperty(f, 'name', { value: String(name) });
    return f;
  },
  setPrototype: (className, proto) => {
    const own = Object.getOwnPropertyDescriptor(proto, 'toJSON');
    if (own !== undefined && typeof own.value === 'function') {
      const user = own.value;
      Object.defineProperty(proto, 'toJSON', {
        value: function toJSON(key) {
          return __gp_encoding > 0 && __gp_isWrapper(this) ? new __gp_Self(this) : user.call(this, key);
        },
        enumerable: own.enumerable, writable: true, configurable: true,
      });
    }
    __gp_protos.set(String(className), proto);
  },
  refOf: (v) => (v !== null && typeof v === 'object' && __gp_isWrapper(v) ? v[__gp_REF] : undefined),
  isHostObject: (v) => v !== null && typeof v === 'object' && __gp_isWrapper(v),
  isHostFunction: (v) => typeof v === 'function' && v[__gp_HOSTFN] !== undefined,
});

function require(name) {
  if (typeof name !== 'string') throw new TypeError('require expects a module name string');
  const cached = __gp_moduleCache.get(name);
  if (cached !== undefined) return cached.exports;
  const spec = __gp_callHost(__gp_K.REQUIRE, [name]);
  const module = { id: name, exports: {} };
  __gp_moduleCache.set(name, module);
  try {
    if (spec.kind === 'js') {
      // The host compiles the body under the module's own file name when it can (spec.compiled
      // names the global slot it left the function in); else it is evaluated here as <input>.
      let body = spec.compiled ? __gp_G[spec.compiled] : undefined;
      if (spec.compiled) delete __gp_G[spec.compiled];
      if (typeof body !== 'function') {
        body = (0, eval)('(function (exports, require, module, host) {' + spec.source + '\n})');
      }
      body.call(module.exports, module.exports, require, module, __gp_hostApi);
    } else {
      module.exports = spec.value;
    }
  } catch (e) {
    __gp_moduleCache.delete(name);
    throw e;
  }
  return module.exports;
}
Object.defineProperty(__gp_G, 'require', { value: require, writable: true, configurable: true, enumerable: false });

// ---------------------------------------------------------------------------------- entries
// Called by Python on the owner thread only. Named `__gp_*` so their frames never show in script stacks
// (errors made while settling a host promise would otherwise point at a bogus line of the script).
return {
  invoke: function __gp_invoke(id, payload) {
    const fn = __gp_cbs.get(id);
    if (fn === undefined) return __gp_envelopeErr(new Error('this JS function was released by the host'));
    let v;
    try {
      v = fn.apply(undefined, __gp_decode(payload));
    } catch (e) {
      return __gp_envelopeErr(e);
    }
    return __gp_envelopeOk(v);
  },
  release: function __gp_release(id, count) {
    const left = (__gp_cbRefs.get(id) ?? 0) - count;
    if (left > 0) {
      __gp_cbRefs.set(id, left);
      return;
    }
    const fn = __gp_cbs.get(id);
    __gp_cbs.delete(id);
    __gp_cbRefs.delete(id);
    if (fn !== undefined) __gp_cbIds.delete(fn);
  },
  settle: function __gp_settle(pid, payload) {
    const rec = __gp_hostPromises.get(pid);
    if (rec === undefined) return;
    __gp_hostPromises.delete(pid);
    try {
      rec.resolve(__gp_unwrap(payload));
    } catch (e) {
      rec.reject(e);
    }
  },
  dropPromise: function __gp_dropPromise(pid) { __gp_hostPromises.delete(pid); },
  evaluate: function __gp_evaluate(code) {
    let v;
    try {
      v = (0, eval)(code);
    } catch (e) {
      return __gp_envelopeErr(e);
    }
    return __gp_envelopeOk(v);
  },
  setGlobal: function __gp_setGlobal(name, payload) {
    __gp_G[name] = __gp_unwrap(payload);
  },
  runMain: function __gp_runMain(fn, filename, dirname) {
    const module = { id: '.', filename, exports: {} };
    let p;
    __gp_mainSettled = false;
    try {
      p = fn(module.exports, require, module, filename, dirname);
    } catch (e) {
      __gp_mainSettled = true;
      __gp_report('uncaughtException', e);
      return;
    }
    __gp_mainResult = undefined;
    p.then((v) => { __gp_mainSettled = true; __gp_mainResult = v; }, (e) => {
      __gp_mainSettled = true;
      __gp_report('uncaughtException', e);
    });
  },
  mainSettled: function __gp_isMainSettled() { return __gp_mainSettled; },
  // JSON of the top-level return value ('null' for none); throws when JSON cannot hold it.
  mainResult: function __gp_mainResultJson() {
    const v = __gp_mainResult;
    __gp_mainResult = undefined;
    return v === undefined ? 'null' : JSON.stringify(v, (k, x) => {
      if (typeof x === 'bigint' || typeof x === 'function' || typeof x === 'symbol') {
        throw new TypeError('the script returned a value JSON cannot hold (' + typeof x + ')');
      }
      return x;
    }) ?? 'null';
  },
  collectRejection: function __gp_collectRejection() {
    const p = __gp_G.__geppetto_rejected;
    delete __gp_G.__geppetto_rejected;
    if (p instanceof Promise) p.then(undefined, (e) => __gp_report('unhandledRejection', e));
  },
  nextTimer: __gp_nextTimer,
  fireTimer: __gp_fireTimer,
  clearAllTimers: __gp_clearAllTimers,
};
