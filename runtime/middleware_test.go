package runtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/jsbuild"
)

// mwEcho answers with what a route saw of its request.
const mwEcho = `
export async function GET(request, { params }) {
  const h = request.headers
  return Response.json({ // keys sorted, as mwJSON writes them
    drop: h.get('x-drop'), keep: h.get('x-keep'), params: await params,
    path: request.nextUrl.pathname, search: request.nextUrl.search, user: h.get('x-user'),
  })
}`

// mwTS is a middleware.ts doing each thing a Next.js middleware does.
const mwTS = `
import { NextResponse, type NextRequest } from 'next/server'
export function middleware(request: NextRequest) {
  const p = request.nextUrl.pathname
  if (p === '/deny') return new NextResponse('denied', { status: 401, headers: { 'www-authenticate': 'Basic' } })
  if (p === '/old') return NextResponse.redirect(new URL('/new', request.url))
  if (p.startsWith('/alias/')) return NextResponse.rewrite(new URL('/echo/' + p.slice(7) + '?via=alias', request.url))
  if (p === '/foreign') return NextResponse.rewrite('https://evil.example/steal')
  if (p === '/user') {
    const headers = new Headers(request.headers)
    headers.set('x-user', 'ada')
    headers.delete('x-drop')
    const res = NextResponse.next({ request: { headers } })
    res.headers.set('x-mw', 'user')
    res.cookies.set('seen', '1')
    return res
  }
  if (p === '/throw') throw new Error('boom in middleware')
  if (p === '/slow') for (;;) {}
  if (p === '/echo/quiet') return // nothing: go on
  return NextResponse.next({ headers: { 'x-mw': 'ran' } })
}
export const config = { matcher: ['/((?!api|healthy).*)'] }
`

func mwJSON(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMiddlewareTS(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"middleware.ts":            mwTS,
		"wasmroute.json":           `{"middleware": {"maxDuration": "300ms"}}`,
		"app/echo/[slug]/route.ts": mwEcho,
		"app/user/route.ts":        mwEcho,
		"app/new/route.ts":         `export const GET = () => new Response('new')`,
		"app/healthy/route.ts":     `export const GET = () => new Response('ok')`,
		"app/api/who/route.ts":     `export const GET = () => new Response('api')`,
	})
	ts, logs := jsServe(t, dir, Config{})
	keep := []string{"X-Mw", "Www-Authenticate", "Location", "Set-Cookie", "X-Middleware-Next"}
	tests := []struct {
		name, path string
		header     http.Header
		want       jsAnswer
		log        string
	}{
		{name: "answer", path: "/deny", want: jsAnswer{401, http.Header{"Www-Authenticate": {"Basic"}}, "denied"}},
		{name: "redirect", path: "/old", want: jsAnswer{307, http.Header{"Location": {ts.URL + "/new"}}, ""}},
		{name: "rewrite", path: "/alias/hello?x=1", want: jsAnswer{200, nil,
			mwJSON(map[string]any{"path": "/echo/hello", "search": "?via=alias", "params": map[string]string{"slug": "hello"}, "user": nil, "drop": nil, "keep": nil})}},
		{name: "request headers", path: "/user", header: http.Header{"X-Drop": {"1"}, "X-Keep": {"k"}}, want: jsAnswer{200,
			http.Header{"X-Mw": {"user"}, "Set-Cookie": {"seen=1; Path=/"}},
			mwJSON(map[string]any{"path": "/user", "search": "", "params": map[string]string{}, "user": "ada", "drop": nil, "keep": "k"})}},
		{name: "next", path: "/echo/a?q=1", header: http.Header{"X-User": {"client"}}, want: jsAnswer{200, http.Header{"X-Mw": {"ran"}},
			mwJSON(map[string]any{"path": "/echo/a", "search": "?q=1", "params": map[string]string{"slug": "a"}, "user": "client", "drop": nil, "keep": nil})}},
		{name: "nothing returned", path: "/echo/quiet", want: jsAnswer{200, nil,
			mwJSON(map[string]any{"path": "/echo/quiet", "search": "", "params": map[string]string{"slug": "quiet"}, "user": nil, "drop": nil, "keep": nil})}},
		{name: "matcher skips", path: "/api/who", want: jsAnswer{200, nil, "api"}},
		{name: "matcher skips escaped", path: "/%61pi/who", want: jsAnswer{200, nil, "api"}},
		{name: "matcher sees decoded", path: "/%68ealthy", want: jsAnswer{200, nil, "ok"}},
		{name: "no route after next", path: "/nowhere", want: jsAnswer{404, http.Header{"X-Mw": {"ran"}}, "404 page not found\n"}},
		{name: "foreign rewrite", path: "/foreign", want: jsAnswer{500, nil, ""}, log: "rewrite refused"},
		{name: "throws", path: "/throw", want: jsAnswer{500, nil, ""}, log: "boom in middleware"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.String())
			got := jsDo(t, noRedirect, "GET", ts.URL+tt.path, tt.header, nil, keep...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
			}
			if log := logs.String()[before:]; tt.log != "" && (!strings.Contains(log, tt.log) || !strings.Contains(log, "file=middleware.ts")) {
				t.Errorf("GET %s: the log does not name middleware.ts with %q:\n%s", tt.path, tt.log, log)
			}
		})
	}

	// A runaway middleware is stopped at its maxDuration (500, logged),
	// while a route the matcher excludes keeps answering.
	var wg sync.WaitGroup
	var slow jsAnswer
	before := len(logs.String())
	start := time.Now()
	wg.Go(func() { slow = jsDo(t, noRedirect, "GET", ts.URL+"/slow", nil, nil) })
	for time.Since(start) < 200*time.Millisecond {
		if got := jsDo(t, noRedirect, "GET", ts.URL+"/healthy", nil, nil); got.Status != 200 || got.Body != "ok" {
			t.Fatalf("GET /healthy while the middleware runs away: %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	if slow.Status != 500 {
		t.Errorf("GET /slow: status %d, want 500", slow.Status)
	}
	if log := logs.String()[before:]; !strings.Contains(log, "over its time limit") || !strings.Contains(log, "file=middleware.ts") {
		t.Errorf("GET /slow: not logged as over its time limit:\n%s", log)
	}
	if got := jsDo(t, noRedirect, "GET", ts.URL+"/echo/after", nil, nil, "X-Mw"); got.Status != 200 || got.Header.Get("X-Mw") != "ran" {
		t.Errorf("GET /echo/after a runaway middleware: %+v", got)
	}
}

// TestMiddlewareWasm serves a middleware.wasm (testdata/wat/middleware.wat),
// configured by wasmroute.json.
func TestMiddlewareWasm(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"wasmroute.json":           `{"middleware": {"matcher": ["/w/:path*"], "maxDuration": "300ms"}}`,
		"app/echo/[slug]/route.ts": mwEcho,
		"app/w/[c]/route.ts":       mwEcho,
	})
	hostileCopy(t, filepath.Join("..", "testdata", "wat", "middleware.wasm"), filepath.Join(dir, "middleware.wasm"))
	hostileCopy(t, filepath.Join("..", "testdata", "wat", "hello.wasm"), filepath.Join(dir, "app", "hello", "route.wasm"))
	ts, logs := jsServe(t, dir, Config{})
	keep := []string{"X-Wat", "Set-Cookie"}
	tests := []struct {
		name, path string
		want       jsAnswer
		log        string
	}{
		{name: "answer", path: "/w/d", want: jsAnswer{401, nil, "denied by wat"}},
		{name: "rewrite", path: "/w/r", want: jsAnswer{200, http.Header{"X-Wat": {"rewrite"}},
			mwJSON(map[string]any{"path": "/echo/rewritten", "search": "", "params": map[string]string{"slug": "rewritten"}, "user": nil, "drop": "d", "keep": "k"})}},
		{name: "request headers", path: "/w/h", want: jsAnswer{200, http.Header{"Set-Cookie": {"mw=1"}},
			mwJSON(map[string]any{"path": "/w/h", "search": "", "params": map[string]string{"c": "h"}, "user": "wat-user", "drop": nil, "keep": nil})}},
		{name: "next", path: "/w/x", want: jsAnswer{200, http.Header{"X-Wat": {"next"}},
			mwJSON(map[string]any{"path": "/w/x", "search": "", "params": map[string]string{"c": "x"}, "user": nil, "drop": "d", "keep": "k"})}},
		{name: "matcher skips", path: "/hello", want: jsAnswer{200, nil, "hello"}},
		{name: "trap", path: "/w/t", want: jsAnswer{500, nil, ""}, log: "middleware failed"},
		{name: "runaway", path: "/w/l", want: jsAnswer{500, nil, ""}, log: "over its time limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.String())
			got := jsDo(t, noRedirect, "GET", ts.URL+tt.path, http.Header{"X-Keep": {"k"}, "X-Drop": {"d"}}, nil, keep...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
			}
			if log := logs.String()[before:]; tt.log != "" && (!strings.Contains(log, tt.log) || !strings.Contains(log, "file=middleware.wasm")) {
				t.Errorf("GET %s: the log does not name middleware.wasm with %q:\n%s", tt.path, tt.log, log)
			}
			if got := jsDo(t, noRedirect, "GET", ts.URL+"/hello", nil, nil); got.Status != 200 || got.Body != "hello" {
				t.Errorf("GET /hello after GET %s: %+v", tt.path, got)
			}
		})
	}
}

// TestMiddlewareTenants gives each tenant its own middleware.
func TestMiddlewareTenants(t *testing.T) {
	dir := t.TempDir()
	for name, files := range map[string]map[string]string{
		"acme": {"middleware.ts": `export function middleware() { return new Response('acme says no', { status: 403 }) }`,
			"app/x/route.ts": `export const GET = () => new Response('x')`},
		"globex": {"proxy.ts": `import { NextResponse } from 'next/server'
export function proxy() { return NextResponse.next({ headers: { 'x-tenant': 'globex' } }) }`,
			"app/x/route.ts": `export const GET = () => new Response('x')`},
		"initech": {"app/x/route.ts": `export const GET = () => new Response('x')`},
	} {
		if err := os.Rename(jsProject(t, files), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	tn, err := NewTenants(context.Background(), TenantsConfig{
		Dir:     dir,
		Domain:  "example.test",
		Project: Config{Logger: slog.New(slog.NewTextHandler(logs, nil)), CacheDir: hostileCacheDir(), IdleTimeout: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close(context.Background())
	for tenant, want := range map[string]jsAnswer{
		"acme":    {403, nil, "acme says no"},
		"globex":  {200, http.Header{"X-Tenant": {"globex"}}, "x"},
		"initech": {200, nil, "x"},
	} {
		req := httptest.NewRequest("GET", "/x", nil)
		req.Host = tenant + ".example.test"
		rec := httptest.NewRecorder()
		tn.ServeHTTP(rec, req)
		got := jsAnswer{Status: rec.Code, Body: rec.Body.String()}
		if v := rec.Header().Values("X-Tenant"); v != nil {
			got.Header = http.Header{"X-Tenant": v}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tenant %s (-want +got):\n%s\nlog:\n%s", tenant, diff, logs)
		}
	}
}

// TestMiddlewareLoadErrors checks that a middleware the server cannot run
// fails the load with a line naming its file.
func TestMiddlewareLoadErrors(t *testing.T) {
	route := `export const GET = () => new Response('x')`
	type loadCase struct {
		name  string
		files map[string]string
		want  string
	}
	tests := []loadCase{
		{"two files", map[string]string{"middleware.ts": "export function middleware() {}", "proxy.ts": "export function proxy() {}"}, "middleware.ts, proxy.ts: a project has one middleware"},
		{"no function", map[string]string{"middleware.ts": "export const x = 1"}, "middleware.ts: exports no middleware function"},
		{"unbuilt go", map[string]string{"middleware.go": "package main"}, "middleware.go: not built"},
		{"lookahead elsewhere", map[string]string{"middleware.ts": "export function middleware() {}\nexport const config = { matcher: ['/a/:b/((?!c).*)'] }"}, `middleware.ts: config.matcher "/a/:b/((?!c).*)": a negative lookahead`},
		{"lookbehind", map[string]string{"middleware.ts": "export function middleware() {}\nexport const config = { matcher: '/((?<=a).*)' }"}, "no lookaround"},
		{"matcher not literal", map[string]string{"middleware.ts": "const m = '/a'\nexport function middleware() {}\nexport const config = { matcher: [m] }"}, "config must be a literal"},
		{"matcher twice", map[string]string{"middleware.ts": "export function middleware() {}\nexport const config = { matcher: '/a' }", "wasmroute.json": `{"middleware": {"matcher": "/b"}}`}, "keep one"},
		{"no file", map[string]string{"wasmroute.json": `{"middleware": {"maxDuration": "1s"}}`}, "the project has no middleware file"},
		{"in route.json", map[string]string{"app/x/route.json": `{"middleware": {}}`}, "middleware belongs in the project's wasmroute.json"},
		{"bad wasm", map[string]string{"middleware.wasm": "\x00asm\x01\x00\x00\x00"}, "middleware.wasm: must export a function middleware"},
	}
	outside := filepath.Join(t.TempDir(), "middleware.ts")
	if err := os.WriteFile(outside, []byte("export function middleware() {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests = append(tests,
		loadCase{"symlink out", map[string]string{}, "middleware.ts: cannot read"}, // created below
		loadCase{"folder", map[string]string{"proxy.ts/x": ""}, "proxy.ts: is not a file"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["app/x/route.ts"] = route
			dir := jsProject(t, tt.files)
			if tt.name == "symlink out" {
				if err := os.Symlink(outside, filepath.Join(dir, "middleware.ts")); err != nil {
					t.Fatal(err)
				}
			}
			_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: hostileCacheDir()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestMatcher checks the translation of Next.js matchers.
func TestMatcher(t *testing.T) {
	tests := []struct {
		source  string
		match   []string
		noMatch []string
	}{
		{source: "/about", match: []string{"/about", "/About"}, noMatch: []string{"/about/x", "/aboutx", "/"}},
		{source: "/about/:path*", match: []string{"/about", "/about/a", "/about/a/b"}, noMatch: []string{"/aboutx", "/x/about"}},
		{source: "/about/:path+", match: []string{"/about/a", "/about/a/b"}, noMatch: []string{"/about"}},
		{source: "/blog/:slug", match: []string{"/blog/a"}, noMatch: []string{"/blog", "/blog/a/b"}},
		{source: "/:locale?/shop", match: []string{"/shop", "/fr/shop"}, noMatch: []string{"/a/b/shop"}},
		{source: "/id/:n(\\d+)", match: []string{"/id/12"}, noMatch: []string{"/id/x"}},
		{source: "/((?!api|_next/static|favicon.ico).*)", match: []string{"/", "/a", "/ap", "/x/api"}, noMatch: []string{"/api", "/api/x", "/apiary", "/_next/static/a.js", "/favicon.ico"}},
		{ // Clerk's: a word lookahead ending an alternative inside the leading one
			source:  `/((?!_next|[^?]*\.(?:html?|css|js(?!on)|jpe?g|png|woff2?|ico)).*)`,
			match:   []string{"/", "/dashboard", "/api/data.json", "/x.jsonp", "/a.j"},
			noMatch: []string{"/_next/static/x", "/a.js", "/b/c.css", "/x.JS", "/f.woff2", "/a.jsx", "/a.js/b", "/a.js/b/c.jso"}},
		{source: "/(.*)", match: []string{"/", "/a/b"}},
		{source: "/(api|trpc)(.*)", match: []string{"/api", "/api/x", "/trpc/y", "/apix"}, noMatch: []string{"/", "/x/api"}},
		{source: "/files/:name.json", match: []string{"/files/a.json"}, noMatch: []string{"/files/a.txt"}},
	}
	for _, tt := range tests {
		re, not, err := pathRegexp(tt.source)
		if err != nil {
			t.Errorf("%s: %v", tt.source, err)
			continue
		}
		mw := &middleware{}
		m, _, err := compileMatcher(jsbuild.Matcher{Source: tt.source})
		if err != nil {
			t.Errorf("%s (%s, not %s): %v", tt.source, re, not, err)
			continue
		}
		mw.matchers = []matcher{m}
		var got, want []string
		for _, p := range append(tt.match, tt.noMatch...) {
			if mw.matches(httptest.NewRequest("GET", p, nil), p) {
				got = append(got, p)
			}
		}
		want = tt.match
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (%s, not %q) matches (-want +got):\n%s", tt.source, re, not, diff)
		}
	}
}

// TestMatcherRefused checks that a lookahead the translation cannot keep
// exact is refused, not approximated.
func TestMatcherRefused(t *testing.T) {
	for _, source := range []string{
		"/((?!a(?!b)c).*)",       // not at the end of its alternative
		"/((?!(?:js(?!on))+).*)", // under a quantifier
		"/x/:a/((?!b).*)",        // not the first param
		"/((?!a).*)?",            // a modifier
		"/(?=a).*",               // a lookahead outside a param
	} {
		if _, _, err := compileMatcher(jsbuild.Matcher{Source: source}); err == nil {
			t.Errorf("%s: compiled, want an error", source)
		}
	}
}

// TestMatcherConditions checks has and missing.
func TestMatcherConditions(t *testing.T) {
	m, _, err := compileMatcher(jsbuild.Matcher{
		Source:  "/api/:path*",
		Has:     []jsbuild.Condition{{Type: "header", Key: "authorization"}, {Type: "query", Key: "v", Value: "[0-9]+"}},
		Missing: []jsbuild.Condition{{Type: "cookie", Key: "session", Value: "ok"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mw := &middleware{matchers: []matcher{m}}
	tests := []struct {
		target string
		header http.Header
		want   bool
	}{
		{"/api/x?v=1", http.Header{"Authorization": {"a"}}, true},
		{"/api/x?v=1", nil, false},
		{"/api/x?v=a1", http.Header{"Authorization": {"a"}}, false}, // the value matches whole
		{"/api/x", http.Header{"Authorization": {"a"}}, false},
		{"/api/x?v=1", http.Header{"Authorization": {"a"}, "Cookie": {"session=ok"}}, false},
		{"/api/x?v=1", http.Header{"Authorization": {"a"}, "Cookie": {"session=no"}}, true},
		{"/other?v=1", http.Header{"Authorization": {"a"}}, false},
	}
	hosted, _, err := compileMatcher(jsbuild.Matcher{Source: "/(.*)", Has: []jsbuild.Condition{{Type: "host", Value: `app\.example\.com`}}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"app.example.com:8080": true, "app.example.com": true, "www.example.com": false} {
		r := httptest.NewRequest("GET", "/x", nil)
		r.Host = host
		if got := (&middleware{matchers: []matcher{hosted}}).matches(r, "/x"); got != want {
			t.Errorf("host %s: matches = %v, want %v", host, got, want)
		}
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		r.Header = tt.header
		if r.Header == nil {
			r.Header = http.Header{}
		}
		if got := mw.matches(r, r.URL.EscapedPath()); got != tt.want {
			t.Errorf("%s %v: matches = %v, want %v", tt.target, tt.header, got, tt.want)
		}
	}
}
