// Shared JS prelude: error descriptions, timers and console.
// Python concatenates this file with bridge.js (trusted runtime) or sandbox.js (sandbox profile)
// inside one function body, so the mode file supplies `__gp_report` and `__gp_consoleSink`, and
// this file's functions are private to that closure. Internal functions carry the `__gp_` prefix
// so that stack traces shown to users can drop their frames.

const __gp_G = globalThis;
const __gp_ERRORS = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

// A readable string for any value: strings as-is, everything else JSON-ish (console and messages).
function __gp_describe(v) {
  if (typeof v === 'string') return v;
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return '[Function: ' + (v.name || 'anonymous') + ']';
  if (typeof v === 'bigint') return String(v) + 'n';
  if (typeof v === 'symbol') return v.toString();
  if (v instanceof Error) {
    const head = String(v.name) + ': ' + String(v.message);
    const stack = typeof v.stack === 'string' ? v.stack.replace(/\s+$/, '') : '';
    return stack ? head + '\n' + stack : head;
  }
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s;
  } catch (_) {
    return __gp_describeCyclic(v);
  }
  return String(v);
}

function __gp_describeCyclic(v) {
  const ancestors = [];
  try {
    return JSON.stringify(v, function (key, x) {
      if (x === null || typeof x !== 'object') return typeof x === 'bigint' ? String(x) + 'n' : x;
      while (ancestors.length && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(x)) return '[Circular]';
      ancestors.push(x);
      return x;
    });
  } catch (_) {
    return Object.prototype.toString.call(v);
  }
}

function __gp_cleanStack(stack) {
  if (typeof stack !== 'string') return '';
  return stack.split('\n').filter((line) => !line.includes('at __gp_')).join('\n');
}

// Plain description of a thrown value for the host: {name, message, stack, code, nonError}.
function __gp_errInfo(e) {
  try {
    if (e instanceof Error) {
      const code = e.code;
      return {
        name: String(e.name),
        message: String(e.message),
        stack: __gp_cleanStack(e.stack),
        code: typeof code === 'string' || typeof code === 'number' ? code : null,
        nonError: false,
      };
    }
    return { name: '', message: __gp_describe(e), stack: '', code: null, nonError: true };
  } catch (_) {
    return { name: 'Error', message: 'unprintable thrown value', stack: '', code: null, nonError: true };
  }
}

// ---------------------------------------------------------------------------------- timers
// Timers live in JS; the owner loop asks for the next delay and fires due timers one at a time,
// draining microtasks in between (Node's ordering: by due time, then by creation).
const __gp_heap = [];
const __gp_timers = new Map();
let __gp_timerSeq = 0;
let __gp_nextTimerId = 1;
const __gp_TIMEOUT_MAX = 2147483647;

function __gp_before(a, b) {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

function __gp_heapPush(t) {
  __gp_heap.push(t);
  let i = __gp_heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!__gp_before(__gp_heap[i], __gp_heap[p])) break;
    [__gp_heap[i], __gp_heap[p]] = [__gp_heap[p], __gp_heap[i]];
    i = p;
  }
}

function __gp_heapPop() {
  const top = __gp_heap[0];
  const last = __gp_heap.pop();
  if (__gp_heap.length) {
    __gp_heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < __gp_heap.length && __gp_before(__gp_heap[l], __gp_heap[m])) m = l;
      if (r < __gp_heap.length && __gp_before(__gp_heap[r], __gp_heap[m])) m = r;
      if (m === i) break;
      [__gp_heap[i], __gp_heap[m]] = [__gp_heap[m], __gp_heap[i]];
      i = m;
    }
  }
  return top;
}

function __gp_addTimer(name, fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError(name + ' requires a callback function');
  let delay = Number(ms);
  if (!(delay >= 0) || delay > __gp_TIMEOUT_MAX) delay = 0;
  if (repeat && delay < 1) delay = 1;
  const t = {
    id: __gp_nextTimerId++, due: performance.now() + delay, seq: __gp_timerSeq++,
    fn, args, delay, repeat, active: true,
  };
  __gp_timers.set(t.id, t);
  __gp_heapPush(t);
  return t.id;
}

function __gp_clearTimer(id) {
  const t = __gp_timers.get(id);
  if (t !== undefined) {
    t.active = false;
    __gp_timers.delete(id);
  }
}

function __gp_pruneTimers() {
  while (__gp_heap.length && !__gp_heap[0].active) __gp_heapPop();
}

// Milliseconds until the next timer is due, or -1 when there is none.
function __gp_nextTimer() {
  __gp_pruneTimers();
  if (!__gp_heap.length) return -1;
  return Math.max(0, __gp_heap[0].due - performance.now());
}

// Runs the earliest due timer; 1 when one ran, 0 when none was due.
function __gp_fireTimer() {
  __gp_pruneTimers();
  if (!__gp_heap.length || __gp_heap[0].due > performance.now()) return 0;
  const t = __gp_heapPop();
  if (!t.repeat) __gp_timers.delete(t.id);
  try {
    t.fn.apply(undefined, t.args);
  } catch (e) {
    __gp_report('uncaughtException', e);
  }
  if (t.repeat && t.active) {
    t.due = performance.now() + t.delay;
    t.seq = __gp_timerSeq++;
    __gp_heapPush(t);
  }
  return 1;
}

function __gp_clearAllTimers() {
  for (const t of __gp_timers.values()) t.active = false;
  __gp_timers.clear();
  __gp_heap.length = 0;
}

function setTimeout(fn, ms, ...args) { return __gp_addTimer('setTimeout', fn, ms, args, false); }
function setInterval(fn, ms, ...args) { return __gp_addTimer('setInterval', fn, ms, args, true); }
function clearTimeout(id) { __gp_clearTimer(id); }
function clearInterval(id) { __gp_clearTimer(id); }

for (const [name, fn] of Object.entries({ setTimeout, setInterval, clearTimeout, clearInterval })) {
  Object.defineProperty(__gp_G, name, { value: fn, writable: true, configurable: true, enumerable: false });
}

// ---------------------------------------------------------------------------------- console
const __gp_console = {};
for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
  Object.defineProperty(__gp_console, level, {
    value: function (...args) { __gp_consoleSink(level, args.map(__gp_describe).join(' ')); },
    enumerable: true,
  });
}
Object.defineProperty(__gp_G, 'console', {
  value: Object.freeze(__gp_console), writable: true, configurable: true, enumerable: false,
});
