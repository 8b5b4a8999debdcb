package jsengine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/outbound"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// platform is a minimal platform script (a kind-1 record): it takes the
// host object, implements setTimeout on nextTimer/runTimers and waitHandle
// on io/ready, and dispatches
// a request to globalThis.routes[path], the route module's table. A
// handler's error becomes a 500 whose body names it.
const platform = `
const H = globalThis.__wasmroute_host;
delete globalThis.__wasmroute_host;
globalThis.H = H; // for the tests' route modules only

let timers = [], seq = 0;
globalThis.setTimeout = (fn, ms = 0, ...args) => {
	const id = ++seq;
	timers.push({ id, at: H.hrtime() + ms, fn, args });
	return id;
};
globalThis.clearTimeout = id => { timers = timers.filter(t => t.id !== id); };
globalThis.sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function report(kind, e) {
	H.write(2, kind + ": " + String(e) + (e && e.stack ? "\n" + e.stack : "") + "\n");
}

// The handles waited on (handle → resolve), for the io and ready hooks.
const waiting = new Map();
globalThis.waitHandle = h => new Promise(resolve => waiting.set(h, resolve));

H.register({
	io() { return [...waiting.keys()]; },
	ready(h) { const r = waiting.get(h); waiting.delete(h); r(); },
	async dispatch(method) {
		const route = globalThis.routes[H.path()];
		try {
			if (!route) throw new Error("no route " + H.path());
			await route(method);
		} catch (e) {
			H.setStatus(500);
			H.bodyWrite("caught " + (e && e.name) + ": " + (e && e.message));
		}
	},
	nextTimer() {
		if (timers.length === 0) return -1;
		return Math.max(0, Math.min(...timers.map(t => t.at)) - H.hrtime());
	},
	runTimers() {
		const now = H.hrtime();
		const due = timers.filter(t => t.at <= now).sort((a, b) => a.at - b.at);
		timers = timers.filter(t => t.at > now);
		for (const t of due) {
			try { t.fn(...t.args); } catch (e) { report("timer", e); }
		}
	},
	report,
});
`

// routesModule is the route module (a kind-2 record) the tests serve: one
// handler per path. Top-level await: routes is set after a timer fired.
const routesModule = `
const json = v => H.bodyWrite(JSON.stringify(v));

async function readBody(chunk) {
	const parts = [];
	let n = 0, reads = 0;
	for (;;) {
		const b = H.bodyRead(chunk);
		if (typeof b === "number") throw new Error("bodyRead: " + b);
		reads++;
		if (b.byteLength === 0) break;
		if (b.byteLength > chunk) throw new Error("bodyRead returned " + b.byteLength + " bytes");
		parts.push(new Uint8Array(b));
		n += b.byteLength;
	}
	const all = new Uint8Array(n);
	let off = 0;
	for (const p of parts) { all.set(p, off); off += p.length; }
	return { bytes: all, reads };
}

const hex = b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, "0")).join("");
const units = s => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));

await sleep(5);
const initRandom = Math.random();

// What the services and the environment give during initialization.
const atInit = { env: H.env() };
for (const [name, call] of [
	["errorMessage", () => H.errorMessage()],
	["fetchStart", () => H.fetchStart(["GET", "http://127.0.0.1/"], undefined, 0)],
	["kvGet", () => H.kvGet("k")],
]) {
	try { atInit[name] = "returned " + call(); } catch (e) { atInit[name] = e.name + ": " + e.message; }
}

// whole reads a fetch's head and body, waiting on the handle between.
async function whole(h) {
	let head;
	while ((head = H.fetchHead(h)) === -8) await waitHandle(h);
	if (typeof head === "number") return { error: head, message: H.errorMessage() };
	const parts = [];
	for (;;) {
		const b = H.fetchBodyRead(h, 3);
		if (b === -8) { await waitHandle(h); continue; }
		if (typeof b === "number") throw new Error("fetchBodyRead: " + b);
		if (b.byteLength === 0) break;
		parts.push(...new Uint8Array(b));
	}
	return { head, body: H.utf8Decode(new Uint8Array(parts), false), close: H.fetchClose(h) };
}

globalThis.routes = {
	async "/natives"(method) {
		const { bytes, reads } = await readBody(1000);
		const headers = {};
		for (const n of H.headerNames()) headers[n] = H.headerValues(n);
		const params = {};
		for (const n of H.paramNames()) params[n] = H.paramValues(n).map(units);
		const out = {
			method, hostMethod: H.method(), path: H.path(), query: H.query(),
			protocol: H.protocol(), remoteAddr: H.remoteAddr(),
			headers, absent: H.headerValues("x-absent"), params,
			bodyLength: bytes.length, bodyReads: reads, bodySHA256: hex(H.digest("SHA-256", bytes)),
			badStatus: H.setStatus(99), fractionStatus: H.setStatus(200.5),
			nonLatin1: H.headerSet("x-bad", "\u0100"), badName: H.headerSet("bad name", "v"),
		};
		if (H.setStatus(201) !== 0) throw new Error("setStatus");
		if (H.headerSet("content-type", "application/json") !== 0) throw new Error("headerSet");
		if (H.headerSet("x-latin1", "caf\u00e9") !== 0) throw new Error("headerSet latin1");
		if (H.headerAdd("set-cookie", "a=1") !== 0 || H.headerAdd("set-cookie", "b=2") !== 0) throw new Error("headerAdd");
		if (H.headerSet("x-gone", "1") !== 0 || H.headerDel("x-gone") !== 0) throw new Error("headerDel");
		json(out);
		H.bodyWrite("\n");
		H.bodyWrite(new Uint8Array([0x62, 0x79, 0x74, 0x65, 0x73]).subarray(1, 4)); // "yte"
		H.bodyWrite(new DataView(new Uint8Array([0x20, 0x64, 0x76, 0x21]).buffer, 1, 2)); // "dv"
		H.bodyWrite(new Uint8Array([0x20, 0xe2, 0x82, 0xac]).buffer); // " €"
		H.bodyWrite("\ud800"); // lone: U+FFFD
		H.write(1, "console \ud800\n");
		const flushed = H.flush();
		H.bodyWrite(" after flush " + flushed + " " + H.setStatus(202));
	},
	async "/utf8/decode"() {
		const { bytes } = await readBody(1 << 16);
		let fatal;
		try { H.utf8Decode(bytes, true); fatal = "ok"; } catch (e) { fatal = e.name; }
		const view = new DataView(bytes.buffer);
		json({ units: units(H.utf8Decode(bytes, false)), view: units(H.utf8Decode(view, false)), fatal });
	},
	async "/utf8/encode"() {
		const { bytes } = await readBody(1 << 16);
		const s = JSON.parse(H.utf8Decode(bytes, true));
		H.bodyWrite(H.utf8Encode(s));
	},
	async "/digest"() {
		const { bytes } = await readBody(1 << 16);
		const alg = decodeURIComponent(H.query());
		H.bodyWrite(H.digest(alg, new Uint8Array(bytes.buffer)));
	},
	async "/random"() {
		const a = new Uint8Array(64), b = new Uint32Array(16);
		const same = H.randomFill(a) === a;
		H.randomFill(b);
		json({ same, a: hex(a.buffer), b: hex(b.buffer), random: Math.random(), initRandom });
	},
	async "/timers"() {
		const events = [];
		const t0 = H.hrtime();
		setTimeout(() => events.push("30"), 30);
		const cancelled = setTimeout(() => events.push("cancelled"), 10);
		setTimeout(() => events.push("10"), 10);
		clearTimeout(cancelled);
		await sleep(20);
		events.push("20");
		await sleep(20);
		Promise.resolve().then(() => events.push("job"));
		await null;
		json({ events, elapsedAtLeast40: H.hrtime() - t0 >= 40, dateNow: Date.now() });
	},
	"/never"() { return new Promise(() => {}); },
	async "/recursion"() {
		// The request body is a script that recurses without end.
		const src = H.utf8Decode(H.bodyRead(1 << 16), true);
		try { (0, eval)(src); H.bodyWrite("no error"); } catch (e) { H.bodyWrite(e.name + ": " + e.message); }
	},
	async "/spin"() { for (;;) {} },
	async "/oom"() {
		const keep = [];
		for (;;) keep.push(new ArrayBuffer(8 << 20));
	},
	async "/oom/strings"() {
		const keep = [];
		for (let i = 0; ; i++) keep.push("x".repeat(1 << 20) + i);
	},
	async "/rejections"() {
		Promise.reject(new Error("boom"));
		const handledLater = Promise.reject(new Error("handled"));
		handledLater.catch(() => {});
		H.bodyWrite("ok");
	},
	async "/ok"() { H.bodyWrite("ok"); },
	async "/env"() {
		const env = H.env();
		json({ atInit, env, nullProto: Object.getPrototypeOf(env) === null });
	},
	async "/fetch"() {
		const base = decodeURIComponent(H.query());
		const t0 = H.hrtime();
		const a = H.fetchStart(["GET", base + "/slow"], undefined, 0);
		const b = H.fetchStart(["POST", base + "/echo", "x-latin1", "caf\u00e9", "content-type", "text/plain"], new Uint8Array([104, 105, 33]).subarray(0, 2), 0);
		const c = H.fetchStart(["GET", base + "/slow"], undefined, 0);
		const [ra, rb, rc] = await Promise.all([whole(a), whole(b), whole(c)]);
		json({
			ra, rb, rc, ms: H.hrtime() - t0,
			notLatin1: H.fetchStart(["GET", base + "/echo", "x-v", "\u0100"], undefined, 0),
			notArray: (() => { try { return H.fetchStart("GET", undefined, 0); } catch (e) { return e.name; } })(),
			closedAgain: H.fetchClose(a), headClosed: H.fetchHead(a),
			pollNone: H.fetchPoll([], 0), pollUnknown: H.fetchPoll([9999], 0), pollTooMany: H.fetchPoll(new Array(1025).fill(1), 0),
		});
	},
	async "/fetch/denied"() {
		json({ h: H.fetchStart(["GET", decodeURIComponent(H.query()) + "/slow"], undefined, 0), message: H.errorMessage() });
	},
	async "/fetch/hang"() {
		const h = H.fetchStart(["GET", decodeURIComponent(H.query()) + "/hang"], undefined, 0);
		await waitHandle(h);
		H.bodyWrite("ready?");
	},
	async "/kv/args"() {
		const r = {};
		for (const [name, call] of [
			["unsafe", () => H.kvIncr("k", 2 ** 53)],
			["fraction", () => H.kvIncr("k", 1.5)],
			["nan", () => H.kvIncr("k", NaN)],
			["bigOver", () => H.kvIncr("k", 2n ** 63n)],
			["string", () => H.kvIncr("k", "1")],
			["bigMin", () => H.kvIncr("k", -(2n ** 63n))],
			["number", () => H.kvIncr("k", -(2 ** 53 - 1))],
			["loneKey", () => H.kvGet("a\ud800")],
			["loneSet", () => H.kvSet("\udc00", "v", 0)],
			["ttlFraction", () => H.kvSet("k", "v", 1.5)],
			["ttlNegative", () => H.kvSet("k", "v", -1)],
			["objectValue", () => H.kvSet("k", {}, 0)],
			["set", () => H.kvSet("k", new DataView(new ArrayBuffer(4)), 60)],
			["message", () => H.errorMessage()],
			["list", () => H.kvList("")],
			["delete", () => H.kvDelete("k")],
		]) {
			try {
				const v = call();
				r[name] = typeof v === "bigint" ? "bigint" : v;
			} catch (e) { r[name] = e.name; }
		}
		json(r);
	},
};
`

// record is one init input record.
func record(kind uint32, name, src string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(src)))
	return append(b, src...)
}

// initInput is the init input of the tests' engine: the platform and the
// routes module.
var initInput = slices.Concat(record(1, "platform.js", platform), record(2, "routes.js", routesModule))

// engine is a wazero runtime with the host modules and engine.wasm
// compiled.
type engine struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
}

var (
	sharedOnce   sync.Once
	sharedEngine *engine
	sharedErr    error
)

// newEngine returns a runtime with engine.wasm compiled in it, closed with
// t; shared returns one for the whole package (compiling takes seconds).
func newEngine(t testing.TB, cfg wazero.RuntimeConfig) *engine {
	t.Helper()
	e, err := compileEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.rt.Close(context.Background()) })
	return e
}

func shared(t testing.TB) *engine {
	t.Helper()
	sharedOnce.Do(func() { sharedEngine, sharedErr = compileEngine(wazero.NewRuntimeConfig()) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedEngine
}

func compileEngine(cfg wazero.RuntimeConfig) (*engine, error) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := host.InstantiateWASI(ctx, rt); err != nil {
		return nil, err
	}
	if _, err := host.Instantiate(ctx, rt); err != nil {
		return nil, err
	}
	compiled, err := rt.CompileModule(ctx, Wasm())
	if err != nil {
		return nil, err
	}
	return &engine{rt, compiled}, nil
}

// instance is one instance of engine.wasm and what it wrote to stdout and
// stderr.
type instance struct {
	mod    api.Module
	output *syncBuffer
	setup  func(*host.Exchange) // called on each request's exchange, if set
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// initialize instantiates the engine and runs _initialize on input: the
// instance, or the error of _initialize and the output.
func (e *engine) initialize(t testing.TB, input []byte, cfg wazero.ModuleConfig) (*instance, error) {
	t.Helper()
	out := new(syncBuffer)
	if cfg == nil {
		cfg = wazero.NewModuleConfig().WithRandSource(rand.Reader).WithSysWalltime().WithSysNanotime()
	}
	cfg = cfg.WithName("").WithStartFunctions().WithStdout(out).WithStderr(out).WithStdin(bytes.NewReader(input))
	mod, err := e.rt.InstantiateModule(context.Background(), e.compiled, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(context.Background()) })
	in := &instance{mod: mod, output: out}
	_, err = mod.ExportedFunction("_initialize").Call(context.Background())
	return in, err
}

// ready returns an initialized instance of the tests' engine.
func ready(t testing.TB) *instance {
	t.Helper()
	in, err := shared(t).initialize(t, initInput, nil)
	if err != nil {
		t.Fatalf("_initialize: %v\n%s", err, in.output)
	}
	return in
}

// serve runs req through the instance's method export and returns the
// response and the call's error.
func (in *instance) serve(ctx context.Context, req *http.Request, params ...routes.Param) (*http.Response, error) {
	w := httptest.NewRecorder()
	e := host.NewExchange(w, req, params)
	e.Body = req.Body
	if in.setup != nil {
		in.setup(e)
	}
	_, err := in.mod.ExportedFunction(req.Method).Call(host.WithExchange(ctx, e))
	e.End()
	if err == nil {
		err = e.Finish()
	}
	return w.Result(), err
}

// get serves a request with body to path, failing t if the call fails.
func (in *instance) get(t testing.TB, method, target string, body []byte) (*http.Response, string) {
	t.Helper()
	res, err := in.serve(context.Background(), httptest.NewRequest(method, target, bytes.NewReader(body)))
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, target, err, in.output)
	}
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestImports(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, Wasm())
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		imports = append(imports, mod+"."+name)
		if mod != "wasmroute_v1" && mod != "wasi_snapshot_preview1" {
			t.Errorf("engine.wasm imports %s.%s", mod, name)
		}
	}
	if !slices.Contains(imports, "wasi_snapshot_preview1.sched_yield") {
		t.Errorf("engine.wasm does not import sched_yield; imports: %v", imports)
	}
	if len(compiled.ImportedMemories()) != 0 {
		t.Errorf("engine.wasm imports a memory")
	}
	var exports []string
	for name := range compiled.ExportedFunctions() {
		exports = append(exports, name)
	}
	slices.Sort(exports)
	want := []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "_initialize", "wasmroute_load"}
	if diff := cmp.Diff(want, exports); diff != "" {
		t.Errorf("exported functions (-want +got):\n%s", diff)
	}
	if _, ok := compiled.ExportedMemories()["memory"]; !ok {
		t.Errorf("engine.wasm does not export memory")
	}
}

func TestNatives(t *testing.T) {
	in := ready(t)
	body := bytes.Repeat([]byte("0123456789abcdef"), 6400) // 100 KiB
	req := httptest.NewRequest("POST", "/natives?a=1&b=%C3%A9", bytes.NewReader(body))
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("X-Latin1", "caf\xe9")
	req.RemoteAddr = "192.0.2.1:1234"
	res, err := in.serve(context.Background(), req,
		routes.Param{Name: "slug", Value: "a%2Fb"},
		routes.Param{Name: "rest", Value: "x/%ff", CatchAll: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, in.output)
	}
	got, _ := io.ReadAll(res.Body)
	first, rest, _ := bytes.Cut(got, []byte("\n"))

	var observed map[string]any
	if err := json.Unmarshal(first, &observed); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	sum := sha256.Sum256(body)
	want := map[string]any{
		"method": "POST", "hostMethod": "POST", "path": "/natives", "query": "a=1&b=%C3%A9",
		"protocol": "HTTP/1.1", "remoteAddr": "192.0.2.1:1234",
		"headers": map[string]any{
			"host": []any{"example.com"}, "x-multi": []any{"one", "two"}, "x-latin1": []any{"café"},
		},
		"absent": []any{},
		"params": map[string]any{
			"slug": []any{[]any{97.0, 47.0, 98.0}},
			"rest": []any{[]any{120.0}, []any{65533.0}},
		},
		"bodyLength": float64(len(body)), "bodyReads": float64(len(body)/1000 + 2),
		"bodySHA256": hex.EncodeToString(sum[:]),
		"badStatus":  -1.0, "fractionStatus": -1.0, "nonLatin1": -1.0, "badName": -1.0,
	}
	if diff := cmp.Diff(want, observed); diff != "" {
		t.Errorf("what the natives read (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("ytedv €\uFFFD after flush 0 -2", string(rest)); diff != "" {
		t.Errorf("body after the JSON (-want +got):\n%s", diff)
	}
	if want := "console \uFFFD\n"; !strings.Contains(in.output.String(), want) {
		t.Errorf("output %q does not contain write's %q", in.output, want)
	}
	if res.StatusCode != 201 {
		t.Errorf("status %d, want 201", res.StatusCode)
	}
	wantHeader := http.Header{
		"Content-Type": {"application/json"},
		"Set-Cookie":   {"a=1", "b=2"},
		"X-Latin1":     {"caf\xe9"},
	}
	if diff := cmp.Diff(wantHeader, res.Header); diff != "" {
		t.Errorf("response header (-want +got):\n%s", diff)
	}
}

func TestUTF8Decode(t *testing.T) {
	in := ready(t)
	tests := []struct {
		name  string
		in    string
		units []int
		fatal string
	}{
		{"empty", "", []int{}, "ok"},
		{"ascii", "ab", []int{'a', 'b'}, "ok"},
		{"two to four bytes", "é€😀", []int{0xe9, 0x20ac, 0xd83d, 0xde00}, "ok"},
		{"invalid byte", "a\xffb", []int{'a', 0xfffd, 'b'}, "TypeError"},
		{"truncated sequence", "\xe2\x82", []int{0xfffd}, "TypeError"},
		{"truncated then ascii", "\xe2\x82a", []int{0xfffd, 'a'}, "TypeError"},
		{"surrogate", "\xed\xa0\x80", []int{0xfffd, 0xfffd, 0xfffd}, "TypeError"},
		{"overlong", "\xc0\xaf", []int{0xfffd, 0xfffd}, "TypeError"},
		{"overlong three bytes", "\xe0\x80\xaf", []int{0xfffd, 0xfffd, 0xfffd}, "TypeError"},
		{"past U+10FFFF", "\xf4\x90\x80\x80", []int{0xfffd, 0xfffd, 0xfffd, 0xfffd}, "TypeError"},
		{"U+10FFFF", "\xf4\x8f\xbf\xbf", []int{0xdbff, 0xdfff}, "ok"},
		{"lone continuation", "\x80", []int{0xfffd}, "TypeError"},
		{"NUL", "a\x00b", []int{'a', 0, 'b'}, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := in.get(t, "POST", "/utf8/decode", []byte(tt.in))
			var r struct {
				Units, View []int
				Fatal       string
			}
			if err := json.Unmarshal([]byte(got), &r); err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			if diff := cmp.Diff(tt.units, r.Units); diff != "" {
				t.Errorf("utf8Decode(fatal false) code units (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.units, r.View); diff != "" {
				t.Errorf("utf8Decode(DataView) code units (-want +got):\n%s", diff)
			}
			if r.Fatal != tt.fatal {
				t.Errorf("utf8Decode(fatal true): %s, want %s", r.Fatal, tt.fatal)
			}
		})
	}
}

func TestUTF8Encode(t *testing.T) {
	in := ready(t)
	tests := []struct {
		name string
		json string // a JSON string literal: it can hold lone surrogates
		want string
	}{
		{"empty", `""`, ""},
		{"ascii", `"ab"`, "ab"},
		{"latin1", `"caf\u00e9"`, "café"},
		{"pair", `"\ud83d\ude00"`, "😀"},
		{"lone high", `"a\ud800b"`, "a\uFFFDb"},
		{"lone low", `"\udc00"`, "\uFFFD"},
		{"high at end", `"x\ud83d"`, "x\uFFFD"},
		{"reversed pair", `"\ude00\ud83d"`, "\uFFFD\uFFFD"},
		{"NUL", `"a\u0000b"`, "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := in.get(t, "POST", "/utf8/encode", []byte(tt.json))
			if diff := cmp.Diff([]byte(tt.want), []byte(got)); diff != "" {
				t.Errorf("utf8Encode(%s) (-want +got):\n%s", tt.json, diff)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	in := ready(t)
	algs := []struct {
		name string
		sum  func([]byte) []byte
	}{
		{"SHA-1", func(b []byte) []byte { s := sha1.Sum(b); return s[:] }},
		{"SHA-256", func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
		{"SHA-384", func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }},
		{"SHA-512", func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }},
	}
	// Lengths around the padding boundaries of both block sizes.
	lengths := []int{0, 1, 3, 55, 56, 57, 63, 64, 65, 111, 112, 113, 127, 128, 129, 1000, 100_000}
	data := make([]byte, 100_000)
	rand.Read(data)
	for _, alg := range algs {
		for _, n := range lengths {
			t.Run(fmt.Sprintf("%s/%d", alg.name, n), func(t *testing.T) {
				_, got := in.get(t, "POST", "/digest?"+alg.name, data[:n])
				if diff := cmp.Diff(hex.EncodeToString(alg.sum(data[:n])), hex.EncodeToString([]byte(got))); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
	_, got := in.get(t, "POST", "/digest?MD5", nil)
	if want := "caught TypeError: digest: unsupported algorithm MD5"; got != want {
		t.Errorf("MD5: %q, want %q", got, want)
	}
}

type randomResult struct {
	Same       bool
	A, B       string
	Random     float64
	InitRandom float64
}

func (in *instance) random(t *testing.T) randomResult {
	t.Helper()
	_, got := in.get(t, "GET", "/random", nil)
	var r randomResult
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	return r
}

func TestRandomFill(t *testing.T) {
	r := ready(t).random(t)
	if !r.Same {
		t.Errorf("randomFill did not return its argument")
	}
	zero := strings.Repeat("00", 64)
	if r.A == zero || r.B == zero || r.A == r.B {
		t.Errorf("randomFill: %s and %s", r.A, r.B)
	}
}

// countingReader is a deterministic random source: 0, 1, 2, ...
type countingReader struct{ n byte }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// TestReseed checks that Math.random's sequence comes from random_get on the
// first request, not from the state _initialize left: two instances with
// wazero's fixed fake clocks initialize alike, as instances made from one
// snapshot are, and their first requests draw differently.
func TestReseed(t *testing.T) {
	e := shared(t)
	fixed := func(rnd io.Reader) *instance {
		// wazero's default clocks are fake and fixed: both instances seed
		// Math.random alike in _initialize.
		in, err := e.initialize(t, initInput, wazero.NewModuleConfig().WithRandSource(rnd))
		if err != nil {
			t.Fatalf("_initialize: %v\n%s", err, in.output)
		}
		return in
	}
	a, b := fixed(rand.Reader).random(t), fixed(rand.Reader).random(t)
	if a.InitRandom != b.InitRandom {
		t.Fatalf("Math.random() in _initialize differs (%v, %v): the test needs alike instances", a.InitRandom, b.InitRandom)
	}
	if a.Random == b.Random {
		t.Errorf("two instances from one state drew the same Math.random() %v", a.Random)
	}
	// With the same random_get bytes, the same draw: the seed is random_get's.
	c, d := fixed(&countingReader{}).random(t), fixed(&countingReader{}).random(t)
	if c.Random != d.Random {
		t.Errorf("instances given the same random bytes drew %v and %v", c.Random, d.Random)
	}
}

func TestTimers(t *testing.T) {
	in := ready(t)
	before := time.Now().UnixMilli()
	_, got := in.get(t, "GET", "/timers", nil)
	var r struct {
		Events           []string
		ElapsedAtLeast40 bool
		DateNow          int64
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if diff := cmp.Diff([]string{"10", "20", "30", "job"}, r.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !r.ElapsedAtLeast40 {
		t.Errorf("two sleeps of 20ms took less than 40ms of hrtime")
	}
	if after := time.Now().UnixMilli(); r.DateNow < before || r.DateNow > after {
		t.Errorf("Date.now() %d is not between %d and %d", r.DateNow, before, after)
	}
}

func TestNeverSettles(t *testing.T) {
	in := ready(t)
	_, err := in.serve(context.Background(), httptest.NewRequest("GET", "/never", nil))
	if err == nil {
		t.Fatal("a handler that never settles returned")
	}
	if want := "handler never settled: no pending timer or I/O\n"; !strings.Contains(in.output.String(), want) {
		t.Errorf("stderr %q does not say %q", in.output, want)
	}
}

// TestRecursion checks that recursion without end, in JS or through the
// engine's C code, is an exception JS can catch, not a trap: QuickJS checks
// its depth against JS_SetMaxStackSize, below the 1 MiB shadow stack.
func TestRecursion(t *testing.T) {
	const overflow = "RangeError: Maximum call stack size exceeded"
	const parserOverflow = "SyntaxError: stack overflow" // the parsers' own limit
	tests := []struct{ name, src, want string }{
		{"function", "const f = n => f(n + 1) + 1; f(0)", overflow},
		{"caught at every level", "const g = n => { try { return g(n + 1) } catch (e) { return n } }; if (g(0) < 1000) throw new Error('shallow')", "no error"},
		{"getter", "const o = { get x() { return this.x } }; o.x", overflow},
		{"proxy", "const p = new Proxy({}, { get: (t, k, r) => r[k] }); p.x", overflow},
		{"proxy chain", "let p = {}; for (let i = 0; i < 1e5; i++) p = new Proxy(p, {}); p.x", overflow},
		{"toString", "String({ toString() { return String(this) } })", overflow},
		{"nested arrays", "let d = []; for (let i = 0; i < 1e5; i++) d = [d]; String(d)", overflow},
		{"flat", "let d = []; for (let i = 0; i < 1e5; i++) d = [d]; d.flat(Infinity)", overflow},
		{"sort comparator", "[1, 2].sort(function c() { [1, 2].sort(c); return 0 })", overflow},
		{"JSON reviver", `JSON.parse("[1]", function r() { return JSON.parse("[1]", r) })`, parserOverflow}, // the parser hits the limit first
		{"apply", "function f() { return f.apply(null, new Array(1000)) } f()", overflow},
		{"generator", "function* g() { yield* g() } g().next()", overflow},
		{"constructor", "class A { constructor() { new A } } new A", overflow},
		{"replace callback", `function r() { return "ab".replace(/a/, r) } r()`, overflow},
		{"JSON.parse", `JSON.parse("[".repeat(1e6))`, parserOverflow},
		{"RegExp", `new RegExp("(?:".repeat(1e5) + ")".repeat(1e5))`, "SyntaxError: stack overflow"},
		{"eval", `eval("(".repeat(1e5) + ")".repeat(1e5))`, parserOverflow},
		{"eval in eval", `function e() { eval("e()") } e()`, parserOverflow},
	}
	in := ready(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := in.get(t, "POST", "/recursion", []byte(tt.src)); got != tt.want {
				t.Errorf("%s: %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestSpinStopsAtDeadline checks that a JS loop without end stops at the
// request's deadline. The runtime makes the engine's loops call sched_yield
// (TestImports checks the import is there); this test, on the module as
// built, has wazero check the context at the loops instead.
func TestSpinStopsAtDeadline(t *testing.T) {
	in, err := newEngine(t, wazero.NewRuntimeConfig().WithCloseOnContextDone(true)).initialize(t, initInput, nil)
	if err != nil {
		t.Fatalf("_initialize: %v\n%s", err, in.output)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = in.serve(ctx, httptest.NewRequest("GET", "/spin", nil))
	var exit *sys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != sys.ExitCodeDeadlineExceeded {
		t.Errorf("while(true){} returned %v, want exit code deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopped after %v", d)
	}
}

func TestMemoryLimit(t *testing.T) {
	e := newEngine(t, wazero.NewRuntimeConfig().WithMemoryLimitPages(1024)) // 64 MiB
	for _, path := range []string{"/oom", "/oom/strings"} {
		t.Run(path, func(t *testing.T) {
			in, err := e.initialize(t, initInput, nil)
			if err != nil {
				t.Fatalf("_initialize: %v\n%s", err, in.output)
			}
			res, err := in.serve(context.Background(), httptest.NewRequest("GET", path, nil))
			if err != nil {
				t.Logf("trapped: %v\n%s", err, in.output)
				return
			}
			b, _ := io.ReadAll(res.Body)
			if want := "caught InternalError: out of memory"; string(b) != want {
				t.Errorf("%d %q, want %q", res.StatusCode, b, want)
			}
		})
	}
}

func TestUnhandledRejection(t *testing.T) {
	in := ready(t)
	if _, got := in.get(t, "GET", "/rejections", nil); got != "ok" {
		t.Errorf("body %q", got)
	}
	out := in.output.String()
	if !strings.Contains(out, "unhandled rejection: Error: boom\n") {
		t.Errorf("output %q does not report the rejection", out)
	}
	if strings.Contains(out, "Error: handled") {
		t.Errorf("output %q reports a handled rejection", out)
	}
}

func TestInitErrors(t *testing.T) {
	e := shared(t)
	huge := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 0xfffffff0)
	tests := []struct {
		name  string
		input []byte
		want  string // in the output
	}{
		{"truncated header", []byte{1, 0, 0, 0, 5}, "init input: record 1 (at byte 0): truncated header"},
		{"huge name length", huge, "record 1 (at byte 0): the name's length goes past the end of the input"},
		{"huge source length", slices.Concat(record(1, "a.js", ""), []byte{1, 0, 0, 0, 1, 0, 0, 0, 'b', 0xf0, 0xff, 0xff, 0xff}),
			"record 2 (at byte 16): the source's length goes past the end of the input"},
		{"truncated source", record(1, "a.js", "1+1")[:17], "the source's length goes past the end of the input"},
		{"unknown kind", record(3, "a.js", ""), "record 1 (at byte 0): unknown kind 3"},
		{"script throws", record(1, "bad.js", "\nthrow new TypeError('nope')"), "TypeError: nope\n    at <eval> (bad.js:2"},
		{"syntax error", record(2, "bad.mjs", "let let"), "SyntaxError"},
		{"module rejects", slices.Concat(record(1, "platform.js", platform), record(2, "m.js", "await sleep(1); throw new RangeError('late')")),
			"initialization: RangeError: late"},
		{"module never settles", record(2, "m.js", "await new Promise(() => {})"),
			"m.js: the module's evaluation never settled: no pending timer or I/O"},
		{"import", record(2, "m.js", "import 'x'"), "could not load module"},
		{"hook not a function", record(1, "p.js", "__wasmroute_host.register({ dispatch: 1 })"),
			"TypeError: register: hooks.dispatch is not a function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := e.initialize(t, tt.input, nil)
			if err == nil {
				t.Fatalf("_initialize succeeded")
			}
			if out := in.output.String(); !strings.Contains(out, tt.want) {
				t.Errorf("output %q does not contain %q", out, tt.want)
			}
			if size := in.mod.Memory().Size(); size > 8<<20 {
				t.Errorf("memory grew to %d bytes", size)
			}
		})
	}
}

func TestEmptyInput(t *testing.T) {
	in, err := shared(t).initialize(t, nil, nil)
	if err != nil {
		t.Fatalf("_initialize with no records: %v\n%s", err, in.output)
	}
	if _, err := in.serve(context.Background(), httptest.NewRequest("GET", "/", nil)); err == nil ||
		!strings.Contains(in.output.String(), "no dispatch hook") {
		t.Errorf("a request without a platform: %v, output %q", err, in.output)
	}
}

// bigScript is a platform-sized classic script (about 50 KiB): the test
// platform followed by classes and functions enough to make up the size.
func bigScript() string {
	var b strings.Builder
	b.WriteString(platform)
	for i := 0; b.Len() < 50<<10; i++ {
		fmt.Fprintf(&b, `
class Web%[1]d extends EventTarget%[1]d {
	#state = new Map();
	constructor(init = {}) { super(); this.name = "web%[1]d"; Object.assign(this, init); }
	get size() { return this.#state.size; }
	set(key, value) { this.#state.set(String(key).toLowerCase(), value); return this; }
	*entries() { for (const [k, v] of this.#state) yield [k, v]; }
	toString() { return "[object Web%[1]d]"; }
}
globalThis.Web%[1]d = Web%[1]d;
`, i)
		fmt.Fprintf(&b, "function EventTarget%[1]d() {}\nEventTarget%[1]d.prototype.on = function (t, f) { (this.l ??= []).push([t, f]); };\n", i+1)
	}
	return b.String()
}

// BenchmarkInitialize measures _initialize of a 50 KiB platform script and
// a small route module, and reports the memory it leaves (the snapshot's
// size).
func BenchmarkInitialize(b *testing.B) {
	e := newEngine(b, wazero.NewRuntimeConfig())
	script := bigScript()
	input := slices.Concat(record(1, "platform.js", strings.Replace(script, "EventTarget0", "Object", 1)),
		record(2, "route.js", `globalThis.routes = { "/ok"() { H.bodyWrite("ok") } };`))
	ctx := context.Background()
	var mem uint32
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStdin(bytes.NewReader(input)).WithStderr(os.Stderr)
		mod, err := e.rt.InstantiateModule(ctx, e.compiled, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := mod.ExportedFunction("_initialize").Call(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		mem = mod.Memory().Size()
		mod.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(script)), "script-bytes")
	b.ReportMetric(float64(mem), "memory-bytes")
}

// BenchmarkDispatch serves a request whose handler writes "ok": a native
// handler, and the engine's GET with the dispatch hook, its promise and the
// event loop.
func BenchmarkDispatch(b *testing.B) {
	rec := httptest.NewRecorder()
	rec.Body = nil // discard
	req := httptest.NewRequest("GET", "/ok", nil)
	ctx := context.Background()
	b.Run("native", func(b *testing.B) {
		ok := []byte("ok")
		b.ReportAllocs()
		for b.Loop() {
			rec.WriteHeader(200)
			rec.Write(ok)
		}
	})
	b.Run("engine", func(b *testing.B) {
		in := ready(b)
		get := in.mod.ExportedFunction("GET")
		e := host.NewExchange(rec, req, nil)
		b.ReportAllocs()
		for b.Loop() {
			e.Reset(rec, req, nil)
			if err := get.CallWithStack(host.WithExchange(ctx, e), nil); err != nil {
				b.Fatalf("%v\n%s", err, in.output)
			}
			e.Finish()
		}
	})
}

// TestEnv checks env(): null during initialization, when nothing of the
// environment may reach memory (a snapshot is taken there), and the
// instance's environment, read at the call, while a request is served.
// The services' natives throw during initialization.
func TestEnv(t *testing.T) {
	secret := "s3cr3t-" + rand.Text()
	cfg := wazero.NewModuleConfig().WithRandSource(rand.Reader).WithSysWalltime().WithSysNanotime().
		WithEnv("SECRET", secret).WithEnv("UTF", "é€").WithEnv("EMPTY", "").WithEnv("__proto__", "p")
	in, err := shared(t).initialize(t, initInput, cfg)
	if err != nil {
		t.Fatalf("_initialize: %v\n%s", err, in.output)
	}
	mem, _ := in.mod.Memory().Read(0, in.mod.Memory().Size())
	if bytes.Contains(mem, []byte(secret)) {
		t.Errorf("the memory after _initialize holds an environment variable's value")
	}
	_, got := in.get(t, "GET", "/env", nil)
	var r struct {
		AtInit    map[string]any
		Env       map[string]string
		NullProto bool
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	const during = " is available only while a request is served, not during initialization (at a module's top level)"
	wantInit := map[string]any{
		"env":          nil,
		"errorMessage": "TypeError: errorMessage" + during,
		"fetchStart":   "TypeError: fetchStart" + during,
		"kvGet":        "TypeError: kvGet" + during,
	}
	if diff := cmp.Diff(wantInit, r.AtInit); diff != "" {
		t.Errorf("during initialization (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"SECRET": secret, "UTF": "é€", "EMPTY": "", "__proto__": "p"}, r.Env); diff != "" {
		t.Errorf("env() (-want +got):\n%s", diff)
	}
	if !r.NullProto {
		t.Errorf("env()'s object has a prototype")
	}
}

// upstream serves the fetch tests: /slow after 100 ms, with a header value
// that is not UTF-8; /echo, what it was sent; /hang, never.
func upstream(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		w.Header()["X-Latin1"] = []string{"caf\xe9"}
		io.WriteString(w, "slow")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %x %s %s", r.Method, r.Header.Get("X-Latin1"), r.Header.Get("Content-Type"), b)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func allowLoopback(t *testing.T) func(*host.Exchange) {
	p, err := outbound.Parse([]string{"http://127.0.0.1:*"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	o := &host.Outbound{Client: p.Client(), Allow: p.Allow}
	return func(e *host.Exchange) { e.Outbound = o }
}

// TestFetch runs three fetches at once through the natives and the event
// loop (the hooks io and ready), and the natives' checks.
func TestFetch(t *testing.T) {
	up := upstream(t)
	in := ready(t)
	in.setup = allowLoopback(t)
	_, got := in.get(t, "GET", "/fetch?"+url.QueryEscape(up.URL), nil)
	type result struct {
		Head  []string
		Body  string
		Close int
	}
	var r struct {
		RA, RB, RC                         result
		Ms                                 float64
		NotLatin1                          int
		NotArray                           string
		ClosedAgain, HeadClosed            int
		PollNone, PollUnknown, PollTooMany int
	}
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%v: %s\n%s", err, got, in.output)
	}
	for _, slow := range []result{r.RA, r.RC} {
		head := map[string]string{}
		for i := 2; i+1 < len(slow.Head); i += 2 {
			head[slow.Head[i]] = slow.Head[i+1]
		}
		if len(slow.Head) < 2 || slow.Head[0] != "200" || slow.Head[1] != up.URL+"/slow" || head["x-latin1"] != "café" || slow.Body != "slow" || slow.Close != 0 {
			t.Errorf("/slow: %+v, want 200, its URL, x-latin1 café (one char per byte), slow", slow)
		}
	}
	if want := "POST 636166e9 text/plain hi"; r.RB.Body != want || r.RB.Head[0] != "200" {
		t.Errorf("/echo: %+v, want 200 %q", r.RB, want)
	}
	if r.Ms > 190 {
		t.Errorf("two fetches of 100 ms took %v ms: not at once", r.Ms)
	}
	want := []int{-1, -1, -1, -8, -1, -1}
	if diff := cmp.Diff(want, []int{r.NotLatin1, r.ClosedAgain, r.HeadClosed, r.PollNone, r.PollUnknown, r.PollTooMany}); diff != "" || r.NotArray != "TypeError" {
		t.Errorf("notLatin1, closedAgain, headClosed, pollNone, pollUnknown, pollTooMany (-want +got):\n%s\nnotArray %s", diff, r.NotArray)
	}

	// Without an outbound policy, every fetch is denied, with a message.
	in.setup = nil
	_, got = in.get(t, "GET", "/fetch/denied?"+url.QueryEscape(up.URL), nil)
	var d struct {
		H       int
		Message string
	}
	if err := json.Unmarshal([]byte(got), &d); err != nil || d.H != -6 || d.Message == "" {
		t.Errorf("denied: %s (%v), want h -6 and a message", got, err)
	}
}

// TestFetchStopsAtDeadline checks that a request waiting on a handle in
// the event loop stops when its context ends.
func TestFetchStopsAtDeadline(t *testing.T) {
	up := upstream(t)
	in := ready(t)
	in.setup = allowLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := in.serve(ctx, httptest.NewRequest("GET", "/fetch/hang?"+url.QueryEscape(up.URL), nil))
	var exit *sys.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("a request waiting on a fetch past its deadline returned %v, want an exit\n%s", err, in.output)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopped after %v", d)
	}
}

// TestKVArgs checks the kv natives' argument checks, which never reach the
// host, and that the others do (with no store: ErrFailed).
func TestKVArgs(t *testing.T) {
	in := ready(t)
	_, got := in.get(t, "GET", "/kv/args", nil)
	var r map[string]any
	if err := json.Unmarshal([]byte(got), &r); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if msg, _ := r["message"].(string); msg == "" {
		t.Errorf("errorMessage() after a failed kvIncr is empty")
	}
	delete(r, "message")
	want := map[string]any{
		"unsafe": "RangeError", "fraction": "RangeError", "nan": "RangeError", "bigOver": "RangeError", "string": "TypeError",
		"bigMin": -9.0, "number": -9.0,
		"loneKey": -1.0, "loneSet": -1.0, "ttlFraction": -1.0, "ttlNegative": -1.0, "objectValue": "TypeError",
		"set": -9.0, "list": -9.0, "delete": -9.0,
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestRegisterIO checks the optional hooks io and ready.
func TestRegisterIO(t *testing.T) {
	e := shared(t)
	const hooks = "dispatch() {}, nextTimer() { return -1 }, runTimers() {}, report() {}"
	for src, want := range map[string]string{
		"{ " + hooks + ", io() { return [] } }":             "TypeError: register: hooks.io and hooks.ready go together",
		"{ " + hooks + ", io: 1, ready() {} }":              "TypeError: register: hooks.io is not a function",
		"{ " + hooks + ", io() { return [] }, ready: {} }":  "TypeError: register: hooks.ready is not a function",
		"{ " + hooks + ", io() { return [] }, ready() {} }": "",
	} {
		in, err := e.initialize(t, record(1, "p.js", "__wasmroute_host.register("+src+")"), nil)
		if out := in.output.String(); (want == "") != (err == nil) || !strings.Contains(out, want) {
			t.Errorf("register(%s): %v, output %q, want %q", src, err, out, want)
		}
	}
	// An io hook that returns something else than handles traps the request.
	in, err := e.initialize(t, record(1, "p.js", `__wasmroute_host.register({ dispatch() { return new Promise(() => {}) },
		nextTimer() { return -1 }, runTimers() {}, report() {}, io() { return "1" }, ready() {} })`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.serve(context.Background(), httptest.NewRequest("GET", "/", nil)); err == nil || !strings.Contains(in.output.String(), "io did not return an array of handles") {
		t.Errorf("io returning a string: %v, output %q", err, in.output)
	}
}
