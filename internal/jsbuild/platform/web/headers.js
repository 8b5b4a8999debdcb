// Headers. See https://fetch.spec.whatwg.org/#headers-class.
//
// No forbidden header names: like Node (undici) and Workers, a server-side
// Request may carry Host, Cookie and the like.
import { iterable } from './util.js';

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const custom = Symbol.for('nodejs.util.inspect.custom');
const arrayValues = Array.prototype[Symbol.iterator];

// Checking a name or a value with a regular expression costs a few
// microseconds in the engine: the names and the short values seen already are
// kept, a few hundred of each (the common ones from the start, in the snapshot).
const knownNames = new Map(), knownValues = new Set(), known = 512;
for (const n of ['accept', 'accept-encoding', 'accept-language', 'authorization', 'cache-control', 'connection',
  'content-disposition', 'content-encoding', 'content-length', 'content-type', 'cookie', 'etag', 'host', 'if-none-match',
  'last-modified', 'location', 'origin', 'referer', 'set-cookie', 'user-agent', 'vary', 'x-forwarded-for',
  'x-middleware-next', 'x-middleware-rewrite', 'x-request-id']) knownNames.set(n, n);
for (const v of ['application/json', 'text/plain;charset=UTF-8', 'no-store', 'no-cache', '1']) knownValues.add(v);

export function checkName(n) {
  if (typeof n !== 'string') n = String(n);
  const lower = knownNames.get(n);
  if (lower !== undefined) return lower;
  if (!token.test(n)) throw new TypeError(`Headers: invalid header name ${JSON.stringify(n)}`);
  const l = n.toLowerCase();
  if (knownNames.size < known) knownNames.set(n, l);
  return l;
}
// checkValue normalizes a header value: HTTP whitespace trimmed; NUL, CR and LF
// rejected, and chars above U+00FF (it is a ByteString).
const plainValue = /^(?:[!-~\x80-\xff](?:[\t -~\x80-\xff]*[!-~\x80-\xff])?)?$/;
const edgeSpace = /^[\t\n\r ]+|[\t\n\r ]+$/g, badValue = /[\0\r\n]|[^\x00-\xff]/;
export function checkValue(v) {
  if (typeof v !== 'string') v = String(v);
  if (knownValues.has(v)) return v;
  if (plainValue.test(v)) { // the common case: nothing to trim or refuse
    if (v.length <= 64 && knownValues.size < known) knownValues.add(v);
    return v;
  }
  v = v.replace(edgeSpace, '');
  if (badValue.test(v)) throw new TypeError(`Headers: invalid header value ${JSON.stringify(v)}`);
  return v;
}

// Set by the classes' static blocks: the internal access to their private state.
let sortedOf;
// headerPairs(headers) returns the header list: [lowercase name, value] pairs in
// insertion order, not combined (set-cookie values stay apart). Do not modify it.
export let headerPairs;
// setGuard(headers, 'immutable') makes headers read-only.
export let setGuard, guardOf;
// appendTrusted(headers, pairs) appends [name, value] pairs without validation;
// names must be lowercase tokens and values valid (the host's request headers are).
export let appendTrusted;

export class Headers {
  #list = [];       // [lowercase name, value], in insertion order
  #sorted = null;   // the sort-and-combine view, cached until the next change
  #guard = 'none';  // 'none' or 'immutable'
  constructor(init) {
    if (init !== undefined && init !== null) fill(this, init);
    else if (init === null) throw new TypeError('Headers: init must be an object');
  }
  #mutable() {
    if (this.#guard === 'immutable') throw new TypeError('Headers are immutable');
    this.#sorted = null;
  }
  append(name, value) {
    name = checkName(name); value = checkValue(value);
    this.#mutable();
    this.#list.push([name, value]);
  }
  delete(name) {
    name = checkName(name);
    this.#mutable();
    this.#list = this.#list.filter(e => e[0] !== name);
  }
  get(name) {
    name = checkName(name);
    const list = this.#list;
    let v = null;
    for (let i = 0; i < list.length; i++) if (list[i][0] === name) v = v === null ? list[i][1] : v + ', ' + list[i][1];
    return v;
  }
  getSetCookie() { return this.#list.filter(e => e[0] === 'set-cookie').map(e => e[1]); }
  has(name) {
    name = checkName(name);
    const list = this.#list;
    for (let i = 0; i < list.length; i++) if (list[i][0] === name) return true;
    return false;
  }
  set(name, value) {
    name = checkName(name); value = checkValue(value);
    this.#mutable();
    const i = this.#list.findIndex(e => e[0] === name);
    if (i < 0) this.#list.push([name, value]);
    else this.#list = this.#list.filter((e, j) => j === i ? (e[1] = value, true) : e[0] !== name);
  }
  [custom](depth, opts, inspect) {
    const o = {};
    for (const [k, v] of sortedOf(this)) o[k] = k in o ? [].concat(o[k], v) : v;
    return 'Headers ' + inspect(o, opts);
  }
  static {
    // sortedOf returns the sorted and combined list, set-cookie values apart.
    sortedOf = h => {
      if (h.#sorted) return h.#sorted;
      const out = [], list = h.#list.slice().sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
      for (const [n, v] of list) {
        const last = out[out.length - 1];
        if (n !== 'set-cookie' && last && last[0] === n) last[1] += ', ' + v;
        else out.push([n, v]);
      }
      return h.#sorted = out;
    };
    headerPairs = h => h.#list;
    setGuard = (h, g) => { h.#guard = g; };
    guardOf = h => h.#guard;
    appendTrusted = (h, pairs) => { for (let i = 0; i < pairs.length; i++) h.#list.push([pairs[i][0], pairs[i][1]]); h.#sorted = null; };
  }
}
iterable(Headers.prototype, h => sortedOf(h), 'Headers');

// fill fills h from a HeadersInit: a Headers, a sequence of pairs or a record.
export function fill(h, init) {
  if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError('Headers: init must be an object');
  if (init instanceof Headers) { appendTrusted(h, headerPairs(init)); return; }
  const iter = init[Symbol.iterator];
  if (iter === arrayValues && Array.isArray(init)) {
    // An array of arrays, iterated as for-of would (nothing patched), without
    // the iterator objects.
    for (let i = 0; i < init.length; i++) {
      const p = init[i];
      if (!Array.isArray(p) || p[Symbol.iterator] !== arrayValues) { fillPair(h, p); continue; }
      if (p.length !== 2) throw new TypeError('Headers: each header must be a [name, value] pair');
      h.append(p[0], p[1]);
    }
    return;
  }
  if (typeof iter === 'function') {
    for (const pair of init) {
      fillPair(h, pair);
    }
    return;
  }
  for (const k of Reflect.ownKeys(init)) {
    const d = Reflect.getOwnPropertyDescriptor(init, k);
    if (!d || !d.enumerable) continue;
    if (typeof k === 'symbol') throw new TypeError('Headers: a symbol is not a header name');
    h.append(k, init[k]);
  }
}

// recordPairs returns the header list a Headers filled from init would
// hold when init is a record (a plain object: no Headers, not iterable),
// validated as fill does, without making the Headers; null otherwise.
export function recordPairs(init) {
  if (typeof init !== 'object' || init === null || init instanceof Headers || typeof init[Symbol.iterator] === 'function') return null;
  // (Object.keys lists the enumerable string keys, in order: symbols are
  // left to fill, which refuses the enumerable ones.)
  if (Object.getOwnPropertySymbols(init).length > 0) return null;
  const keys = Object.keys(init), list = [];
  for (let i = 0; i < keys.length; i++) list.push([checkName(keys[i]), checkValue(init[keys[i]])]);
  return list;
}

function fillPair(h, pair) {
  const p = typeof pair === 'object' && pair !== null && typeof pair[Symbol.iterator] === 'function' ? [...pair] : null;
  if (!p || p.length !== 2) throw new TypeError('Headers: each header must be a [name, value] pair');
  h.append(p[0], p[1]);
}
