// Small WebIDL-style conversions shared by the modules.

import { host } from './host.js';

// enc encodes a string as UTF-8.
export const enc = s => new Uint8Array(host.utf8Encode(s));
// dec decodes UTF-8 (U+FFFD for invalid bytes).
export const dec = b => host.utf8Decode(b, false);

// toUSV converts to a USVString: lone surrogates become U+FFFD.
export const toUSV = String.prototype.toWellFormed
  ? v => String(v).toWellFormed()
  : v => String(v).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

export const isBufferSource = v => v instanceof ArrayBuffer || ArrayBuffer.isView(v);

// bytesOf views a BufferSource as a Uint8Array (no copy).
export function bytesOf(v) {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('expected an ArrayBuffer or ArrayBufferView');
}

export function concat(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  if (total === undefined) { total = 0; for (const c of chunks) total += c.length; }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

// latin1 turns bytes into a string of one char per byte.
export function latin1(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
  return s;
}

export const dictionary = (v, what) => {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' && typeof v !== 'function') throw new TypeError(`${what} must be an object`);
  return v;
};

// iterable adds keys/values/entries/forEach/@@iterator to proto, over the array
// of [key, value] pairs that pairsOf(obj) returns (read again at each step, so
// that mutations during iteration are seen, as WebIDL's pair iterators do).
const ST = Symbol('iterator state');
const ArrayIterProto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
export function iterable(proto, pairsOf, name) {
  const IterProto = Object.create(ArrayIterProto, {
    next: { value() {
      const st = this[ST];
      if (!st) throw new TypeError('next called on an incompatible object');
      const p = pairsOf(st.o);
      if (st.i >= p.length) return { value: undefined, done: true };
      const e = p[st.i++];
      return { value: st.k === 0 ? e[0] : st.k === 1 ? e[1] : [e[0], e[1]], done: false };
    }, writable: true, configurable: true },
    [Symbol.toStringTag]: { value: name + ' Iterator', configurable: true },
  });
  const make = (o, k) => { pairsOf(o); return Object.create(IterProto, { [ST]: { value: { o, k, i: 0 } } }); };
  const methods = {
    keys() { return make(this, 0); },
    values() { return make(this, 1); },
    entries() { return make(this, 2); },
    forEach(cb, thisArg) {
      if (typeof cb !== 'function') throw new TypeError('forEach: callback is not a function');
      const p = pairsOf(this);
      for (let i = 0; i < p.length; i++) cb.call(thisArg, p[i][1], p[i][0], this);
    },
  };
  for (const k in methods) Object.defineProperty(proto, k, { value: methods[k], writable: true, configurable: true });
  Object.defineProperty(proto, Symbol.iterator, { value: methods.entries, writable: true, configurable: true });
}
