package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// upstream is the server the routes of the services tests fetch from, on
// loopback (so their allowedOutboundHosts names 127.0.0.1). It counts the
// requests for /slow it serves at once, and notes those whose client went
// away.
type upstream struct {
	*httptest.Server
	inflight, most atomic.Int32
	cancelled      chan string // the paths whose request the client cancelled
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{cancelled: make(chan string, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		n := u.inflight.Add(1)
		defer u.inflight.Add(-1)
		for m := u.most.Load(); n > m && !u.most.CompareAndSwap(m, n); m = u.most.Load() {
		}
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "slow")
	})
	mux.HandleFunc("/chunks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/x-chunks")
		for i, s := range []string{"a", "b", "c"} {
			if i > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			io.WriteString(w, s)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "key": r.Header.Get("X-Key"), "type": r.Header.Get("Content-Type"),
			"accept": r.Header.Get("Accept"), "body": string(b),
		})
	})
	mux.Handle("/redir", http.RedirectHandler("/echo", http.StatusFound))
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello from upstream")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 4<<10))
	})
	hang := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hangbody" {
			io.WriteString(w, "started")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
			u.cancelled <- r.URL.Path
		case <-time.After(10 * time.Second):
		}
	}
	mux.HandleFunc("/hang", hang)
	mux.HandleFunc("/hangbody", hang)
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	return u
}

// jsServices are routes that use fetch, wasmroute:kv and process.env.
var jsServices = map[string]string{
	"app/fetch/parallel/route.ts": `
export async function GET() {
  const up = process.env.UPSTREAM
  const t0 = performance.now()
  const [a, b] = await Promise.all([fetch(up + '/slow'), fetch(up + '/slow')])
  const texts = await Promise.all([a.text(), b.text()])
  return Response.json({ texts, ms: performance.now() - t0 })
}`,
	"app/fetch/stream/route.ts": `
export async function GET(request: Request) {
  const res = await fetch(process.env.UPSTREAM + '/chunks')
  if (new URL(request.url).searchParams.has('proxy')) {
    return new Response(res.body, { headers: { 'content-type': res.headers.get('content-type')! } })
  }
  const reader = res.body!.getReader()
  const dec = new TextDecoder()
  const chunks: string[] = []
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(dec.decode(value))
  }
  return Response.json({ status: res.status, statusText: res.statusText, ok: res.ok, type: res.headers.get('content-type'), chunks })
}`,
	"app/fetch/denied/route.ts": `
export async function GET() {
  try {
    await fetch('https://example.com/x')
    return new Response('fetched?')
  } catch (e: any) {
    console.error(e)
    return new Response(e.name + ': ' + e.message + ': ' + String(e.cause?.message) + ' (' + e.cause?.code + ')')
  }
}`,
	"app/fetch/abort/route.ts": `
export async function GET() {
  const ac = new AbortController()
  setTimeout(() => ac.abort(), 100)
  try {
    await fetch(process.env.UPSTREAM + '/hang', { signal: ac.signal })
    return new Response('not aborted')
  } catch (e: any) {
    return new Response(e.name)
  }
}`,
	"app/fetch/abortbody/route.ts": `
export async function GET() {
  const res = await fetch(process.env.UPSTREAM + '/hangbody', { signal: AbortSignal.timeout(100) })
  try {
    await res.text()
    return new Response('not aborted')
  } catch (e: any) {
    return new Response(e.name)
  }
}`,
	"app/fetch/echo/route.ts": `
export async function POST(request: Request) {
  const res = await fetch(process.env.UPSTREAM + '/echo', {
    method: 'POST', headers: { 'x-key': 'k1', 'content-type': 'application/json' }, body: request.body, duplex: 'half',
    next: { revalidate: 60 }, cache: 'no-store',
  } as RequestInit)
  return new Response(await res.text(), { status: res.status })
}`,
	"app/fetch/redirect/route.ts": `
export async function GET() {
  const up = process.env.UPSTREAM!
  const follow = await fetch(up + '/redir')
  const manual = await fetch(up + '/redir', { redirect: 'manual' })
  let error = ''
  try { await fetch(up + '/redir', { redirect: 'error' }) } catch (e: any) { error = e.message }
  return Response.json({ url: follow.url.replace(up, ''), redirected: follow.redirected, manual: [manual.status, manual.headers.get('location')], error })
}`,
	"app/fetch/relative/route.ts": `
export async function GET() {
  try { await fetch('/api/x') } catch (e: any) { return new Response(e.name) }
  return new Response('fetched?')
}`,
	"app/kv/route.ts": `
import { kv, KVError } from 'wasmroute:kv'
export async function GET() {
  await kv.set('a:1', 'one')
  await kv.set('a:2', new TextEncoder().encode('two'))
  await kv.set('b', JSON.stringify({ x: 1 }), { ttl: 60 })
  const got = {
    one: await kv.get('a:1'), two: await kv.get('a:2'), json: await kv.get('b', 'json'), missing: await kv.get('nope'),
    bytes: Array.from(new Uint8Array((await kv.get('a:1', { type: 'arrayBuffer' }))!)),
  }
  const list = await kv.list('a:')
  const all = await kv.list()
  const n = [await kv.incr('n'), await kv.incr('n', 41), String(await kv.incr('n', 0n)), await kv.get('n')]
  await kv.delete('a:1')
  await kv.delete('never-set')
  const after = await kv.list('a:')
  const fail = async (f: () => Promise<unknown>) => {
    try { await f(); return 'no error' } catch (e: any) { return e.name + (e instanceof KVError ? ' ' + e.code : '') }
  }
  const errors = {
    object: await fail(() => kv.set('o', { x: 1 } as any)),
    notInteger: await fail(() => kv.incr('b')),
    emptyKey: await fail(() => kv.get('')),
    fraction: await fail(() => kv.incr('n', 0.5)),
  }
  return Response.json({ got, list, all, n, after, errors })
}`,
	"app/kv/count/route.ts": `
import { kv } from 'wasmroute:kv'
export async function POST() { return new Response(String(await kv.incr('count'))) }`,
	"app/env/a/route.ts": `
export function GET() {
  return Response.json({ greeting: process.env.GREETING, route: process.env.ROUTE ?? null, node: process.env.NODE_ENV,
    has: 'GREETING' in process.env, keys: Object.keys(process.env).sort() })
}`,
	"app/env/a/route.json": `{"env": {"ROUTE": "a"}}`,
	"app/env/b/route.ts": `
export function GET() { return Response.json({ route: process.env.ROUTE, node: process.env.NODE_ENV }) }`,
	"app/env/b/route.json": `{"env": {"ROUTE": "b", "NODE_ENV": "development"}}`,
	"app/secret/route.ts": `
const atInit = process.env.SECRET
const nodeAtInit = process.env.NODE_ENV
export function GET() { return Response.json({ atInit: atInit ?? null, nodeAtInit, now: process.env.SECRET }) }`,
}

// TestJSServices serves TypeScript routes that fetch from an upstream
// server, use the key-value store and read their environment.
func TestJSServices(t *testing.T) {
	up := newUpstream(t)
	secret := "s3cr3t-" + rand.Text()
	files := map[string]string{
		"wasmroute.json":          fmt.Sprintf(`{"allowedOutboundHosts": ["http://127.0.0.1:*"], "env": {"UPSTREAM": %q, "GREETING": "hello"}}`, up.URL),
		"app/secret/route.json":   fmt.Sprintf(`{"env": {"SECRET": %q}}`, secret),
		"app/kv/count/route.json": `{"maxInstances": 4}`,
	}
	for k, v := range jsServices {
		files[k] = v
	}
	cache := t.TempDir()
	s, logs := newServer(t, Config{Dir: jsProject(t, files), CacheDir: cache, IdleTimeout: -1})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	get := func(t *testing.T, method, path string, body io.Reader) jsAnswer {
		t.Helper()
		return jsDo(t, noRedirect, method, ts.URL+path, nil, body)
	}
	// The race detector slows every side several times over.
	slack := time.Duration(1)
	if raceEnabled {
		slack = 3
	}

	t.Run("Promise.all runs two fetches at once", func(t *testing.T) {
		get(t, "GET", "/fetch/parallel", nil) // the first request also loads the route
		up.most.Store(0)
		start := time.Now()
		a := get(t, "GET", "/fetch/parallel", nil)
		took := time.Since(start)
		var r struct {
			Texts []string
			Ms    float64
		}
		if err := json.Unmarshal([]byte(a.Body), &r); a.Status != 200 || err != nil {
			t.Fatalf("got %d %q (%v)\n%s", a.Status, a.Body, err, logs)
		}
		if diff := cmp.Diff([]string{"slow", "slow"}, r.Texts); diff != "" {
			t.Errorf("texts (-want +got):\n%s", diff)
		}
		if m := up.most.Load(); m != 2 {
			t.Errorf("the upstream saw at most %d requests at once, want 2", m)
		}
		if took > 380*time.Millisecond*slack || r.Ms > 380*float64(slack) {
			t.Errorf("two 200 ms fetches took %v (%v ms in the handler): not run at once", took, r.Ms)
		}
	})

	t.Run("the response body streams", func(t *testing.T) {
		a := get(t, "GET", "/fetch/stream", nil)
		var r struct {
			Status     int
			StatusText string
			OK         bool
			Type       string
			Chunks     []string
		}
		if err := json.Unmarshal([]byte(a.Body), &r); a.Status != 200 || err != nil {
			t.Fatalf("got %d %q (%v)\n%s", a.Status, a.Body, err, logs)
		}
		if r.Status != 200 || r.StatusText != "OK" || !r.OK || r.Type != "text/x-chunks" || strings.Join(r.Chunks, "") != "abc" || len(r.Chunks) < 2 {
			t.Errorf("got %+v, want 200 OK text/x-chunks and abc in more than one chunk", r)
		}
		// Proxied: the client reads the first chunk before the last is sent.
		res, err := http.Get(ts.URL + "/fetch/stream?proxy")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		first := make([]byte, 1)
		start := time.Now()
		if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "a" {
			t.Fatalf("first byte %q, %v", first, err)
		}
		firstAt := time.Since(start)
		rest, _ := io.ReadAll(res.Body)
		if string(rest) != "bc" || res.Header.Get("Content-Type") != "text/x-chunks" {
			t.Errorf("proxied: %q %q, want \"bc\" text/x-chunks", rest, res.Header.Get("Content-Type"))
		}
		if last := time.Since(start); last-firstAt < 50*time.Millisecond {
			t.Errorf("proxied: the first byte came at %v, the last at %v: not streamed", firstAt, last)
		}
	})

	t.Run("a denied host's message reaches the handler and the log", func(t *testing.T) {
		a := get(t, "GET", "/fetch/denied", nil)
		for _, want := range []string{"TypeError: fetch failed: ", "https://example.com", "allowedOutboundHosts", "(ErrDenied)"} {
			if a.Status != 200 || !strings.Contains(a.Body, want) {
				t.Errorf("got %d %q, want it to hold %q", a.Status, a.Body, want)
			}
		}
		for _, want := range []string{"fetch failed", "[cause]: Error:", "allowedOutboundHosts", "ErrDenied"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the log lacks %q:\n%s", want, logs)
			}
		}
	})

	t.Run("AbortController cancels the upstream request", func(t *testing.T) {
		for path, want := range map[string]string{"/fetch/abort": "/hang", "/fetch/abortbody": "/hangbody"} {
			start := time.Now()
			a := get(t, "GET", path, nil)
			wantName := map[string]string{"/fetch/abort": "AbortError", "/fetch/abortbody": "TimeoutError"}[path]
			if a.Status != 200 || a.Body != wantName || time.Since(start) > 2*time.Second*slack {
				t.Errorf("%s: got %d %q after %v, want %q at once", path, a.Status, a.Body, time.Since(start), wantName)
			}
			select {
			case p := <-up.cancelled:
				if p != want {
					t.Errorf("%s: the upstream saw %s cancelled, want %s", path, p, want)
				}
			case <-time.After(2 * time.Second * slack):
				t.Errorf("%s: the upstream did not see its request cancelled", path)
			}
		}
	})

	for _, tt := range []struct {
		name, method, path, body string
		want                     string
	}{
		{"request body, headers, next options", "POST", "/fetch/echo", "posted",
			`{"accept":"*/*","body":"posted","key":"k1","method":"POST","type":"application/json"}` + "\n"},
		{"redirect modes", "GET", "/fetch/redirect", "",
			`{"url":"/echo","redirected":true,"manual":[302,"/echo"],"error":"fetch failed"}`},
		{"a relative URL is a TypeError", "GET", "/fetch/relative", "", "TypeError"},
		{"kv round trip", "GET", "/kv", "", `{` +
			`"got":{"one":"one","two":"two","json":{"x":1},"missing":null,"bytes":[111,110,101]},` +
			`"list":["a:1","a:2"],"all":["a:1","a:2","b"],"n":[1,42,"42","42"],"after":["a:2"],` +
			`"errors":{"object":"TypeError","notInteger":"KVError ErrInvalid","emptyKey":"KVError ErrInvalid","fraction":"RangeError"}}`},
		{"process.env", "GET", "/env/a", "",
			`{"greeting":"hello","route":"a","node":"production","has":true,"keys":["GREETING","NODE_ENV","ROUTE","UPSTREAM"]}`},
		{"process.env, NODE_ENV set by the route", "GET", "/env/b", "", `{"route":"b","node":"development"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			a := get(t, tt.method, tt.path, body)
			if diff := cmp.Diff(jsAnswer{Status: 200, Body: tt.want}, a); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s\n%s", tt.method, tt.path, diff, logs)
			}
		})
	}

	t.Run("kv.incr is atomic across instances", func(t *testing.T) {
		var wg sync.WaitGroup
		seen := make(chan string, 40)
		for range 40 {
			wg.Go(func() { seen <- get(t, "POST", "/kv/count", nil).Body })
		}
		wg.Wait()
		close(seen)
		got := map[string]bool{}
		for v := range seen {
			got[v] = true
		}
		for i := 1; i <= 40; i++ {
			if !got[fmt.Sprint(i)] {
				t.Errorf("no request got %d: %v", i, got)
				break
			}
		}
	})

	t.Run("a secret read at the top level stays out of the snapshots", func(t *testing.T) {
		a := get(t, "GET", "/secret", nil)
		want := fmt.Sprintf(`{"atInit":null,"nodeAtInit":"production","now":%q}`, secret)
		if a.Status != 200 || a.Body != want {
			t.Errorf("got %d %s, want %s\n%s", a.Status, a.Body, want, logs)
		}
		if want := "process.env.SECRET was read at the module's top level"; !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
		var snap []byte
		for _, r := range s.routes {
			if r.Pattern == "/secret" {
				c, err := r.compile(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				snap = c.snap.img.data
			}
		}
		if len(snap) == 0 {
			t.Fatal("no snapshot of /secret")
		}
		if i := bytes.Index(snap, []byte(secret)); i >= 0 {
			t.Errorf("the route's snapshot holds the secret at %d", i)
		}
		bases, _ := filepath.Glob(filepath.Join(cache, "jsengine-v1", "*.snap"))
		for _, f := range bases {
			if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(secret)) {
				t.Errorf("the base snapshot %s holds the secret", f)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds the secret")
		}
	})
}
