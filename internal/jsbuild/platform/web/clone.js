// structuredClone. See https://html.spec.whatwg.org/#structured-cloning.
//
// Clones primitives, wrapper objects, Date, RegExp, ArrayBuffer, typed arrays,
// DataView, Map, Set, Error objects, Blob/File, arrays and plain objects (own
// enumerable string keys; a class instance becomes a plain object), keeping
// shared references and cycles. Functions, symbols, promises, weak
// collections and the platform's other objects throw a DataCloneError.
// `transfer` is accepted but copies (nothing is detached).
import { DOMException } from './dom.js';
import { Blob, File, blobBytes, fileFrom } from './blob.js';

const errors = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
const fail = v => new DOMException(`${typeof v === 'symbol' ? v.toString() : typeof v === 'function' ? 'function ' + (v.name || '(anonymous)') : Object.prototype.toString.call(v)} could not be cloned.`, 'DataCloneError');
let platform = [];
// setUncloneable lists the platform classes whose instances cannot be cloned.
export function setUncloneable(classes) { platform = classes; }

export function structuredClone(value, options) {
  if (arguments.length < 1) throw new TypeError('structuredClone: 1 argument required');
  return clone(value, new Map());
}

function clone(v, memo) {
  if (typeof v === 'symbol' || typeof v === 'function') throw fail(v);
  if (typeof v !== 'object' || v === null) return v;
  let out = memo.get(v);
  if (out) return out;
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  const set = o => (memo.set(v, o), o);
  switch (tag) {
    case 'Boolean': case 'Number': case 'String': case 'BigInt':
      return set(Object(v.valueOf()));
    case 'Date': return set(new Date(v.getTime()));
    case 'RegExp': return set(new RegExp(v.source, v.flags));
    case 'ArrayBuffer': return set(v.slice(0));
    case 'Map': {
      const m = set(new Map());
      for (const [k, x] of v) m.set(clone(k, memo), clone(x, memo));
      return m;
    }
    case 'Set': {
      const s = set(new Set());
      for (const x of v) s.add(clone(x, memo));
      return s;
    }
  }
  if (ArrayBuffer.isView(v)) {
    const buf = clone(v.buffer, memo);
    return set(v instanceof DataView ? new DataView(buf, v.byteOffset, v.byteLength) : new v.constructor(buf, v.byteOffset, v.length));
  }
  if (v instanceof Error) {
    const C = errors[v.name] && Object.hasOwn(errors, v.name) ? errors[v.name] : Error;
    const e = set(Object.create(C.prototype));
    const d = (k, x) => Object.defineProperty(e, k, { value: x, writable: true, configurable: true });
    if (Object.hasOwn(v, 'message')) d('message', String(v.message));
    if (typeof v.stack === 'string') d('stack', v.stack);
    if (Object.hasOwn(v, 'cause')) d('cause', clone(v.cause, memo));
    return e;
  }
  if (v instanceof File) return set(fileFrom(blobBytes(v), v.name, v.type));
  if (v instanceof Blob) return set(new Blob([v], { type: v.type }));
  if (tag === 'Promise' || tag === 'WeakMap' || tag === 'WeakSet' || tag === 'WeakRef' || platform.some(C => v instanceof C)) throw fail(v);
  if (Array.isArray(v)) {
    const a = set(new Array(v.length));
    for (const k of Object.keys(v)) a[k] = clone(v[k], memo);
    return a;
  }
  const o = set({});
  for (const k of Object.keys(v)) o[k] = clone(v[k], memo);
  return o;
}
