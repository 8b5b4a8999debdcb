// Timers: a binary heap ordered by (due time, sequence), driven by the engine
// through the nextTimer/runTimers hooks of CONTRACT.md.
//
// runTimers runs one due timer per call: each timer is a task of its own, and
// the engine runs the pending jobs (microtasks) before it asks nextTimer again,
// which answers 0 while more timers are due. So promise callbacks queued by a
// timer run before the next timer, as in browsers and Node.
import { host } from './host.js';
import { reportError } from './console.js';

let heap = [];            // timer records {id, due, seq, fn, args, every}
const active = new Map(); // id → record, for clear*
let nextId = 1, seq = 0;

const less = (a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq);
function push(t) {
  let i = heap.push(t) - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(heap[i], heap[p])) break;
    [heap[i], heap[p]] = [heap[p], heap[i]];
    i = p;
  }
}
function pop() {
  const top = heap[0], last = heap.pop();
  if (heap.length) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  }
  return top;
}
// peek drops cleared timers from the top and returns the earliest live one.
function peek() {
  while (heap.length && !active.has(heap[0].id)) pop();
  return heap[0];
}

function schedule(fn, ms, args, repeat) {
  if (typeof fn !== 'function') {
    const code = String(fn);
    fn = () => (0, eval)(code);
  }
  ms = Number(ms);
  if (!(ms > 0)) ms = 0; // NaN, negative → 0
  const t = { id: nextId++, due: host.hrtime() + ms, seq: seq++, fn, args, every: repeat ? ms : -1 };
  active.set(t.id, t);
  push(t);
  return t.id;
}

export const setTimeout = (fn, ms = 0, ...args) => schedule(fn, ms, args, false);
export const setInterval = (fn, ms = 0, ...args) => schedule(fn, ms, args, true);
export function clearTimeout(id) { active.delete(Number(id)); }
export const clearInterval = clearTimeout;
// setTimer is setTimeout for the platform's own use.
export const setTimer = (fn, ms) => schedule(fn, ms, [], false);

export function queueMicrotask(cb) {
  if (typeof cb !== 'function') throw new TypeError('queueMicrotask: callback is not a function');
  Promise.resolve().then(() => { try { cb(); } catch (e) { reportError(e); } });
}

// nextTimer returns the milliseconds until the earliest timer is due (0 if one
// is due now), or -1 when no timer is pending.
export function nextTimer() {
  const t = peek();
  if (!t) return -1;
  const d = t.due - host.hrtime();
  return d > 0 ? Math.ceil(d) : 0;
}

// runTimers runs the earliest timer if it is due. An interval is scheduled again
// from the time it ran.
export function runTimers() {
  const t = peek();
  if (!t) return;
  const now = host.hrtime();
  if (t.due > now) return;
  pop();
  if (t.every >= 0) {
    t.due = now + t.every;
    t.seq = seq++;
    push(t);
  } else active.delete(t.id);
  try { t.fn.apply(globalThis, t.args); } catch (e) { reportError(e); }
}

// clearAllTimers drops every pending timer; the dispatcher calls it after a request.
export function clearAllTimers() {
  if (heap.length === 0 && active.size === 0) return;
  heap = [];
  active.clear();
}
