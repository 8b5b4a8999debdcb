// run-qjs.mjs runs the platform's tests in QuickJS's own qjs shell (built from
// the engine's QuickJS source), with a fake host over qjs's std and os modules.
//
//   qjs --no-unhandled-rejection run-qjs.mjs harness.js *.test.js
//
// It imports the ES modules themselves, unbundled.
//
// (qjs exits on a rejection that has no handler yet, even one that gets it a
// moment later, as assertRejects(promise) does.)
//
// A developer tool, slower than the engine: UTF-8 is done in JS here, digests
// by coreutils' sha*sum.
import * as std from 'std';
import * as os from 'os';
import * as web from '../index.js';

const files = scriptArgs.slice(1);
const read = f => { const s = std.loadFile(f); if (s === null) throw new Error('cannot read ' + f); return s; };

function utf8Encode(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
    else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | c >> 6, 0x80 | c & 63);
    else if (c < 0x10000) out.push(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
    else out.push(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
  }
  return new Uint8Array(out).buffer;
}
// utf8Decode follows the Encoding Standard's decoder (maximal subparts become one U+FFFD).
function utf8Decode(v, fatal) {
  const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let s = '', need = 0, cp = 0, lo = 0x80, hi = 0xbf;
  const bad = () => { if (fatal) throw new TypeError('The encoded data was not valid for encoding utf-8'); s += '\ufffd'; };
  for (let i = 0; i < b.length; i++) {
    const x = b[i];
    if (need === 0) {
      if (x < 0x80) s += String.fromCharCode(x);
      else if (x >= 0xc2 && x <= 0xdf) { need = 1; cp = x & 0x1f; }
      else if (x >= 0xe0 && x <= 0xef) { if (x === 0xe0) lo = 0xa0; if (x === 0xed) hi = 0x9f; need = 2; cp = x & 0xf; }
      else if (x >= 0xf0 && x <= 0xf4) { if (x === 0xf0) lo = 0x90; if (x === 0xf4) hi = 0x8f; need = 3; cp = x & 7; }
      else bad();
      continue;
    }
    if (x < lo || x > hi) { cp = need = 0; lo = 0x80; hi = 0xbf; bad(); i--; continue; }
    lo = 0x80; hi = 0xbf;
    cp = cp << 6 | x & 0x3f;
    if (--need === 0) s += String.fromCodePoint(cp);
  }
  if (need) bad();
  return s;
}
function digest(name, v) {
  const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const tmp = '/tmp/run-qjs-digest.bin';
  const f = std.open(tmp, 'wb'); f.write(b.buffer, b.byteOffset, b.byteLength); f.close();
  const p = std.popen(`${name.replace('-', '').toLowerCase()}sum ${tmp}`, 'r');
  const hex = p.getline().split(' ')[0]; p.close();
  return new Uint8Array(hex.match(/../g).map(h => parseInt(h, 16))).buffer;
}
const urandom = std.open('/dev/urandom', 'rb');
const host = {
  method: () => 'GET', path: () => '/', query: () => '', protocol: () => 'HTTP/1.1', remoteAddr: () => '127.0.0.1',
  headerNames: () => [], headerValues: () => [], paramNames: () => [], paramValues: () => [],
  bodyRead: () => new ArrayBuffer(0), setStatus: () => 0, headerSet: () => 0, headerAdd: () => 0, headerDel: () => 0,
  bodyWrite: () => 0, flush: () => 0,
  randomFill(ta) { urandom.read(ta.buffer, ta.byteOffset, ta.byteLength); return ta; },
  hrtime: () => os.now(),
  write: (fd, s) => { const out = fd === 2 ? std.err : std.out; out.puts(s); out.flush(); },
  utf8Encode, utf8Decode, digest, register() {},
};

globalThis.__web = web;
web.install(host);
std.evalScript(read(files[0]));
for (const f of files.slice(1)) std.evalScript(read(f));

let settled = false, result;
globalThis.runTests(std.getenv('FILTER')).then(r => { settled = true; result = r; }, e => { settled = true; result = { failed: 1 }; print(e, e.stack); });
// drive is the engine's loop: qjs runs the pending jobs before each os timer
// callback, so each step is one callback.
function drive() {
  if (settled) std.exit(result.failed ? 1 : 0);
  const t = __web.nextTimer();
  if (t < 0) { std.err.puts('handler never settled: no pending timer or I/O\n'); std.exit(2); }
  os.setTimeout(() => { __web.runTimers(); os.setTimeout(drive, 0); }, t);
}
os.setTimeout(drive, 0);
