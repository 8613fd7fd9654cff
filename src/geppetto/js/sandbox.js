// Sandbox part (follows prelude.js in the same function body). The context has no Python
// callables at all (quickjs refuses them while a time limit is set): allowed host functions are
// Promise-returning stubs that queue requests in an outbox the Python loop drains.

const __gp_outbox = [];
const __gp_requests = new Map();
const __gp_logs = [];
const __gp_reports = [];
let __gp_nextRequest = 1;
let __gp_logChars = 0;
let __gp_logDropped = 0;
let __gp_maxLogChars = 20000;
let __gp_outcome = { state: 'pending' };

function __gp_report(kind, e) {
  __gp_reports.push({ kind, info: __gp_errInfo(e) });
}

function __gp_consoleSink(level, text) {
  if (__gp_logChars + text.length > __gp_maxLogChars) {
    __gp_logDropped++;
    return;
  }
  __gp_logChars += text.length;
  __gp_logs.push([level, text]);
}

function __gp_valueJson(v) {
  try {
    const s = JSON.stringify(v === undefined ? null : v);
    return s === undefined ? JSON.stringify(__gp_describe(v)) : s;
  } catch (_) {
    return JSON.stringify(__gp_describe(v));
  }
}

function __gp_stub(name) {
  const f = function (...args) {
    return new Promise((resolve, reject) => {
      const id = __gp_nextRequest++;
      __gp_outbox.push([id, name, JSON.stringify(args)]);
      __gp_requests.set(id, { resolve, reject });
    });
  };
  Object.defineProperty(f, 'name', { value: name });
  return f;
}

function require(name) {
  const e = new Error("Cannot find module '" + String(name) + "'");
  e.code = 'MODULE_NOT_FOUND';
  throw e;
}
Object.defineProperty(__gp_G, 'require', { value: require, writable: true, configurable: true, enumerable: false });
delete __gp_G.Atomics;
delete __gp_G.SharedArrayBuffer;

return {
  start: function __gp_start(configJson, code) {
    const cfg = JSON.parse(configJson);
    __gp_maxLogChars = cfg.maxLogChars;
    for (const name of cfg.functions) {
      Object.defineProperty(__gp_G, name, { value: __gp_stub(name), writable: true, configurable: true });
    }
    let v;
    try {
      v = (0, eval)(code);
    } catch (e) {
      __gp_outcome = { state: 'err', info: __gp_errInfo(e) };
      return;
    }
    if (v !== null && typeof v === 'object' && typeof v.then === 'function') {
      Promise.resolve(v).then(
        (ok) => { __gp_outcome = { state: 'ok', json: __gp_valueJson(ok) }; },
        (e) => { __gp_outcome = { state: 'err', info: __gp_errInfo(e) }; },
      );
    } else {
      __gp_outcome = { state: 'ok', json: __gp_valueJson(v) };
    }
  },
  settle: function __gp_settle(id, ok, json) {
    const req = __gp_requests.get(id);
    if (req === undefined) return;
    __gp_requests.delete(id);
    const value = JSON.parse(json);
    if (ok) {
      req.resolve(value);
    } else {
      const Ctor = __gp_ERRORS[value.name] || Error;
      const e = new Ctor(value.message);
      if (value.code != null) e.code = value.code;
      req.reject(e);
    }
  },
  drainOutbox: function __gp_drainOutbox() {
    return __gp_outbox.length ? JSON.stringify(__gp_outbox.splice(0)) : '';
  },
  takeLogs: function __gp_takeLogs() {
    const out = JSON.stringify({ logs: __gp_logs, dropped: __gp_logDropped });
    __gp_logs.length = 0;
    return out;
  },
  result: function __gp_result() {
    if (__gp_outcome.state === 'pending' && __gp_reports.length) {
      return JSON.stringify({ state: 'err', info: __gp_reports[0].info });
    }
    return JSON.stringify(__gp_outcome);
  },
  nextTimer: __gp_nextTimer,
  fireTimer: __gp_fireTimer,
};
