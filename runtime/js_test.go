package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) {
	ServeBuildChild() // for Tenants and Config.IsolateBuilds
	os.Exit(m.Run())
}

// jsProject lays out a project from files, e.g.
// {"app/api/hello/route.ts": "export function GET() {…}"}.
func jsProject(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// jsServe serves the project in dir over loopback, HTTP/1.1 and h2c.
func jsServe(t testing.TB, dir string, cfg Config) (*httptest.Server, *syncBuffer) {
	t.Helper()
	cfg.Dir = dir
	cfg.CacheDir = hostileCacheDir()
	cfg.IdleTimeout = -1
	s, logs := newServer(t, cfg)
	ts := httptest.NewUnstartedServer(s)
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetHTTP1(true)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, logs
}

type jsAnswer struct {
	Status int
	Header http.Header `json:",omitempty"`
	Body   string
}

// jsDo sends a request and keeps the response headers named in keep.
func jsDo(t testing.TB, client *http.Client, method, url string, header http.Header, body io.Reader, keep ...string) jsAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	a := jsAnswer{Status: res.StatusCode, Body: string(b)}
	for _, k := range keep {
		if v := res.Header.Values(k); v != nil {
			if a.Header == nil {
				a.Header = http.Header{}
			}
			a.Header[k] = v
		}
	}
	return a
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// jsRoutes are route handlers as Next.js documents them, each using a part
// of the Web platform or of next/*.
var jsRoutes = map[string]string{
	// The example, unmodified.
	"app/blog/[slug]/route.ts": `
import { NextResponse, type NextRequest } from 'next/server'
export const maxDuration = 5
export async function GET(request: NextRequest, { params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params
  return NextResponse.json({ slug, q: request.nextUrl.searchParams.get('q') })
}
export async function POST(request: Request) {
  const body = await request.json()
  const res = Response.json({ created: body.title }, { status: 201 })
  res.headers.append('set-cookie', 'a=1; Path=/')
  res.headers.append('set-cookie', 'b=2; Path=/')
  return res
}`,
	"app/docs/[...path]/route.ts": `
export async function GET(_: Request, { params }: { params: Promise<{ path: string[] }> }) {
  return Response.json(await params)
}`,
	"app/files/[[...path]]/route.js": `
export async function GET(_, { params }) {
  const p = await params
  return Response.json({ has: 'path' in p, path: p.path ?? null })
}`,
	"app/form/route.ts": `
export async function POST(request: Request) {
  const form = await request.formData()
  const out: Record<string, unknown> = {}
  for (const [k, v] of form) {
    out[k] = typeof v === 'string' ? v : { name: v.name, type: v.type, text: await v.text() }
  }
  return Response.json(out)
}`,
	"app/count/route.ts": `
// Reads the body incrementally from its stream.
export async function POST(request: Request) {
  const reader = request.body!.getReader()
  let chunks = 0, bytes = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks++
    bytes += value.byteLength
  }
  return Response.json({ bytes, many: chunks > 1 })
}`,
	"app/web/route.ts": `
export async function GET() {
  const u = new URL('../x/./y?a=1&b=%20#frag', 'https://Example.COM:443/p/q/r')
  u.searchParams.append('c', 'd e')
  const h = new Headers({ 'X-A': '1' })
  h.append('x-a', '2')
  h.append('Set-Cookie', 's=1')
  h.append('Set-Cookie', 't=2')
  const enc = new TextEncoder().encode('héllo €')
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'))
  const clone = structuredClone({ d: new Date(0), m: new Map([[1, 2]]), a: [1, { b: 2 }] })
  const ac = new AbortController()
  ac.abort(new Error('why'))
  const waited = await new Promise((resolve) => setTimeout(() => resolve('later'), 20))
  const t = setTimeout(() => { throw new Error('cleared timers never fire') }, 1)
  clearTimeout(t)
  return Response.json({
    url: u.href, host: u.host, path: u.pathname, search: u.search,
    xa: h.get('X-A'), cookies: h.getSetCookie(),
    enc: Array.from(enc), dec: new TextDecoder().decode(enc),
    b64: btoa('hello'), unb64: atob('aGVsbG8='),
    digest: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join(''),
    clone: [clone.d instanceof Date, clone.m.get(1), clone.a[1].b],
    aborted: ac.signal.aborted, reason: ac.signal.reason.message,
    waited, uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
  })
}`,
	"app/random/route.ts": `
const atLoad = Math.random()
export function GET() {
  const bytes = crypto.getRandomValues(new Uint8Array(8))
  return Response.json({ atLoad, random: Math.random(), uuid: crypto.randomUUID(), bytes: Array.from(bytes), now: Date.now() })
}`,
	"app/cookies/route.ts": `
import { cookies, headers } from 'next/headers'
export async function GET() {
  const jar = await cookies()
  const before = jar.get('theme')?.value ?? null
  jar.set('theme', 'dark')
  jar.set({ name: 'sid', value: 'x', httpOnly: true, path: '/' })
  const ua = (await headers()).get('user-agent')
  return Response.json({ before, after: jar.get('theme')?.value, ua })
}`,
	"app/nav/[to]/route.ts": `
import { redirect, permanentRedirect, notFound } from 'next/navigation'
export async function GET(_: Request, { params }: { params: Promise<{ to: string }> }) {
  const { to } = await params
  if (to === 'temp') redirect('/somewhere')
  if (to === 'perm') permanentRedirect('/elsewhere')
  notFound()
}`,
	"app/stream/route.ts": `
export function GET() {
  const enc = new TextEncoder()
  let i = 0
  const stream = new ReadableStream({
    async pull(c) {
      if (i === 3) return c.close()
      await new Promise((r) => setTimeout(r, 10))
      c.enqueue(enc.encode('data: ' + i++ + '\n\n'))
    },
  })
  return new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
}`,
	"app/transform/route.ts": `
export function GET() {
  const { readable, writable } = new TransformStream({
    transform(chunk, c) { c.enqueue(chunk.toUpperCase()) },
  })
  const w = writable.getWriter()
  w.write('abc'); w.write('def'); w.close()
  return new Response(readable.pipeThrough(new TextEncoderStream()))
}`,
	"app/tla/route.ts": `
const config = await new Promise<string>((resolve) => setTimeout(() => resolve('loaded'), 5))
export function GET() { return new Response(config) }`,
	"app/log/route.ts": `
export function GET() {
  console.log('hello from %s', 'the log route', { n: 1 })
  console.error(new Error('logged error'))
  Promise.reject(new Error('nobody catches this'))
  return new Response('ok')
}`,
	"app/throws/route.ts": `
function deep() {
  throw new TypeError('thrown on purpose')
}
export function GET() {
  deep()
  return new Response('unreachable')
}`,
	"app/notresponse/route.ts": `export function GET() { return { hello: 'world' } }`,
	"app/next/route.ts": `
import { NextResponse } from 'next/server'
export function GET() { return NextResponse.next() }`,
	"app/redir/route.ts": `
import { NextResponse } from 'next/server'
export function GET(request: Request) {
  const res = NextResponse.redirect(new URL('/blog/x', request.url))
  res.cookies.set('seen', '1')
  return res
}`,
	"app/status/route.ts": `export function DELETE() { return new Response(null, { status: 204, statusText: 'Gone Now' }) }`,
	"app/jar/route.ts": `
import { NextResponse, type NextRequest } from 'next/server'
export function GET(request: NextRequest) {
  const jar = request.cookies
  const seen = { size: jar.size, a: jar.get('a')?.value, all: jar.getAll().map((c) => c.name), has: jar.has('b') }
  jar.delete('a')
  const res = NextResponse.json({ ...seen, after: jar.getAll().map((c) => c.name), header: request.headers.get('cookie') })
  res.cookies.set('x', '1', { httpOnly: true, maxAge: 0 })
  res.cookies.set('y', '2')
  res.cookies.delete('y')
  return res
}`,
}

func TestJSRoutes(t *testing.T) {
	ts, logs := jsServe(t, jsProject(t, jsRoutes), Config{})
	c := noRedirect
	url := ts.URL

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("title", "hello")
	fw, _ := mw.CreateFormFile("file", "a.txt")
	fw.Write([]byte("file body"))
	mw.Close()
	big := bytes.Repeat([]byte("x"), 300_000)
	sum := sha256.Sum256([]byte("abc"))

	tests := []struct {
		name, method, path string
		header             http.Header
		body               []byte
		keep               []string
		want               jsAnswer
	}{
		{"params, query, NextResponse.json", "GET", "/blog/hello?q=1", nil, nil, []string{"Content-Type"},
			jsAnswer{200, http.Header{"Content-Type": {"application/json"}}, `{"slug":"hello","q":"1"}`}},
		{"json body, 201, two Set-Cookie", "POST", "/blog/x", nil, []byte(`{"title":"T"}`), []string{"Set-Cookie"},
			jsAnswer{201, http.Header{"Set-Cookie": {"a=1; Path=/", "b=2; Path=/"}}, `{"created":"T"}`}},
		{"HEAD from GET", "HEAD", "/blog/hello", nil, nil, []string{"Content-Type"},
			jsAnswer{200, http.Header{"Content-Type": {"application/json"}}, ""}},
		{"OPTIONS", "OPTIONS", "/blog/hello", nil, nil, []string{"Allow"},
			jsAnswer{204, http.Header{"Allow": {"GET, HEAD, OPTIONS, POST"}}, ""}},
		{"405 for a method not exported", "PUT", "/blog/hello", nil, nil, []string{"Allow"},
			jsAnswer{405, http.Header{"Allow": {"GET, HEAD, OPTIONS, POST"}}, ""}},
		{"catch-all", "GET", "/docs/a/b%2Fc", nil, nil, nil, jsAnswer{200, nil, `{"path":["a","b/c"]}`}},
		{"optional catch-all, empty", "GET", "/files", nil, nil, nil, jsAnswer{200, nil, `{"has":false,"path":null}`}},
		{"optional catch-all", "GET", "/files/x/y", nil, nil, nil, jsAnswer{200, nil, `{"has":true,"path":["x","y"]}`}},
		{"urlencoded form", "POST", "/form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			[]byte("a=1&b=x+y&a=2"), nil, jsAnswer{200, nil, `{"a":"2","b":"x y"}`}},
		{"multipart form", "POST", "/form", http.Header{"Content-Type": {mw.FormDataContentType()}}, mp.Bytes(), nil,
			jsAnswer{200, nil, `{"title":"hello","file":{"name":"a.txt","type":"application/octet-stream","text":"file body"}}`}},
		{"body stream read incrementally", "POST", "/count", nil, big, nil, jsAnswer{200, nil, `{"bytes":300000,"many":true}`}},
		{"URL, Headers, encoding, crypto, clone, abort, timers", "GET", "/web", nil, nil, nil, jsAnswer{200, nil, `{` +
			`"url":"https://example.com/p/x/y?a=1&b=+&c=d+e#frag","host":"example.com","path":"/p/x/y","search":"?a=1&b=+&c=d+e",` +
			`"xa":"1, 2","cookies":["s=1","t=2"],` +
			`"enc":[104,195,169,108,108,111,32,226,130,172],"dec":"héllo €","b64":"aGVsbG8=","unb64":"hello",` +
			`"digest":"` + hex.EncodeToString(sum[:]) + `","clone":[true,2,2],"aborted":true,"reason":"why","waited":"later","uuid":true}`}},
		{"next/headers cookies and headers", "GET", "/cookies", http.Header{"Cookie": {"theme=light"}, "User-Agent": {"tester"}}, nil,
			[]string{"Set-Cookie"}, jsAnswer{200, http.Header{"Set-Cookie": {"theme=dark; Path=/", "sid=x; Path=/; HttpOnly"}},
				`{"before":"light","after":"dark","ua":"tester"}`}},
		{"redirect()", "GET", "/nav/temp", nil, nil, []string{"Location"}, jsAnswer{307, http.Header{"Location": {"/somewhere"}}, ""}},
		{"permanentRedirect()", "GET", "/nav/perm", nil, nil, []string{"Location"}, jsAnswer{308, http.Header{"Location": {"/elsewhere"}}, ""}},
		{"notFound()", "GET", "/nav/x", nil, nil, nil, jsAnswer{404, nil, ""}},
		{"NextResponse.redirect with a cookie", "GET", "/redir", nil, nil, []string{"Location", "Set-Cookie"},
			jsAnswer{307, http.Header{"Location": {"http://" + strings.TrimPrefix(url, "http://") + "/blog/x"}, "Set-Cookie": {"seen=1; Path=/"}}, ""}},
		{"TransformStream", "GET", "/transform", nil, nil, nil, jsAnswer{200, nil, "ABCDEF"}},
		{"top-level await", "GET", "/tla", nil, nil, nil, jsAnswer{200, nil, "loaded"}},
		{"throws: 500, empty", "GET", "/throws", nil, nil, nil, jsAnswer{500, nil, ""}},
		{"not a Response: 500", "GET", "/notresponse", nil, nil, nil, jsAnswer{500, nil, ""}},
		{"NextResponse.next(): 500", "GET", "/next", nil, nil, nil, jsAnswer{500, nil, ""}},
		{"status and no body", "DELETE", "/status", nil, nil, nil, jsAnswer{204, nil, ""}},
		{"RequestCookies and ResponseCookies", "GET", "/jar", http.Header{"Cookie": {"a=1; b=2"}}, nil, []string{"Set-Cookie"},
			jsAnswer{200, http.Header{"Set-Cookie": {"x=1; Path=/; Max-Age=0; HttpOnly", "y=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}},
				`{"size":2,"a":"1","all":["a","b"],"has":true,"after":["b"],"header":"b=2"}`}},
		{"console", "GET", "/log", nil, nil, nil, jsAnswer{200, nil, "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
			}
			got := jsDo(t, c, tt.method, url+tt.path, tt.header, body, tt.keep...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.path, diff)
			}
		})
	}

	t.Run("logs", func(t *testing.T) {
		log := logs.String()
		for _, want := range []string{
			// A handler's error, with its stack mapped to the .ts file.
			`GET in app/throws/route.ts threw TypeError: thrown on purpose`,
			`at deep (app/throws/route.ts:3:`,
			`GET in app/notresponse/route.ts returned an object`, `not a Response`,
			`NextResponse.next()`,
			`hello from the log route { n: 1 }`,
			`Error: logged error`,
			// console.error(err) maps its stack as the dispatcher does.
			`Error: logged error\n    at GET (app/log/route.ts:4:`, // (slog escapes the newline)
			`unhandled rejection`, `nobody catches this`,
			`route=/log`,
		} {
			if !strings.Contains(log, want) {
				t.Errorf("the log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "route.ts.js:") {
			t.Errorf("the log has a position in the bundle, not mapped to the project's file:\n%s", log)
		}
	})

	t.Run("stream over HTTP/1.1 and HTTP/2", func(t *testing.T) {
		for _, h2 := range []bool{false, true} {
			tr := &http.Transport{Protocols: new(http.Protocols)}
			if h2 {
				tr.Protocols.SetUnencryptedHTTP2(true)
			} else {
				tr.Protocols.SetHTTP1(true)
			}
			got := jsDo(t, &http.Client{Transport: tr}, "GET", url+"/stream", nil, nil)
			if want := "data: 0\n\ndata: 1\n\ndata: 2\n\n"; got.Status != 200 || got.Body != want {
				t.Errorf("h2=%v: got %d %q, want 200 %q", h2, got.Status, got.Body, want)
			}
			tr.CloseIdleConnections()
		}
	})

	t.Run("randomness and time are fresh after the snapshot", func(t *testing.T) {
		type answer struct {
			AtLoad, Random float64
			UUID           string
			Bytes          []byte
			Now            int64
		}
		// Concurrent requests make several instances from one snapshot.
		var mu sync.Mutex
		var got []answer
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				a := jsDo(t, c, "GET", url+"/random", nil, nil)
				var v answer
				if err := json.Unmarshal([]byte(a.Body), &v); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, a := range got {
			for _, k := range []string{fmt.Sprint(a.Random), a.UUID, fmt.Sprint(a.Bytes)} {
				if seen[k] {
					t.Errorf("%s seen twice: %+v", k, got)
				}
				seen[k] = true
			}
			if a.AtLoad != got[0].AtLoad {
				t.Errorf("the value computed at load differs: it is the snapshot's, shared")
			}
			if d := time.Since(time.UnixMilli(a.Now)); d < 0 || d > time.Minute {
				t.Errorf("Date.now() is %v away from now", d)
			}
		}
	})
}

// TestJSLimits runs JavaScript that never ends, recurses without end and
// allocates without end, beside a healthy route that must keep answering.
func TestJSLimits(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"app/ok/route.ts":      `export function GET() { return new Response('ok') }`,
		"app/spin/route.ts":    `export function GET() { for (;;) {} }`,
		"app/recurse/route.ts": `function f(n: number): number { return f(n + 1) + 1 } export function GET() { return new Response(String(f(0))) }`,
		"app/catch/route.ts": `function f(n: number): number { return f(n + 1) + 1 }
export function GET() { try { f(0) } catch (e) { return new Response(e instanceof RangeError ? 'RangeError' : String(e)) } }`,
		"app/bomb/route.ts": `export function GET() { const a = []; for (;;) a.push('x'.repeat(1 << 16) + a.length) }`,
		"app/slow/route.ts": `export const maxDuration = 0.3
export async function GET() { await new Promise((r) => setTimeout(r, 5000)); return new Response('late') }`,
		"app/never/route.ts": `export function GET() { return new Promise(() => {}) }`,
		"app/regex/route.ts": `export function GET() { return new Response(String(/^(a+)+$/.test('a'.repeat(40) + 'b'))) }`,
		"app/huge/route.ts":  `export function GET() { return new Response('x'.repeat(2 ** 29)) }`,
		"app/initspin/route.ts": `for (;;) {}
export function GET() { return new Response('never') }`,
		"app/initwait/route.ts": `await new Promise(() => {})
export function GET() { return new Response('never') }`,
	})
	ts, logs := jsServe(t, dir, Config{LazyCompile: true, Limits: Limits{MaxDuration: 2 * time.Second, MaxMemory: 64 << 20}})
	c := &http.Client{Timeout: 30 * time.Second}
	// The engine is compiled and the platform evaluated before anything is
	// timed: seconds under the race detector, and not what is measured.
	if a := jsDo(t, c, "GET", ts.URL+"/ok", nil, nil); a.Status != 200 {
		t.Fatalf("GET /ok = %d", a.Status)
	}
	// The race detector slows the host's Go side (and wazero's) several
	// times over: the bounds stretch with it.
	slack := time.Duration(1)
	if raceEnabled {
		slack = 3
	}

	stop := make(chan struct{})
	var healthy sync.WaitGroup
	var worst time.Duration
	healthy.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			if a := jsDo(t, c, "GET", ts.URL+"/ok", nil, nil); a.Status != 200 || a.Body != "ok" {
				t.Errorf("healthy route: %d %q", a.Status, a.Body)
			}
			worst = max(worst, time.Since(start))
		}
	})

	for _, tt := range []struct {
		path   string
		status int
		body   string
		within time.Duration
		log    string
	}{
		{"/spin", 504, "", 4 * time.Second, "over its time limit"},
		{"/recurse", 500, "", 4 * time.Second, "Maximum call stack size exceeded"},
		{"/catch", 200, "RangeError", 4 * time.Second, ""},
		{"/bomb", 500, "", 10 * time.Second, "out of memory"},
		{"/slow", 504, "", 1500 * time.Millisecond, "maxDuration=300ms"},
		{"/never", 500, "", 4 * time.Second, "handler never settled"},
		{"/regex", 504, "", 4 * time.Second, "over its time limit"},
		{"/huge", 500, "", 4 * time.Second, "out of memory"},
		{"/initspin", 500, "", 4 * time.Second, "initialization failed"},
		{"/initwait", 500, "", 4 * time.Second, "initialization failed"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			for round := range 2 { // the second round runs on a new or reused instance
				start := time.Now()
				a := jsDo(t, c, "GET", ts.URL+tt.path, nil, nil)
				if took := time.Since(start); a.Status != tt.status || a.Body != tt.body || took > tt.within*slack {
					t.Errorf("round %d: got %d %q after %v, want %d %q within %v", round, a.Status, a.Body, took, tt.status, tt.body, tt.within*slack)
				}
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("the log lacks %q:\n%s", tt.log, logs)
			}
		})
	}
	close(stop)
	healthy.Wait()
	if worst > time.Second*slack {
		t.Errorf("the healthy route took up to %v", worst)
	}
}

// TestJSLoadErrors checks that a route that does not build stops the
// project from loading with a message naming file, line and column.
func TestJSLoadErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"syntax", map[string]string{"app/x/route.ts": "export function GET() {\n  return new Response('a'\n}\n"},
			[]string{"app/x/route.ts:3:1: Expected \")\" but found \"}\""}},
		{"package", map[string]string{"app/x/route.ts": "import _ from 'lodash'\nexport function GET() { return new Response(_.x) }\n"},
			[]string{`app/x/route.ts:1:15: cannot resolve "lodash": run npm install in`}},
		{"maxDuration not a literal", map[string]string{"app/x/route.ts": "const n = 5\nexport const maxDuration = n\nexport function GET() {}\n"},
			[]string{"app/x/route.ts:2:", "maxDuration"}},
		{"maxDuration over the ceiling", map[string]string{"app/x/route.ts": "export const maxDuration = 3600\nexport function GET() {}\n"},
			[]string{"app/x/route.ts: maxDuration 1h0m0s is above the operator's ceiling of 30s"}},
		{"route.ts beside route.wasm", map[string]string{"app/x/route.ts": "export function GET() {}\n", "app/x/route.wasm": ""},
			[]string{"app/x/route.ts, app/x/route.wasm: two route sources in one folder: keep one"}},
		{"outside the project", map[string]string{"app/x/route.ts": "import s from '../../../secret'\nexport function GET() { return new Response(s) }\n"},
			[]string{"app/x/route.ts:1:"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), Config{Dir: jsProject(t, tt.files), LazyCompile: true})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("New: %v, want a *LoadError", err)
			}
			msg := strings.Join(le.Problems, "\n")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("load errors lack %q:\n%s", w, msg)
				}
			}
		})
	}
}

// TestJSBesideOtherRoutes serves TypeScript, JavaScript and WebAssembly
// routes from one project.
func TestJSBesideOtherRoutes(t *testing.T) {
	dir := project(t, map[string]string{"wat": "hello"})
	for name, src := range map[string]string{
		"app/ts/route.ts": `export function GET() { return new Response('ts') }`,
		"app/js/route.js": `export function GET() { return new Response('js') }`,
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644)
	}
	ts, _ := jsServe(t, dir, Config{})
	for path, want := range map[string]string{"/wat": "hello", "/ts": "ts", "/js": "js"} {
		if a := jsDo(t, noRedirect, "GET", ts.URL+path, nil, nil); a.Status != 200 || a.Body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, a.Status, a.Body, want)
		}
	}
}

// TestJSBuildCrash serves a tenant whose route.ts crashes esbuild (nesting
// deep enough to exhaust a goroutine's stack) beside a healthy tenant: the
// build fails alone, in its child process.
func TestJSBuildCrash(t *testing.T) {
	dir := t.TempDir()
	const n = 2_000_000
	for name, src := range map[string]string{
		"evil/app/x/route.ts": "export const a = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\nexport function GET() { return new Response('x') }\n",
		"good/app/x/route.ts": "export function GET() { return new Response('good') }\n",
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	tn, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "test",
		Project: Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), CacheDir: hostileCacheDir(), LazyCompile: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(context.Background()) })
	ts := httptest.NewServer(tn)
	t.Cleanup(ts.Close)
	for host, want := range map[string]jsAnswer{"good.test": {200, nil, "good"}, "evil.test": {503, nil, ""}} {
		req, _ := http.NewRequest("GET", ts.URL+"/x", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got := (jsAnswer{Status: res.StatusCode, Body: string(body)}); got.Status != want.Status || (want.Status == 200 && got.Body != want.Body) {
			t.Errorf("%s: got %d %q, want %d %q", host, got.Status, got.Body, want.Status, want.Body)
		}
	}
	if !strings.Contains(logs.String(), "the bundler crashed") {
		t.Errorf("the log does not say the bundler crashed:\n%s", logs)
	}
}

// TestJSEngineCompiledOnce serves many JavaScript routes and checks that
// they share one compiled engine, and one per memory limit.
func TestJSEngineCompiledOnce(t *testing.T) {
	files := map[string]string{
		// A route with its own memory limit needs a runtime, so an engine, of its own.
		"app/big/route.ts":   `export function GET() { return new Response('big') }`,
		"app/big/route.json": `{"maxMemory": "32MiB"}`,
	}
	for i := range 20 {
		files[fmt.Sprintf("app/r%d/route.ts", i)] = fmt.Sprintf("export function GET() { return new Response('%d') }", i)
	}
	dir := jsProject(t, files)
	s, _ := newServer(t, Config{Dir: dir, CacheDir: hostileCacheDir(), LazyCompile: true, IdleTimeout: -1})
	for _, r := range s.routes {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", r.Pattern, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s = %d", r.Pattern, rec.Code)
		}
	}
	modules := map[*engine][]string{}
	for _, r := range s.routes {
		c, err := r.compile(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		e, err := r.engine(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.cm != e.code.cm || !c.shared {
			t.Errorf("%s does not run on its runtime's engine", r.Pattern)
		}
		modules[e] = append(modules[e], r.Pattern)
	}
	if len(s.engines) != 2 || len(modules) != 2 {
		t.Errorf("%d engines for two memory limits: %v", len(s.engines), modules)
	}
}

// TestJSSegmentConfig checks that maxDuration from a route.ts is enforced
// and that the config wasmroute does not act on yet is a warning naming it.
func TestJSSegmentConfig(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"app/x/route.ts": `export const fetchCache = 'force-no-store'
export const preferredRegion = 'home'
export const maxDuration = 0.2
export async function GET() { await new Promise((r) => setTimeout(r, 1000)); return new Response('late') }`,
	})
	ts, logs := jsServe(t, dir, Config{LazyCompile: true})
	// The first request also waits for the engine and the route's
	// snapshot; the second is timed.
	for round := range 2 {
		start := time.Now()
		a := jsDo(t, noRedirect, "GET", ts.URL+"/x", nil, nil)
		if took := time.Since(start); a.Status != 504 || (round == 1 && took > 900*time.Millisecond) {
			t.Errorf("round %d: got %d after %v, want 504 at maxDuration 200ms", round, a.Status, took)
		}
	}
	for _, want := range []string{
		"app/x/route.ts: export const fetchCache is not acted on yet",
		"app/x/route.ts: export const preferredRegion is not acted on yet",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestJSBaseSnapshotFile checks the engine's base snapshot kept in the
// cache folder: written once, used by the next server, and ignored (then
// written again) when it is cut short or changed.
func TestJSBaseSnapshotFile(t *testing.T) {
	dir := jsProject(t, map[string]string{"app/x/route.ts": "export function GET() { return new Response(String(Math.random() < 1)) }"})
	cache := t.TempDir()
	serve := func() {
		t.Helper()
		s, _ := newServer(t, Config{Dir: dir, CacheDir: cache, LazyCompile: true, IdleTimeout: -1})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if rec.Code != 200 || rec.Body.String() != "true" {
			t.Fatalf("GET /x = %d %q", rec.Code, rec.Body)
		}
		s.Close(context.Background())
	}
	serve()
	files, _ := filepath.Glob(filepath.Join(cache, "jsengine-v1", "*.snap"))
	if len(files) != 1 {
		t.Fatalf("base snapshot files: %v", files)
	}
	want, _ := os.ReadFile(files[0])
	before, _ := os.Stat(files[0])
	time.Sleep(10 * time.Millisecond)
	serve() // from the file, which stays as it is
	if after, _ := os.Stat(files[0]); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the second server wrote the base snapshot again instead of reading it")
	}
	for name, spoil := range map[string]func([]byte) []byte{
		"cut short": func(b []byte) []byte { return b[:len(b)/2] },
		"changed":   func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 1; return c },
		"empty":     func([]byte) []byte { return nil },
	} {
		if err := os.WriteFile(files[0], spoil(want), 0o644); err != nil {
			t.Fatal(err)
		}
		serve()
		// Written again: whole and checked (not byte for byte: the
		// platform's initialization reads the clock).
		got, _ := os.ReadFile(files[0])
		n := len(got) - sha256.Size
		if sum := sha256.Sum256(got[:max(n, 0)]); len(got) != len(want) || !bytes.Equal(sum[:], got[n:]) {
			t.Errorf("%s: the file was not written again whole", name)
		}
	}
}
