// TextEncoder, TextDecoder (UTF-8 only), atob and btoa.
// See https://encoding.spec.whatwg.org/ and https://html.spec.whatwg.org/#atob.
import { host } from './host.js';
import { bytesOf, isBufferSource, latin1 } from './util.js';
import { DOMException } from './dom.js';

export class TextEncoder {
  get encoding() { return 'utf-8'; }
  encode(input = '') { return new Uint8Array(host.utf8Encode(String(input))); }
  // encodeInto writes whole code points only, as many as fit.
  encodeInto(source, dest) {
    if (!(dest instanceof Uint8Array)) throw new TypeError('encodeInto: destination must be a Uint8Array');
    const s = String(source), n = dest.length;
    let read = 0, w = 0;
    for (let i = 0; i < s.length; ) {
      let c = s.charCodeAt(i), units = 1;
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); units = 2; }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x80) { if (w + 1 > n) break; dest[w++] = c; }
      else if (c < 0x800) { if (w + 2 > n) break; dest[w++] = 0xc0 | c >> 6; dest[w++] = 0x80 | c & 63; }
      else if (c < 0x10000) { if (w + 3 > n) break; dest[w++] = 0xe0 | c >> 12; dest[w++] = 0x80 | c >> 6 & 63; dest[w++] = 0x80 | c & 63; }
      else { if (w + 4 > n) break; dest[w++] = 0xf0 | c >> 18; dest[w++] = 0x80 | c >> 12 & 63; dest[w++] = 0x80 | c >> 6 & 63; dest[w++] = 0x80 | c & 63; }
      i += units; read += units;
    }
    return { read, written: w };
  }
}

const labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];

// incomplete returns how many bytes at the end of b begin a UTF-8 sequence
// that more bytes could complete (0 to 3).
function incomplete(b) {
  const n = b.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const c = b[n - k];
    if (c < 0x80) return 0;
    if (c < 0xc0) continue; // continuation byte
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (c < 0xc2 || c > 0xf4 || need <= k) return 0;
    if (k >= 2) { // the second byte's range depends on the lead
      const s = b[n - k + 1];
      const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80, hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
      if (s < lo || s > hi) return 0;
    }
    return k;
  }
  return 0;
}

export class TextDecoder {
  #fatal; #ignoreBOM; #pending = null; #bomSeen = false;
  constructor(label = 'utf-8', options) {
    const l = String(label).trim().toLowerCase();
    if (!labels.includes(l)) throw new RangeError(`TextDecoder: the encoding '${label}' is not supported (only UTF-8 is)`);
    this.#fatal = !!options?.fatal;
    this.#ignoreBOM = !!options?.ignoreBOM;
  }
  get encoding() { return 'utf-8'; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }
  decode(input, options) {
    let b = input === undefined ? new Uint8Array(0) : isBufferSource(input) ? bytesOf(input) : null;
    if (!b) throw new TypeError('TextDecoder.decode: input must be an ArrayBuffer or ArrayBufferView');
    const stream = !!options?.stream;
    if (this.#pending) {
      const m = new Uint8Array(this.#pending.length + b.length);
      m.set(this.#pending); m.set(b, this.#pending.length);
      b = m; this.#pending = null;
    }
    if (stream) {
      const k = incomplete(b);
      if (k) { this.#pending = b.slice(b.length - k); b = b.subarray(0, b.length - k); }
    }
    let s = b.length ? host.utf8Decode(b, this.#fatal) : '';
    if (!this.#bomSeen && s) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    if (!stream) { this.#bomSeen = false; this.#pending = null; }
    return s;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const invalidChar = m => new DOMException(m, 'InvalidCharacterError');

export function btoa(data) {
  if (arguments.length < 1) throw new TypeError("btoa: 1 argument required");
  const s = String(data);
  let out = '';
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255) throw invalidChar('btoa: the string contains characters outside of the Latin1 range');
    const n = a << 16 | (b || 0) << 8 | (c || 0);
    out += B64[n >> 18] + B64[n >> 12 & 63] + (i + 1 < s.length ? B64[n >> 6 & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
  }
  return out;
}

const B64R = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64R[B64.charCodeAt(i)] = i;

// base64Decode is forgiving-base64 decode: bytes, or null on failure.
export function base64Decode(s) {
  s = s.replace(/[\t\n\f\r ]/g, '');
  if (s.length % 4 === 0) s = s.replace(/==?$/, '');
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) return null;
  const out = new Uint8Array((s.length * 3) >> 2);
  let o = 0, buf = 0, bits = 0;
  for (let i = 0; i < s.length; i++) {
    buf = buf << 6 | B64R[s.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = buf >> bits & 255; }
  }
  return out;
}

export function atob(data) {
  if (arguments.length < 1) throw new TypeError("atob: 1 argument required");
  const b = base64Decode(String(data));
  if (!b) throw invalidChar('atob: the string to be decoded is not correctly encoded');
  return latin1(b);
}
