// Blob, File and FormData. See https://w3c.github.io/FileAPI/ and
// https://xhr.spec.whatwg.org/#interface-formdata.
import { enc, dec, bytesOf, isBufferSource, concat, toUSV, iterable } from './util.js';
import { ReadableStream } from './streams.js';

const normType = t => { t = String(t); return /^[\x20-\x7e]*$/.test(t) ? t.toLowerCase() : ''; };

// Set by the classes' static blocks: the internal access to their private state.
// blobBytes(blob) returns blob's bytes (do not modify them).
export let blobBytes;
let blobFrom, setBytes;
// formPairs(formData) returns its [name, string or File] entries.
export let formPairs;

export class Blob {
  #bytes; #type;
  constructor(parts, options) {
    const chunks = [];
    if (parts !== undefined) {
      if (typeof parts !== 'object' || parts === null || typeof parts[Symbol.iterator] !== 'function')
        throw new TypeError('Blob: blobParts must be a sequence');
      const native = options?.endings === 'native';
      for (const p of parts) {
        if (p instanceof Blob) chunks.push(p.#bytes);
        else if (isBufferSource(p)) chunks.push(bytesOf(p).slice());
        else { let s = toUSV(p); if (native) s = s.replace(/\r?\n|\r/g, '\n'); chunks.push(enc(s)); }
      }
    }
    if (options?.endings !== undefined && options.endings !== 'transparent' && options.endings !== 'native')
      throw new TypeError("Blob: endings must be 'transparent' or 'native'");
    this.#bytes = concat(chunks); // Blob bytes are never modified, so a Blob part's may be shared
    this.#type = options?.type === undefined ? '' : normType(options.type);
  }
  get size() { return this.#bytes.length; }
  get type() { return this.#type; }
  slice(start = 0, end = this.#bytes.length, type = '') {
    const n = this.#bytes.length;
    const rel = v => { v = Math.trunc(Number(v)) || 0; return v < 0 ? Math.max(n + v, 0) : Math.min(v, n); };
    return blobFrom(this.#bytes.subarray(rel(start), Math.max(rel(start), rel(end))), normType(type));
  }
  text() { return Promise.resolve(dec(this.#bytes)); }
  arrayBuffer() { return Promise.resolve(this.#bytes.slice().buffer); }
  bytes() { return Promise.resolve(this.#bytes.slice()); }
  stream() {
    const b = this.#bytes;
    return new ReadableStream({ pull(c) { if (b.length) c.enqueue(b.slice()); c.close(); } });
  }
  static {
    blobBytes = b => b.#bytes;
    blobFrom = (bytes, type) => { const b = new Blob(); b.#bytes = bytes; b.#type = type; return b; };
    setBytes = (b, bytes) => { b.#bytes = bytes; };
  }
}

export class File extends Blob {
  #name; #lastModified;
  constructor(bits, name, options) {
    if (arguments.length < 2) throw new TypeError('File: 2 arguments required');
    super(bits, options);
    this.#name = toUSV(name);
    this.#lastModified = options?.lastModified === undefined ? Date.now() : Math.trunc(Number(options.lastModified)) || 0;
  }
  get name() { return this.#name; }
  get lastModified() { return this.#lastModified; }
  get webkitRelativePath() { return ''; }
}

// fileFrom makes a File over bytes (not copied).
export function fileFrom(bytes, name, type) {
  const f = new File([], name, { type });
  setBytes(f, bytes);
  return f;
}

// entryValue makes a FormData entry's value: a string or a File.
function entryValue(value, filename, n) {
  if (value instanceof Blob) {
    if (value instanceof File && filename === undefined) return value;
    return fileFrom(blobBytes(value), filename !== undefined ? toUSV(filename) : value instanceof File ? value.name : 'blob', value.type);
  }
  if (n > 2) throw new TypeError('FormData: a filename is only allowed with a Blob value');
  return toUSV(value);
}

export class FormData {
  #list = [];
  constructor(form, submitter) {
    if (form !== undefined) throw new TypeError('FormData: there is no HTMLFormElement here');
  }
  append(name, value, filename) {
    if (arguments.length < 2) throw new TypeError('FormData.append: 2 arguments required');
    this.#list.push([toUSV(name), entryValue(value, filename, arguments.length)]);
  }
  delete(name) { name = toUSV(name); this.#list = this.#list.filter(e => e[0] !== name); }
  get(name) { name = toUSV(name); return this.#list.find(e => e[0] === name)?.[1] ?? null; }
  getAll(name) { name = toUSV(name); return this.#list.filter(e => e[0] === name).map(e => e[1]); }
  has(name) { name = toUSV(name); return this.#list.some(e => e[0] === name); }
  set(name, value, filename) {
    if (arguments.length < 2) throw new TypeError('FormData.set: 2 arguments required');
    name = toUSV(name);
    const e = [name, entryValue(value, filename, arguments.length)];
    const i = this.#list.findIndex(x => x[0] === name);
    if (i < 0) this.#list.push(e);
    else this.#list = this.#list.filter((x, j) => j === i ? (x[1] = e[1], true) : x[0] !== name);
  }
  static { formPairs = f => f.#list; }
}
iterable(FormData.prototype, f => formPairs(f), 'FormData');

const escName = s => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');

// multipartEncode serializes a FormData as multipart/form-data with boundary.
// See https://html.spec.whatwg.org/#multipart-form-data.
export function multipartEncode(fd, boundary) {
  const parts = [];
  for (const [name, v] of formPairs(fd)) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escName(name)}"`;
    if (typeof v === 'string') {
      parts.push(enc(head + '\r\n\r\n' + v.replace(/\r\n|\r|\n/g, '\r\n') + '\r\n'));
    } else {
      head += `; filename="${escName(v.name)}"\r\nContent-Type: ${v.type || 'application/octet-stream'}\r\n\r\n`;
      parts.push(enc(head), blobBytes(v), enc('\r\n'));
    }
  }
  parts.push(enc(`--${boundary}--\r\n`));
  return concat(parts);
}

// indexOfBytes finds needle in hay from index from.
function indexOfBytes(hay, needle, from) {
  const first = needle[0], n = needle.length;
  for (let i = hay.indexOf(first, from); i >= 0 && i + n <= hay.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < n && hay[i + j] === needle[j]) j++;
    if (j === n) return i;
  }
  return -1;
}

// multipartDecode parses a multipart/form-data body into a FormData, or throws a TypeError.
export function multipartDecode(body, boundary) {
  const fd = new FormData(), list = formPairs(fd);
  const fail = why => { throw new TypeError('Failed to parse body as FormData: ' + why); };
  const delim = enc('--' + boundary), crlfDelim = enc('\r\n--' + boundary);
  let i = indexOfBytes(body, delim, 0);
  if (i < 0) fail('no boundary');
  i += delim.length;
  for (;;) {
    if (body[i] === 0x2d && body[i + 1] === 0x2d) return fd; // the close delimiter
    while (body[i] === 0x20 || body[i] === 0x09) i++; // transport padding
    if (body[i] !== 0x0d || body[i + 1] !== 0x0a) fail('malformed boundary line');
    i += 2;
    const headEnd = indexOfBytes(body, enc('\r\n\r\n'), i);
    const end = body[i] === 0x0d && body[i + 1] === 0x0a ? i : headEnd;
    if (end < 0) fail('unterminated part headers');
    let name = null, filename = null, type = null;
    for (const line of dec(body.subarray(i, end)).split('\r\n')) {
      const c = line.indexOf(':');
      if (c < 0) continue;
      const k = line.slice(0, c).trim().toLowerCase(), v = line.slice(c + 1).trim();
      if (k === 'content-disposition') {
        if (!/^form-data\s*(;|$)/i.test(v)) fail('not form-data');
        for (const m of v.matchAll(/;\s*([^\s=;]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]*)/g)) {
          const pk = m[1].toLowerCase(), pv = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2].trim();
          if (pk === 'name') name = pv;
          else if (pk === 'filename') filename = pv;
          else if (pk === 'filename*' && /^utf-8''/i.test(pv)) { try { filename = decodeURIComponent(pv.slice(7)); } catch {} }
        }
      } else if (k === 'content-type') type = v;
    }
    if (name === null) fail('a part has no name');
    const start = end + (end === i ? 2 : 4);
    const next = indexOfBytes(body, crlfDelim, start);
    if (next < 0) fail('unterminated part');
    const data = body.subarray(start, next);
    list.push([name, filename !== null ? fileFrom(data.slice(), filename, type ?? 'text/plain') : dec(data)]);
    i = next + crlfDelim.length;
  }
}
