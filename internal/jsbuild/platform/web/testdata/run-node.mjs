// run-node.mjs runs the platform's tests in Node, in a fresh vm context that
// has only the ECMAScript builtins, as QuickJS has, with a fake host object
// implementing internal/jsengine/CONTRACT.md's natives over Node's.
//
//   node internal/jsbuild/platform/web/testdata/run-node.mjs [file.test.js …] [--filter=text]
//
// It bundles index.js with esbuild (npx esbuild@0.25.0), evaluates the bundle,
// calls install(host), evaluates harness.js and the test files, then drives
// the event loop as the engine does: jobs, then nextTimer()/runTimers().
// A developer tool: CI runs the same test files inside engine.wasm.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import nodeCrypto from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const filter = args.find(a => a.startsWith('--filter='))?.slice(9);
let files = args.filter(a => !a.startsWith('--'));
if (!files.length) files = readdirSync(here).filter(f => f.endsWith('.test.js')).sort().map(f => join(here, f));

const bundle = execFileSync('npx', ['--yes', 'esbuild@0.25.0', join(here, '..', 'index.js'), '--bundle', '--format=iife', '--global-name=__web', '--log-level=warning'],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

const ctx = vm.createContext({});
const inner = name => vm.runInContext(name, ctx);
const AB = inner('ArrayBuffer'), IT = inner('TypeError');
const toAB = buf => { const ab = new AB(buf.length); new Uint8Array(ab).set(buf); return ab; };
const bytes = v => v instanceof AB || v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }), decoder = new TextDecoder('utf-8', { ignoreBOM: true });

// The request the fake host serves (the web tests do not need one).
const req = { method: 'GET', path: '/', query: '', headers: [], body: Buffer.alloc(0), off: 0 };
let hooks = null;
const host = {
  method: () => req.method, path: () => req.path, query: () => req.query, protocol: () => 'HTTP/1.1', remoteAddr: () => '127.0.0.1',
  headerNames: () => inner('[]').concat([...new Set(req.headers.map(h => h[0]))].sort()),
  headerValues: name => inner('[]').concat(req.headers.filter(h => h[0] === name).map(h => h[1])),
  paramNames: () => inner('[]'), paramValues: () => inner('[]'),
  bodyRead(max) { const b = req.body.subarray(req.off, req.off + max); req.off += b.length; return toAB(b); },
  setStatus: () => 0, headerSet: () => 0, headerAdd: () => 0, headerDel: () => 0, bodyWrite: () => 0, flush: () => 0,
  randomFill: ta => nodeCrypto.randomFillSync(ta),
  hrtime: () => performance.now(),
  write: (fd, s) => (fd === 2 ? process.stderr : process.stdout).write(s),
  utf8Encode: s => toAB(Buffer.from(String(s), 'utf8')),
  utf8Decode(v, fatal) {
    try { return (fatal ? fatalDecoder : decoder).decode(bytes(v)); } catch { throw new IT('The encoded data was not valid for encoding utf-8'); }
  },
  digest: (name, v) => toAB(nodeCrypto.createHash(name.replace('-', '').toLowerCase()).update(bytes(v)).digest()),
  register: h => { hooks = h; },
};

vm.runInContext(bundle, ctx, { filename: 'platform.js' });
ctx.__wasmroute_host = host;
vm.runInContext('__web.install(__wasmroute_host); delete globalThis.__wasmroute_host;', ctx);
vm.runInContext(readFileSync(join(here, 'harness.js'), 'utf8'), ctx, { filename: 'harness.js' });
for (const f of files) vm.runInContext(readFileSync(f, 'utf8'), ctx, { filename: basename(f) });

const web = inner('__web');
let settled = false, result;
inner('runTests')(filter).then(r => { settled = true; result = r; }, e => { settled = true; result = { failed: 1 }; console.error(e); });
const tick = () => new Promise(r => setImmediate(r));
for (;;) {
  await tick();
  if (settled) break;
  const t = web.nextTimer();
  if (t < 0) { console.error('handler never settled: no pending timer or I/O'); process.exit(2); }
  if (t > 0) await new Promise(r => setTimeout(r, t));
  web.runTimers();
}
process.exit(result.failed ? 1 : 0);
