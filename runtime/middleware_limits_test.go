package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/jsbuild"
)

// mwHostile is the review's matcher: one 3,996-byte pattern that took
// +300 MB and a second to compile, then 1.4 s to match a 301-byte path,
// and made one GET take 1m24s behind a server.
var mwHostile = "/(" + strings.Repeat(".{0,999}", 499) + ")"

// TestMatcherBudget checks that a matcher's regular expressions are
// bounded at load, a hostile one refused before it is built, while the
// matchers real projects use compile.
func TestMatcherBudget(t *testing.T) {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	start := time.Now()
	_, problems := compileMatchers([]jsbuild.Matcher{{Source: mwHostile}})
	took := time.Since(start)
	goruntime.ReadMemStats(&ms)
	if alloc := ms.TotalAlloc - before; took > 100*time.Millisecond || alloc > 8<<20 {
		t.Errorf("refusing the review's matcher took %v and allocated %d KiB, want < 100ms and < 8 MiB", took, alloc>>10)
	}
	if len(problems) != 1 || !strings.Contains(problems[0].msg, "more than 1000 instructions") {
		t.Errorf("the review's matcher: %v, want one problem naming the limit of 1000 instructions", problems)
	}

	// What real projects use: Next.js's documented matchers, Clerk's,
	// next-intl's, all in one list.
	real := []jsbuild.Matcher{
		{Source: "/((?!api|_next/static|_next/image|favicon.ico|sitemap.xml|robots.txt).*)"},
		{Source: `/((?!_next|[^?]*\.(?:html?|css|js(?!on)|jpe?g|webp|png|gif|svg|ttf|woff2?|ico|csv|docx?|xlsx?|zip|webmanifest)).*)`},
		{Source: "/(api|trpc)(.*)"},
		{Source: `/((?!api|trpc|_next|_vercel|.*\..*).*)`},
		{Source: "/((?!api|_next/static|_next/image|favicon.ico).*)", Missing: []jsbuild.Condition{
			{Type: "header", Key: "next-router-prefetch"}, {Type: "header", Key: "purpose", Value: "prefetch"}}},
		{Source: "/:locale(en|fr|de)/shop/:path*", Has: []jsbuild.Condition{{Type: "cookie", Key: "session", Value: "[a-f0-9]{32}"}}},
	}
	for i := range 40 {
		real = append(real, jsbuild.Matcher{Source: fmt.Sprintf("/section%d/:path*", i)})
	}
	if _, problems := compileMatchers(real); problems != nil {
		t.Errorf("real matchers refused: %v", problems)
	}

	// Under the limit each, over it together.
	big := "/(" + strings.Repeat("(?:.*a)?", 175) + ")"
	_, n, err := compileMatcher(jsbuild.Matcher{Source: big})
	if err != nil || n <= maxMatcherInsts/3 || n > maxRegexpInsts {
		t.Fatalf("%s: %d instructions, %v: want within (%d, %d]", big, n, err, maxMatcherInsts/3, maxRegexpInsts)
	}
	many := make([]jsbuild.Matcher, maxMatchers+1)
	for i := range many {
		many[i].Source = "/a"
	}
	var conditions []jsbuild.Condition
	for i := range maxConditions + 1 {
		conditions = append(conditions, jsbuild.Condition{Type: "header", Key: fmt.Sprint("x-", i)})
	}
	for _, tt := range []struct {
		name string
		ms   []jsbuild.Matcher
		want matcherProblem
	}{
		{"together", []jsbuild.Matcher{{Source: big}, {Source: "/b"}, {Source: big}, {Source: big}},
			matcherProblem{3, "more than 2000 instructions in all"}},
		{"nested repetition", []jsbuild.Matcher{{Source: "/x/:a((?:b{0,100}){0,9})"}}, matcherProblem{0, "more than 1000 instructions"}},
		{"long literal", []jsbuild.Matcher{{Source: "/" + strings.Repeat("a", 1200)}}, matcherProblem{0, "more than 1000 instructions"}},
		{"has value", []jsbuild.Matcher{{Source: "/a"}, {Source: "/b", Has: []jsbuild.Condition{{Type: "header", Key: "x-k", Value: "(?:a{0,50}){0,20}"}}}},
			matcherProblem{1, `header "x-k": compiles to more than 1000 instructions`}},
		{"entries", many, matcherProblem{-1, "257 entries, more than 256"}},
		{"conditions", []jsbuild.Matcher{{Source: "/a", Has: conditions}}, matcherProblem{0, "more than 256 has and missing entries"}},
	} {
		_, problems := compileMatchers(tt.ms)
		if len(problems) != 1 || problems[0].entry != tt.want.entry || !strings.Contains(problems[0].msg, tt.want.msg) {
			t.Errorf("%s: %v, want one problem at entry %d with %q", tt.name, problems, tt.want.entry, tt.want.msg)
		}
	}
}

// TestMiddlewareMatcherRefused loads the review's matcher behind a server:
// the load fails at once, naming the file, the matcher and the limit.
func TestMiddlewareMatcherRefused(t *testing.T) {
	conf, _ := json.Marshal(mwHostile)
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"wasmroute.json", map[string]string{"wasmroute.json": "{\n  \"middleware\": {\n    \"matcher\": [\"/ok\", " + string(conf) + "]\n  }\n}\n"},
			`wasmroute.json:3:24: middleware: matcher "/(.{0,999}.{0,999}`},
		{"middleware.ts", map[string]string{"middleware.ts": "export function middleware() {}\nexport const config = { matcher: " + string(conf) + " }\n"},
			`middleware.ts: config.matcher "/(.{0,999}.{0,999}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := jsProject(t, tt.files)
			hostileCopy(t, filepath.Join("..", "testdata", "wat", "hello.wasm"), filepath.Join(dir, "app", "hello", "route.wasm"))
			if tt.name == "wasmroute.json" {
				hostileCopy(t, filepath.Join("..", "testdata", "wat", "middleware.wasm"), filepath.Join(dir, "middleware.wasm"))
			}
			_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: hostileCacheDir()})
			var load *LoadError
			if !errors.As(err, &load) || len(load.Problems) != 1 || !strings.HasPrefix(load.Problems[0], tt.want) ||
				!strings.Contains(load.Problems[0], "more than 1000 instructions") {
				t.Errorf("New: %v\nwant one problem starting %q, naming the limit of 1000 instructions", err, tt.want)
			}
		})
	}
}

// TestMiddlewareLongPath checks that, with a matcher, a path longer than a
// matcher runs on is refused with 414 before any matching, while the
// heaviest matcher the budget admits matches a path just within the
// limit in bounded time and a healthy route keeps answering.
func TestMiddlewareLongPath(t *testing.T) {
	heavy := "/w/((?:.*a)?" + strings.Repeat("(?:.*a)?", 240) + ")"
	if _, n, err := compileMatcher(jsbuild.Matcher{Source: heavy}); err != nil || n < maxRegexpInsts*9/10 {
		t.Fatalf("%s: %d instructions, %v: want just under %d", heavy, n, err, maxRegexpInsts)
	}
	conf, _ := json.Marshal(map[string]any{"middleware": map[string]any{"matcher": []string{heavy, heavy}}})
	dir := jsProject(t, map[string]string{"wasmroute.json": string(conf), "app/w/[c]/route.ts": mwEcho})
	hostileCopy(t, filepath.Join("..", "testdata", "wat", "middleware.wasm"), filepath.Join(dir, "middleware.wasm"))
	hostileCopy(t, filepath.Join("..", "testdata", "wat", "hello.wasm"), filepath.Join(dir, "app", "hello", "route.wasm"))
	ts, _ := jsServe(t, dir, Config{})

	within := "/w/x" + strings.Repeat("a", maxMatchInput-len("/w/x")) // matches heavy
	over := within + "a"
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := jsDo(t, noRedirect, "GET", ts.URL+over, nil, nil); got.Status != http.StatusRequestURITooLong {
				t.Errorf("GET of a %d-byte path: %d, want 414", len(over), got.Status)
			}
		})
	}
	wg.Go(func() {
		if got := jsDo(t, noRedirect, "GET", ts.URL+"/hello"+strings.Repeat("x", maxMatchInput), nil, nil); got.Status != http.StatusRequestURITooLong {
			t.Errorf("GET of a long path no matcher accepts: %d, want 414", got.Status)
		}
	})
	if got := jsDo(t, noRedirect, "GET", ts.URL+"/hello", nil, nil); got.Status != 200 || got.Body != "hello" {
		t.Errorf("GET /hello beside long paths: %+v", got)
	}
	wg.Wait()
	start := time.Now()
	got := jsDo(t, noRedirect, "GET", ts.URL+within, nil, nil, "X-Wat")
	if took := time.Since(start); got.Status != 200 || got.Header.Get("X-Wat") != "next" || took > 5*time.Second {
		t.Errorf("GET of a %d-byte path the middleware runs for: %d %v in %v, want 200 with X-Wat: next within 5s", len(within), got.Status, got.Header, took)
	}
	if got := jsDo(t, noRedirect, "GET", ts.URL+"/hello", nil, nil); got.Status != 200 || got.Body != "hello" {
		t.Errorf("GET /hello after: %+v", got)
	}
}

// TestMatcherConditionValues checks that a has or missing value is tested
// against one string, as Next.js does, and never against more than a
// matcher runs on.
func TestMatcherConditionValues(t *testing.T) {
	compile := func(c jsbuild.Condition) *middleware {
		m, _, err := compileMatcher(jsbuild.Matcher{Source: "/(.*)", Has: []jsbuild.Condition{c}})
		if err != nil {
			t.Fatal(err)
		}
		return &middleware{matchers: []matcher{m}}
	}
	long := strings.Repeat("a", maxMatchInput+1)
	tests := []struct {
		name   string
		cond   jsbuild.Condition
		target string
		header http.Header
		want   bool
	}{
		{"header joined", jsbuild.Condition{Type: "header", Key: "x-k", Value: "a, b"}, "/", http.Header{"X-K": {"a", "b"}}, true},
		{"header one of", jsbuild.Condition{Type: "header", Key: "x-k", Value: "b"}, "/", http.Header{"X-K": {"a", "b"}}, false},
		{"query last", jsbuild.Condition{Type: "query", Key: "v", Value: "[0-9]+"}, "/?v=a&v=1", nil, true},
		{"query not last", jsbuild.Condition{Type: "query", Key: "v", Value: "[0-9]+"}, "/?v=1&v=a", nil, false},
		{"cookie first", jsbuild.Condition{Type: "cookie", Key: "s", Value: "ok"}, "/", http.Header{"Cookie": {"s=ok; s=no"}}, true},
		{"header at the limit", jsbuild.Condition{Type: "header", Key: "x-k", Value: "a+"}, "/", http.Header{"X-K": {long[1:]}}, true},
		{"header over the limit", jsbuild.Condition{Type: "header", Key: "x-k", Value: "a+"}, "/", http.Header{"X-K": {long}}, false},
		{"headers over the limit together", jsbuild.Condition{Type: "header", Key: "x-k", Value: "[a, ]+"}, "/", http.Header{"X-K": {long[:5000], long[:5000]}}, false},
		{"query over the limit", jsbuild.Condition{Type: "query", Key: "v", Value: "a+"}, "/?v=" + long, nil, false},
		{"present, however long", jsbuild.Condition{Type: "header", Key: "x-k"}, "/", http.Header{"X-K": {long}}, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		r.Header = tt.header
		if r.Header == nil {
			r.Header = http.Header{}
		}
		if got := compile(tt.cond).matches(r, "/"); got != tt.want {
			t.Errorf("%s: matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// mwPassHeaders is a middleware as many are written: it guards /admin and
// passes the request's headers on, e.g. for tracing.
const mwPassHeaders = `import { NextResponse } from 'next/server'
export function middleware(request) {
  if (request.nextUrl.pathname.startsWith('/admin')) return new NextResponse('no', { status: 401 })
  return NextResponse.next({ headers: request.headers })
}`

// mwSeen answers with the x- headers the route saw.
const mwSeen = `export function GET(request) {
  const names = [...request.headers.keys()].filter((k) => k.startsWith('x-')).sort()
  return Response.json({ names, user: request.headers.get('x-user') })
}`

// TestMiddlewareInternalHeaders checks that the headers by which Next.js's
// server and its middleware talk are dropped from every request, so a
// client cannot rewrite or set request headers past the middleware.
func TestMiddlewareInternalHeaders(t *testing.T) {
	internal := http.Header{
		"X-Middleware-Rewrite":          {"/admin"},
		"X-Middleware-Next":             {"1"},
		"X-Middleware-Override-Headers": {"x-user"},
		"X-Middleware-Request-X-User":   {"admin"},
		"X-Middleware-Redirect":         {"/admin"},
		"X-Middleware-Set-Cookie":       {"a=1"},
		"X-Middleware-Skip":             {"1"},
		"X-Middleware-Subrequest":       {"middleware:middleware:middleware:middleware:middleware"}, // CVE-2025-29927
		"X-Middleware-Subrequest-Id":    {"1"},
		"X-Matched-Path":                {"/admin"},
		"X-Now-Route-Matches":           {"1"},
	}
	header := http.Header{"X-Middleware-Prefetch": {"1"}, "X-Trace": {"t"}} // what a client may send
	for k, v := range internal {
		header[k] = v
	}
	seen := mwJSON(map[string]any{"names": []string{"x-middleware-prefetch", "x-trace"}, "user": nil})
	for _, tt := range []struct {
		name  string
		files map[string]string
	}{
		{"middleware", map[string]string{"middleware.ts": mwPassHeaders, "app/admin/route.ts": `export const GET = () => new Response('ADMIN SECRET')`}},
		{"none", map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.files["app/public/route.ts"] = mwSeen
			ts, _ := jsServe(t, jsProject(t, tt.files), Config{})
			for _, c := range []struct {
				name string
				h    http.Header
			}{{"all", header}, {"rewrite", http.Header{"X-Middleware-Rewrite": {"/admin"}}},
				{"override", http.Header{"X-Middleware-Override-Headers": {"x-user"}, "X-Middleware-Request-X-User": {"admin"}}}} {
				for _, client := range []struct {
					name string
					c    *http.Client
				}{{"HTTP/1.1", ts.Client()}, {"HTTP/2", h2cClient()}} {
					got := jsDo(t, client.c, "GET", ts.URL+"/public", c.h, nil)
					want := jsAnswer{200, nil, seen}
					if c.name != "all" {
						want.Body = mwJSON(map[string]any{"names": []string{}, "user": nil})
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s: GET /public with %s headers (-want +got):\n%s", client.name, c.name, diff)
					}
				}
			}
			if tt.name == "middleware" {
				if got := jsDo(t, noRedirect, "GET", ts.URL+"/admin", header, nil); got.Status != 401 {
					t.Errorf("GET /admin with the internal headers: %+v, want 401", got)
				}
			}
		})
	}
}

// TestMiddlewareFraming checks that a middleware's headers that frame its
// own answer never frame the route's, and that the route's headers win
// over the middleware's but for the lists that add up, over HTTP/1.1 and
// HTTP/2.
func TestMiddlewareFraming(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"middleware.ts": `import { NextResponse } from 'next/server'
export function middleware(request) {
  if (request.nextUrl.pathname === '/fail') return NextResponse.next({ headers: { 'x-frame-options': 'DENY', 'content-length': '3' } })
  const res = NextResponse.next({ headers: {
    'content-length': '3', 'content-type': 'text/html', connection: 'close, x-hop', 'x-hop': '1', 'keep-alive': 'timeout=1',
    'transfer-encoding': 'chunked', upgrade: 'h2c', 'proxy-authenticate': 'Basic', 'x-frame-options': 'DENY', 'x-both': 'mw', vary: 'Accept-Language',
  } })
  res.cookies.set('mw', '1')
  return res
}`,
		"app/hello/route.ts": `export function GET() {
  const h = new Headers({ 'content-type': 'application/json', 'x-both': 'route', vary: 'Accept, accept-language' })
  h.append('set-cookie', 'r=2')
  return new Response('hello world', { headers: h })
}`,
		"app/fail/route.ts": `export function GET() { throw new Error('route fails') }`,
	})
	ts, _ := jsServe(t, dir, Config{})
	keep := []string{"Content-Type", "X-Both", "X-Frame-Options", "Set-Cookie", "Vary", "Connection", "X-Hop", "Keep-Alive", "Upgrade", "Proxy-Authenticate"}
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"HTTP/1.1", ts.Client()}, {"HTTP/2", h2cClient()}} {
		for _, method := range []string{"GET", "HEAD"} {
			req, err := http.NewRequest(method, ts.URL+"/hello", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := client.c.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", client.name, method, err)
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Errorf("%s %s: reading the body: %v", client.name, method, err)
			}
			got := jsAnswer{Status: res.StatusCode, Body: string(b), Header: http.Header{}}
			for _, k := range keep {
				if v := res.Header.Values(k); v != nil {
					got.Header[k] = v
				}
			}
			want := jsAnswer{200, http.Header{"Content-Type": {"application/json"}, "X-Both": {"route"}, "X-Frame-Options": {"DENY"},
				"Set-Cookie": {"mw=1; Path=/", "r=2"}, "Vary": {"Accept, accept-language"}}, "hello world"}
			if method == "HEAD" {
				want.Body = ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s /hello (-want +got):\n%s", client.name, method, diff)
			}
			if res.ContentLength == 3 || res.Close {
				t.Errorf("%s %s /hello: Content-Length %d, Close %v: framed by the middleware's headers", client.name, method, res.ContentLength, res.Close)
			}
		}
		// The middleware's headers go on the 500 of a failing route too,
		// framed as that answer is.
		if got := jsDo(t, client.c, "GET", ts.URL+"/fail", nil, nil, "X-Frame-Options"); got.Status != 500 || got.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s GET /fail: %+v, want 500 with X-Frame-Options", client.name, got)
		}
	}
	// Vary: the middleware's names the route's Vary lacks are added.
	if got := mergeVary([]string{"Accept"}, []string{"Accept-Language, accept", "*"}); !slices.Equal(got, []string{"Accept", "Accept-Language", "*"}) {
		t.Errorf("mergeVary: %q", got)
	}
}

// TestMiddlewareConfigPositions checks that every problem of
// wasmroute.json's middleware block is reported at once, each at its line
// in wasmroute.json.
func TestMiddlewareConfigPositions(t *testing.T) {
	hostile, _ := json.Marshal(mwHostile)
	for _, tt := range []struct {
		name, conf string
		want       []string
	}{
		{"keys", "{\n  \"maxDuration\": \"1s\",\n  \"middleware\": {\n    \"maxDuraton\": \"1s\",\n    \"maxBody\": -1,\n    \"matcher\": \"nope\"\n  }\n}\n", []string{
			`wasmroute.json:4:5: middleware: unknown key "maxDuraton" (did you mean "maxDuration"?)`,
			`wasmroute.json:5:5: middleware: maxBody: bad size "-1": want bytes, or a number with KiB, MiB or GiB`,
			`wasmroute.json:6:16: middleware: matcher: matcher "nope" must start with /`,
		}},
		{"entries", "{\"middleware\": {\n  \"matcher\": [\n    \"/ok/:path*\",\n    " + string(hostile) + ",\n    {\"source\": \"/x\", \"has\": [{\"type\": \"header\"}]},\n    [\"/nested\"]\n  ],\n  \"matcher\": \"/again\",\n  \"kv\": \"redis://x:1\"\n}}\n", []string{
			`wasmroute.json:4:5: middleware: matcher "/(.{0,999}`,
			`wasmroute.json:5:5: middleware: matcher: matcher "/x": a has or missing entry needs a type`,
			`wasmroute.json:6:5: middleware: matcher: want a string or an object { source, has, missing }`,
			`wasmroute.json:8:3: middleware: matcher: set twice`,
			`wasmroute.json:9:3: middleware: kv belongs in the project's wasmroute.json`,
		}},
		{"not an object", "{\"middleware\":\n  [1]}", []string{`wasmroute.json:2:3: middleware: want a JSON object`}},
		{"cache keys", "{\"middleware\": {\"revalidate\": 10}}", []string{`wasmroute.json: middleware: revalidate and dynamic cache a route's answers`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := jsProject(t, map[string]string{"wasmroute.json": tt.conf, "app/x/route.ts": `export const GET = () => new Response('x')`})
			hostileCopy(t, filepath.Join("..", "testdata", "wat", "middleware.wasm"), filepath.Join(dir, "middleware.wasm"))
			_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: hostileCacheDir()})
			var load *LoadError
			if !errors.As(err, &load) {
				t.Fatalf("New: %v, want a LoadError", err)
			}
			if len(load.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(load.Problems), len(tt.want), err)
			}
			for i, want := range tt.want {
				if i >= len(load.Problems) || !strings.HasPrefix(load.Problems[i], want) {
					t.Errorf("problem %d: want it to start %q; got:\n%s", i, want, err)
				}
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("%d load error(s):", len(tt.want))) {
				t.Errorf("the count does not match the problems:\n%s", err)
			}
		})
	}
}

// BenchmarkStripInternal measures what dropping the internal headers
// costs a request that has none, with a browser's headers.
func BenchmarkStripInternal(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Cookie", "Priority", "Referer",
		"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "User-Agent", "X-Forwarded-For", "X-Request-Id"} {
		r.Header.Set(k, "v")
	}
	for b.Loop() {
		if stripInternal(r) != r {
			b.Fatal("stripped a request without internal headers")
		}
	}
}

// TestMiddlewareRevalidate: revalidatePath works from a middleware as from
// a route.
func TestMiddlewareRevalidate(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"middleware.ts": `import { revalidatePath } from 'next/cache'
export function middleware(request) {
  if (request.nextUrl.pathname === '/purge') {
    revalidatePath('/page')
    return new Response('purged')
  }
}`,
		"app/page/route.ts": "export const revalidate = 3600\nlet n = 0\nexport function GET() { n++; return new Response('run=' + n) }\n",
	})
	ts, _ := jsServe(t, dir, Config{})
	var got []string
	for _, path := range []string{"/page", "/page", "/purge", "/page"} {
		a := jsDo(t, http.DefaultClient, "GET", ts.URL+path, nil, nil, "X-Wasmroute-Cache")
		got = append(got, a.Body+" "+a.Header.Get("X-Wasmroute-Cache"))
	}
	want := []string{"run=1 MISS", "run=1 HIT", "purged ", "run=2 MISS"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
