// console, with Node's util.format conventions, and reportError.
import { host } from './host.js';

const custom = Symbol.for('nodejs.util.inspect.custom');
const ident = /^[A-Za-z_$][\w$]*$/;
const quote = s => {
  const q = !s.includes("'") ? "'" : !s.includes('"') ? '"' : !s.includes('`') ? '`' : "'";
  return q + s.replace(/[\\\n\r\t\b\f\v\0]/g, c => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\0': '\\x00' })[c])
    .replaceAll(q, '\\' + q) + q;
};
const ctorName = o => {
  for (let p = o; p; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, 'constructor');
    if (d && typeof d.value === 'function' && d.value.name) return d.value.name;
  }
  return null;
};
const tagOf = o => Object.prototype.toString.call(o).slice(8, -1);

// mapStack rewrites a stack trace's positions (the platform maps them
// through the route bundle's source map: setStackMapper).
let mapStack = st => st;
export function setStackMapper(fn) { mapStack = fn; }

function errorString(e) {
  let head;
  try { head = `${e.name}: ${e.message}`; } catch { head = 'Error'; }
  if (typeof e.message === 'string' && !e.message) head = String(e.name);
  const st = typeof e.stack === 'string' ? mapStack(e.stack) : '';
  // V8 stacks begin with the head, QuickJS stacks with the first frame.
  return st.startsWith(head) ? st.replace(/\n$/, '') : (head + (st ? '\n' + st.replace(/\n$/, '') : ''));
}

// inspect formats v roughly as Node's util.inspect does: depth 2, cycles as
// [Circular *n], lines broken past 72 columns.
export function inspect(v, opts) {
  const ctx = { depth: opts?.depth ?? 2, seen: [], refs: new Map(), n: 0 };
  return fmt(v, ctx, 0, true);
}

function fmt(v, ctx, level, top) {
  switch (typeof v) {
    case 'string': return top ? quote(v) : quote(v);
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint': return v + 'n';
    case 'symbol': return v.toString();
    case 'undefined': return 'undefined';
    case 'boolean': return String(v);
  }
  if (v === null) return 'null';
  if (ctx.seen.includes(v)) {
    let r = ctx.refs.get(v);
    if (!r) ctx.refs.set(v, r = ++ctx.n);
    return `[Circular *${r}]`;
  }
  if (typeof v[custom] === 'function' && v[custom] !== inspect) {
    const r = v[custom](ctx.depth - level, { depth: ctx.depth - level }, inspect);
    if (typeof r === 'string') return r;
    if (r !== v) return fmt(r, ctx, level);
  }
  ctx.seen.push(v);
  try {
    let s = fmtObject(v, ctx, level);
    const r = ctx.refs.get(v);
    if (r) s = `<ref *${r}> ` + s;
    return s;
  } finally { ctx.seen.pop(); }
}

function fmtObject(v, ctx, level) {
  const tag = tagOf(v);
  const name = ctorName(v);
  let prefix = '', braces = ['{', '}'], entries = [], keys = Object.keys(v), special = null, cause = false;
  if (typeof v === 'function') {
    const src = Function.prototype.toString.call(v);
    special = src.startsWith('class') ? `[class ${v.name || '(anonymous)'}]` : `[Function: ${v.name || '(anonymous)'}]`;
    if (!v.name) special = special.replace(': (anonymous)', ' (anonymous)');
    if (!keys.length) return special;
  } else if (v instanceof Error) {
    special = errorString(v);
    keys = keys.filter(k => k !== 'stack' && k !== 'message');
    // A cause (own, not enumerable: new Error(m, { cause })) is shown as Node.js shows it.
    cause = Object.hasOwn(v, 'cause') && !keys.includes('cause');
    if (!keys.length && !cause) return level ? `[${special.split('\n')[0]}]` : special;
  } else if (tag === 'Date') {
    special = isNaN(v) ? 'Invalid Date' : v.toISOString();
    if (!keys.length) return special;
  } else if (tag === 'RegExp') {
    special = RegExp.prototype.toString.call(v);
    if (!keys.length) return special;
  } else if (tag === 'Boolean' || tag === 'Number' || tag === 'String' || tag === 'BigInt' || tag === 'Symbol') {
    special = `[${tag}: ${fmt(v.valueOf(), ctx, level + 1)}]`;
    if (tag === 'String') keys = keys.filter(k => !/^\d+$/.test(k));
    if (!keys.length) return special;
  } else if (tag === 'Promise') return 'Promise { <unknown> }';
  if (special) prefix = special + ' ';
  if (level > ctx.depth) return Array.isArray(v) ? '[Array]' : `[${name || 'Object'}]`;
  const more = n => `... ${n} more item${n > 1 ? 's' : ''}`;
  if (Array.isArray(v)) {
    braces = ['[', ']'];
    if (name !== 'Array') prefix = `${name}(${v.length}) `;
    let holes = 0;
    const flush = () => { if (holes) entries.push(`<${holes} empty item${holes > 1 ? 's' : ''}>`); holes = 0; };
    for (let i = 0; i < v.length && entries.length < 100; i++) {
      if (!(i in v)) { holes++; continue; }
      flush();
      entries.push(fmt(v[i], ctx, level + 1));
    }
    flush();
    if (v.length > 100 && entries.length >= 100) entries.push(more(v.length - 100));
    keys = keys.filter(k => !/^\d+$/.test(k));
  } else if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    braces = ['[', ']'];
    prefix = `${name || tag}(${v.length}) `;
    const n = Math.min(v.length, 100);
    for (let i = 0; i < n; i++) entries.push(fmt(v[i], ctx, level + 1));
    if (v.length > 100) entries.push(more(v.length - 100));
    keys = keys.filter(k => !/^\d+$/.test(k));
  } else if (tag === 'ArrayBuffer') {
    const b = new Uint8Array(v), n = Math.min(b.length, 50);
    let hex = [];
    for (let i = 0; i < n; i++) hex.push(b[i].toString(16).padStart(2, '0'));
    if (b.length > 50) hex.push(`... ${b.length - 50} more bytes`);
    prefix = 'ArrayBuffer ';
    entries.push(`[Uint8Contents]: <${hex.join(' ')}>`, `byteLength: ${b.length}`);
  } else if (tag === 'Map') {
    prefix = `${name || 'Map'}(${v.size}) `;
    for (const [k, x] of v) entries.push(`${fmt(k, ctx, level + 1)} => ${fmt(x, ctx, level + 1)}`);
  } else if (tag === 'Set') {
    prefix = `${name || 'Set'}(${v.size}) `;
    for (const x of v) entries.push(fmt(x, ctx, level + 1));
  } else if (!special) {
    const proto = Object.getPrototypeOf(v);
    if (proto === null) prefix = '[Object: null prototype] ';
    else if (name && name !== 'Object') prefix = name + ' ';
    else if (tag !== 'Object') prefix = `Object [${tag}] `;
    if (name && name !== 'Object' && tag !== 'Object' && tag !== name) prefix = `${name} [${tag}] `;
  }
  if (cause) entries.push(`[cause]: ${fmt(v.cause, ctx, level + 1)}`);
  for (const k of [...keys, ...Object.getOwnPropertySymbols(v).filter(s => Object.prototype.propertyIsEnumerable.call(v, s))]) {
    const d = Object.getOwnPropertyDescriptor(v, k);
    const ks = typeof k === 'symbol' ? `[${k.toString()}]` : ident.test(k) ? k : quote(k);
    const val = !d ? 'undefined' : 'value' in d ? fmt(d.value, ctx, level + 1) : d.get ? (d.set ? '[Getter/Setter]' : '[Getter]') : '[Setter]';
    entries.push(`${ks}: ${val}`);
  }
  if (!entries.length) return special ?? prefix + braces[0] + braces[1];
  const oneLine = `${prefix}${braces[0]} ${entries.join(', ')} ${braces[1]}`;
  if (oneLine.length + level * 2 <= 72 && !oneLine.includes('\n')) return oneLine;
  const pad = '  '.repeat(level + 1);
  return `${prefix}${braces[0]}\n${pad}${entries.join(`,\n${pad}`)}\n${'  '.repeat(level)}${braces[1]}`;
}

// format formats its arguments as Node's util.format does: %s %d %i %f %j %o %O %c %%.
export function format(...args) {
  let out = '', i = 0;
  if (typeof args[0] === 'string') {
    const f = args[0];
    i = 1;
    let last = 0;
    for (let p = f.indexOf('%'); p >= 0 && p < f.length - 1; p = f.indexOf('%', p + 1)) {
      const c = f[p + 1];
      let rep;
      if (c === '%') rep = '%';
      else if (i >= args.length) { if ('sdifjoOc'.includes(c)) { p++; } continue; }
      else {
        const a = args[i];
        switch (c) {
          case 's': rep = typeof a === 'string' ? a : typeof a === 'bigint' ? a + 'n' : typeof a === 'symbol' ? a.toString()
            : typeof a === 'object' && a !== null ? (a instanceof Error ? errorString(a) : inspect(a, { depth: 0 })) : String(a); break;
          case 'd': rep = typeof a === 'bigint' ? a + 'n' : typeof a === 'object' && a !== null ? 'NaN' : fmt(Number(a), null, 0); break;
          case 'i': rep = typeof a === 'bigint' ? a + 'n' : typeof a === 'object' && a !== null ? 'NaN' : String(parseInt(a)); break;
          case 'f': rep = typeof a === 'symbol' ? 'NaN' : String(parseFloat(a)); break;
          case 'j': try { rep = JSON.stringify(a); } catch (e) { rep = /circular/i.test(e.message) ? '[Circular]' : (() => { throw e; })(); } break;
          case 'o': rep = inspect(a, { depth: 4 }); break;
          case 'O': rep = inspect(a); break;
          case 'c': rep = ''; break;
          default: continue;
        }
        i++;
      }
      out += f.slice(last, p) + rep;
      last = p + 2;
      p++;
    }
    out += f.slice(last);
  }
  for (; i < args.length; i++) {
    const a = args[i];
    out += (out || i > 0 ? ' ' : '') + (typeof a === 'string' ? a : inspect(a));
  }
  return out;
}

let indent = '';
const counts = new Map(), times = new Map();
function write(fd, args) {
  let s = format(...args);
  if (indent) s = indent + s.replaceAll('\n', '\n' + indent);
  host.write(fd, s + '\n');
}
const label = l => l === undefined ? 'default' : String(l);
const hr = () => host.hrtime();
const since = l => {
  const t = times.get(l);
  if (t === undefined) { write(2, [`Warning: No such label '${l}'`]); return null; }
  const ms = hr() - t;
  return ms >= 1000 ? (ms / 1000).toFixed(3) + 's' : ms.toFixed(3) + 'ms';
};

export const console = {
  log(...a) { write(1, a); },
  info(...a) { write(1, a); },
  debug(...a) { write(1, a); },
  warn(...a) { write(2, a); },
  error(...a) { write(2, a); },
  trace(...a) {
    const st = mapStack(new Error().stack || '').split('\n').filter(l => l && !l.includes('trace')).join('\n');
    write(2, ['Trace' + (a.length ? ': ' + format(...a) : '') + (st ? '\n' + st : '')]);
  },
  dir(v, o) { write(1, [inspect(v, o)]); },
  dirxml(...a) { write(1, a); },
  table(...a) { write(1, a); },
  assert(ok, ...a) { if (!ok) write(2, a.length ? ['Assertion failed: ' + format(...a)] : ['Assertion failed']); },
  count(l) { l = label(l); const n = (counts.get(l) || 0) + 1; counts.set(l, n); write(1, [`${l}: ${n}`]); },
  countReset(l) { counts.delete(label(l)); },
  group(...a) { if (a.length) write(1, a); indent += '  '; },
  groupCollapsed(...a) { console.group(...a); },
  groupEnd() { indent = indent.slice(2); },
  time(l) { times.set(label(l), hr()); },
  timeLog(l, ...a) { l = label(l); const d = since(l); if (d) write(1, [`${l}: ${d}`, ...a]); },
  timeEnd(l) { l = label(l); const d = since(l); if (d) { times.delete(l); write(1, [`${l}: ${d}`]); } },
};
for (const k in console) Object.defineProperty(console, k, { enumerable: false });

// reportError logs an error that nobody caught (a listener's, a timer's).
export function reportError(e) {
  write(2, ['Uncaught', e]);
}
