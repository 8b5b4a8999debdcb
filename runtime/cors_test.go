package runtime

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corsHeaders are the response headers the CORS tests compare.
var corsHeaders = []string{"Allow", "Vary",
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Expose-Headers"}

// corsProject is a project whose wasmroute.json allows two origins with
// credentials, beside routes with their own cors blocks.
var corsProject = map[string]string{
	"wasmroute.json": `{"cors": {"origins": ["http://allowed.test", "HTTPS://App.Example:8443"], "methods": ["GET", "POST", "PUT"],
		"headers": ["X-Custom", "Content-Type"], "exposeHeaders": ["X-Total"], "credentials": true, "maxAge": "10m"}}`,
	"app/items/route.ts": `
export function GET() { return new Response('items', { headers: { 'x-total': '3', 'x-hidden': 'h' } }) }
export async function PUT(request: Request) {
  console.log('PUT ran')
  return new Response('put ' + await request.text() + ' cookie=' + request.headers.get('cookie'))
}
export function DELETE() { return new Response('deleted') }
`,
	"app/vary/route.ts":      `export function GET() { return new Response('v', { headers: { vary: 'Accept-Encoding' } }) }`,
	"app/own/route.ts":       `export function GET() { return new Response('own', { headers: { 'access-control-allow-origin': 'https://own.example' } }) }`,
	"app/fail/route.ts":      `export function GET() { throw new Error('failing on purpose') }`,
	"app/opts/route.ts":      "export function GET() { return new Response('g') }\nexport function OPTIONS() { return new Response('guest options') }",
	"app/health/route.ts":    `export function GET() { return new Response('ok') }`,
	"app/open/route.ts":      "export function GET() { return new Response('open') }\nexport function PUT() { return new Response('open put') }",
	"app/open/route.json":    `{"cors": {"origins": ["*"], "headers": ["*"], "exposeHeaders": ["*"]}}`,
	"app/off/route.ts":       `export function GET() { return new Response('off') }`,
	"app/off/route.json":     `{"cors": {"origins": []}}`,
	"app/putonly/route.ts":   "export function GET() { return new Response('g') }\nexport function PUT() { return new Response('p') }\nexport function DELETE() { return new Response('d') }",
	"app/putonly/route.json": `{"cors": {"origins": ["http://allowed.test"], "methods": ["PUT"], "headers": ["x-custom"]}}`,
	"app/slow/route.ts":      "export async function GET() { await new Promise((r) => setTimeout(r, 10_000)); return new Response('late') }",
	"app/slow/route.json":    `{"maxDuration": "200ms"}`,
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
}

// TestCORS sends simple requests, preflights and plain OPTIONS to routes
// with and without CORS over loopback, from allowed and other origins.
func TestCORS(t *testing.T) {
	ts, _ := jsServe(t, jsProject(t, corsProject), Config{})
	const allowed = "http://allowed.test"
	preflight := func(origin, method, headers string) http.Header {
		h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}}
		if headers != "" {
			h.Set("Access-Control-Request-Headers", headers)
		}
		return h
	}
	from := func(origin string) http.Header { return http.Header{"Origin": {origin}} }
	h := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	// What a response to an allowed origin of the project's block carries.
	allowedHeaders := func(origin string, more ...string) http.Header {
		return h(append([]string{"Vary", "Origin", "Access-Control-Allow-Origin", origin, "Access-Control-Allow-Credentials", "true",
			"Access-Control-Expose-Headers", "X-Total"}, more...)...)
	}
	const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	allowedPreflight := h("Allow", "DELETE, GET, HEAD, OPTIONS, PUT", "Vary", preflightVary,
		"Access-Control-Allow-Origin", allowed, "Access-Control-Allow-Credentials", "true",
		"Access-Control-Allow-Methods", "GET, HEAD, PUT", "Access-Control-Allow-Headers", "x-custom, content-type", "Access-Control-Max-Age", "600")
	deniedPreflight := h("Allow", "DELETE, GET, HEAD, OPTIONS, PUT", "Vary", preflightVary)
	for _, tt := range []struct {
		name   string
		method string
		path   string
		header http.Header
		want   jsAnswer
	}{
		{"simple, allowed origin", "GET", "/items", from(allowed), jsAnswer{200, allowedHeaders(allowed), "items"}},
		{"simple, the other allowed origin, as the browser sends it", "GET", "/items", from("https://app.example:8443"),
			jsAnswer{200, allowedHeaders("https://app.example:8443"), "items"}},
		{"simple, no Origin: Vary only", "GET", "/items", nil, jsAnswer{200, h("Vary", "Origin"), "items"}},
		{"simple, other origin: Vary only", "GET", "/items", from("http://evil.test"), jsAnswer{200, h("Vary", "Origin"), "items"}},
		{"simple, origin in another case: not the same", "GET", "/items", from("HTTP://ALLOWED.TEST"), jsAnswer{200, h("Vary", "Origin"), "items"}},
		{"simple, origin with a slash: not the same", "GET", "/items", from(allowed + "/"), jsAnswer{200, h("Vary", "Origin"), "items"}},
		{"simple, two Origins: not a browser's", "GET", "/items", http.Header{"Origin": {allowed, allowed}}, jsAnswer{200, h("Vary", "Origin"), "items"}},
		{"HEAD, allowed origin", "HEAD", "/items", from(allowed), jsAnswer{200, allowedHeaders(allowed), ""}},
		{"PUT, allowed origin", "PUT", "/items", from(allowed), jsAnswer{200, allowedHeaders(allowed), "put  cookie=null"}},

		{"preflight, allowed", "OPTIONS", "/items", preflight(allowed, "PUT", "x-custom,content-type"), jsAnswer{204, allowedPreflight, ""}},
		{"preflight, header names in any case", "OPTIONS", "/items", preflight(allowed, "PUT", "X-Custom, CONTENT-TYPE"), jsAnswer{204, allowedPreflight, ""}},
		{"preflight, no headers asked", "OPTIONS", "/items", preflight(allowed, "GET", ""), jsAnswer{204, allowedPreflight, ""}},
		{"preflight, other origin", "OPTIONS", "/items", preflight("http://evil.test", "PUT", "x-custom"), jsAnswer{204, deniedPreflight, ""}},
		{"preflight, method served but not listed", "OPTIONS", "/items", preflight(allowed, "DELETE", ""), jsAnswer{204, deniedPreflight, ""}},
		{"preflight, method listed but not served", "OPTIONS", "/items", preflight(allowed, "POST", ""), jsAnswer{204, deniedPreflight, ""}},
		{"preflight, method in lowercase", "OPTIONS", "/items", preflight(allowed, "put", ""), jsAnswer{204, deniedPreflight, ""}},
		{"preflight, header not listed", "OPTIONS", "/items", preflight(allowed, "PUT", "x-custom,x-other"), jsAnswer{204, deniedPreflight, ""}},
		{"preflight, as many headers as allowed", "OPTIONS", "/items", preflight(allowed, "PUT", strings.Repeat("x-custom,", maxCORSRequestHeaders-1)+"x-custom"), jsAnswer{204, allowedPreflight, ""}},
		{"preflight, too many headers", "OPTIONS", "/items", preflight(allowed, "PUT", strings.Repeat("x-custom,", maxCORSRequestHeaders+1)), jsAnswer{204, deniedPreflight, ""}},
		{"OPTIONS with Origin, no Access-Control-Request-Method: plain", "OPTIONS", "/items", from(allowed),
			jsAnswer{204, allowedHeaders(allowed, "Allow", "DELETE, GET, HEAD, OPTIONS, PUT"), ""}},
		{"OPTIONS with Access-Control-Request-Method, no Origin: plain", "OPTIONS", "/items", http.Header{"Access-Control-Request-Method": {"PUT"}},
			jsAnswer{204, h("Allow", "DELETE, GET, HEAD, OPTIONS, PUT", "Vary", "Origin"), ""}},

		{"405 carries CORS", "PATCH", "/items", from(allowed), jsAnswer{405, allowedHeaders(allowed, "Allow", "DELETE, GET, HEAD, OPTIONS, PUT"), ""}},
		{"500 carries CORS", "GET", "/fail", from(allowed), jsAnswer{500, allowedHeaders(allowed), ""}},
		{"504 carries CORS (a route.json without cors keeps the project's)", "GET", "/slow", from(allowed), jsAnswer{504, allowedHeaders(allowed), ""}},
		{"404 has no route, no CORS", "GET", "/nowhere", from(allowed), jsAnswer{404, nil, "404 page not found\n"}},
		{"the guest's Vary is kept", "GET", "/vary", from(allowed), jsAnswer{200, h("Vary", "Accept-Encoding", "Vary", "Origin", "Access-Control-Allow-Origin", allowed,
			"Access-Control-Allow-Credentials", "true", "Access-Control-Expose-Headers", "X-Total"), "v"}},
		{"the guest's own Access-Control-Allow-Origin stands alone", "GET", "/own", from(allowed),
			jsAnswer{200, h("Access-Control-Allow-Origin", "https://own.example", "Vary", "Origin"), "own"}},
		{"a guest's OPTIONS serves plain OPTIONS", "OPTIONS", "/opts", from(allowed), jsAnswer{200, allowedHeaders(allowed), "guest options"}},
		{"a guest's OPTIONS does not answer preflights", "OPTIONS", "/opts", preflight(allowed, "GET", ""),
			jsAnswer{204, h("Allow", "GET, HEAD, OPTIONS", "Vary", preflightVary, "Access-Control-Allow-Origin", allowed, "Access-Control-Allow-Credentials", "true",
				"Access-Control-Allow-Methods", "GET, HEAD", "Access-Control-Max-Age", "600", "Access-Control-Allow-Headers", "x-custom, content-type"), ""}},

		{"a route's block replaces its project's; GET, HEAD, POST need no listing", "OPTIONS", "/putonly", preflight(allowed, "GET", "x-custom"),
			jsAnswer{204, h("Allow", "DELETE, GET, HEAD, OPTIONS, PUT", "Vary", preflightVary, "Access-Control-Allow-Origin", allowed,
				"Access-Control-Allow-Methods", "GET, HEAD, PUT", "Access-Control-Allow-Headers", "x-custom"), ""}},
		{"a route's block: a method not listed", "OPTIONS", "/putonly", preflight(allowed, "DELETE", "x-custom"),
			jsAnswer{204, h("Allow", "DELETE, GET, HEAD, OPTIONS, PUT", "Vary", preflightVary), ""}},
		{"a route's block: simple", "GET", "/putonly", from(allowed), jsAnswer{200, h("Vary", "Origin", "Access-Control-Allow-Origin", allowed), "g"}},
		{"every origin, simple", "GET", "/open", from("http://evil.test"), jsAnswer{200, h("Access-Control-Allow-Origin", "*", "Access-Control-Expose-Headers", "*"), "open"}},
		{"every origin, no Origin: nothing", "GET", "/open", nil, jsAnswer{200, nil, "open"}},
		{"every origin, preflight, any header", "OPTIONS", "/open", preflight("http://evil.test", "PUT", "x-anything,x-more"),
			jsAnswer{204, h("Allow", "GET, HEAD, OPTIONS, PUT", "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers",
				"Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS, PUT", "Access-Control-Allow-Headers", "*"), ""}},
		{"every origin, preflight, Authorization is not in *", "OPTIONS", "/open", preflight("http://evil.test", "PUT", "authorization"),
			jsAnswer{204, h("Allow", "GET, HEAD, OPTIONS, PUT", "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers"), ""}},
		{"origins [] turns the project's off", "GET", "/off", from(allowed), jsAnswer{200, nil, "off"}},
		{"origins [] turns preflights off", "OPTIONS", "/off", preflight(allowed, "GET", ""), jsAnswer{204, h("Allow", "GET, HEAD, OPTIONS"), ""}},

		{"a healthy route still answers", "GET", "/health", from(allowed), jsAnswer{200, allowedHeaders(allowed), "ok"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := jsDo(t, noRedirect, tt.method, ts.URL+tt.path, tt.header, nil, corsHeaders...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.path, diff)
			}
		})
	}

	// A streamed response gets its headers with its first flush.
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		if h2 {
			tr.Protocols.SetUnencryptedHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		got := jsDo(t, &http.Client{Transport: tr}, "GET", ts.URL+"/stream", from(allowed), nil, corsHeaders...)
		if diff := cmp.Diff(jsAnswer{200, allowedHeaders(allowed), "data: 0\n\ndata: 1\n\ndata: 2\n\n"}, got); diff != "" {
			t.Errorf("h2=%v: GET /stream (-want +got):\n%s", h2, diff)
		}
		tr.CloseIdleConnections()
	}
}

// TestCORSConfig checks cors blocks: what is refused, with the file named,
// and how origins are read.
func TestCORSConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cors string
		want string // error; "" for none
	}{
		{"every origin", `{"origins": ["*"]}`, ""},
		{"full", `{"origins": ["https://a.example"], "methods": ["GET", "PATCH"], "headers": ["*", "Authorization"], "exposeHeaders": ["*"], "maxAge": "24h"}`, ""},
		{"no origins", `{"origins": []}`, ""},
		{"* with credentials", `{"origins": ["*"], "credentials": true}`,
			`app/x/route.json:1:2: cors: origins "*" with credentials: a browser refuses a credentialed answer that allows every origin: list the origins`},
		{"* beside origins", `{"origins": ["*", "https://a.example"]}`, `app/x/route.json:1:2: cors: origins: "*" allows every origin: list it alone`},
		{"headers * with credentials", `{"origins": ["https://a.example"], "headers": ["*"], "credentials": true}`, `cors: headers: "*" with credentials`},
		{"exposeHeaders * with credentials", `{"origins": ["https://a.example"], "exposeHeaders": ["*"], "credentials": true}`, `cors: exposeHeaders: "*" with credentials`},
		{"a path", `{"origins": ["https://a.example/"]}`, `cors: origins: "https://a.example/": an origin has no user, path, query or fragment: write "https://a.example"`},
		{"a query", `{"origins": ["https://a.example?x"]}`, `write "https://a.example"`},
		{"a user", `{"origins": ["https://u@a.example"]}`, `write "https://a.example"`},
		{"no scheme", `{"origins": ["a.example"]}`, `cors: origins: "a.example": want scheme://host[:port]`},
		{"null", `{"origins": ["null"]}`, `"null" is the origin of sandboxed and local documents`},
		{"a wildcard", `{"origins": ["https://*.a.example"]}`, `origins are compared exactly, without wildcards`},
		{"not ASCII", `{"origins": ["https://bücher.example"]}`, `in ASCII (punycode`},
		{"port 0", `{"origins": ["https://a.example:0"]}`, `port 0 is outside 1..65535`},
		{"port too big", `{"origins": ["https://a.example:65536"]}`, `port 65536 is outside 1..65535`},
		{"method in lowercase", `{"origins": ["*"], "methods": ["put"]}`, `cors: methods: "put" is not one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT (case matters)`},
		{"method *", `{"origins": ["*"], "methods": ["*"]}`, `methods: "*" is not one of`},
		{"header not a token", `{"origins": ["*"], "headers": ["x custom"]}`, `cors: headers: "x custom" is not a header name`},
		{"expose not a token", `{"origins": ["*"], "exposeHeaders": ["x:y"]}`, `cors: exposeHeaders: "x:y" is not a header name`},
		{"maxAge over a day", `{"origins": ["*"], "maxAge": "25h"}`, `cors: maxAge 25h0m0s is outside 0s..24h0m0s`},
		{"maxAge negative", `{"origins": ["*"], "maxAge": "-1s"}`, `cors: maxAge -1s is outside`},
		{"unknown key", `{"origin": ["*"]}`, `app/x/route.json:1:2: cors: unknown field "origin"`},
		{"too many origins", `{"origins": [` + strings.Repeat(`"https://a.example",`, maxCORSList) + `"https://a.example"]}`,
			`cors: origins: 129 entries, more than 128`},
		{"too long", `{"origins": ["https://` + strings.Repeat("a", maxCORSEntry) + `.example"]}`, `cors: origins: an entry of 528 bytes, more than 512`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig([]byte(`{"cors": `+tt.cors+`}`), "app/x/route.json", true)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("parseConfig: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("parseConfig: %v, want an error with %q", err, tt.want)
			}
		})
	}

	// Origins are kept as browsers send them.
	c, err := parseConfig([]byte(`{"cors": {"origins": ["HTTPS://App.Example:443", "http://127.0.0.1:80", "http://[::1]:8080", "http://a.example:8080", "chrome-extension://abcdef"]}}`), "wasmroute.json", false)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for o := range c.CORS.policy.origins {
			if !yield(o) {
				return
			}
		}
	})
	want := []string{"chrome-extension://abcdef", "http://127.0.0.1", "http://[::1]:8080", "http://a.example:8080", "https://app.example"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}

	// New reports a bad block with its file; a grants file has none.
	dir := jsProject(t, map[string]string{
		"wasmroute.json":   `{"cors": {"origins": ["*"], "credentials": true}}`,
		"app/x/route.ts":   `export function GET() { return new Response('x') }`,
		"app/y/route.ts":   `export function GET() { return new Response('y') }`,
		"app/y/route.json": `{"cors": {"origins": ["https://a.example/"]}}`,
		"grants.json":      `{"acme": {"cors": {"origins": ["*"]}}}`,
	})
	_, err = New(context.Background(), Config{Dir: dir, LazyCompile: true})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	for _, w := range []string{`wasmroute.json:1:2: cors: origins "*" with credentials`, `app/y/route.json:1:2: cors: origins: "https://a.example/"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("load errors lack %q:\n%v", w, err)
		}
	}
	_, err = ReadGrants(filepath.Join(dir, "grants.json"))
	if err == nil || !strings.Contains(err.Error(), `tenant "acme": cors: a tenant sets its own, in its wasmroute.json`) {
		t.Errorf("ReadGrants: %v, want cors refused", err)
	}
}

// BenchmarkCORS measures what CORS adds to a request of the hand-written
// WAT guest testdata/wat/hello.wat, in process, beside the same route
// without a cors block and a native handler.
func BenchmarkCORS(b *testing.B) {
	dir := project(b, map[string]string{"plain": "hello", "cors": "hello"})
	if err := os.WriteFile(filepath.Join(dir, "app", "cors", "route.json"),
		[]byte(`{"cors": {"origins": ["https://app.example"], "headers": ["x-custom"], "credentials": true, "maxAge": "1h"}}`), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello"))
	})
	origin := http.Header{"Origin": {"https://app.example"}}
	for _, bc := range []struct {
		name   string
		h      http.Handler
		method string
		path   string
		header http.Header
		status int
	}{
		{"native", native, "GET", "/plain", nil, 200},
		{"no-cors", s, "GET", "/plain", origin, 200},
		{"cors/no-origin", s, "GET", "/cors", nil, 200},
		{"cors/allowed", s, "GET", "/cors", origin, 200},
		{"cors/preflight", s, "OPTIONS", "/cors", http.Header{"Origin": {"https://app.example"},
			"Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"x-custom"}}, 204},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(bc.method, bc.path, nil)
			req.Header = bc.header
			rec := httptest.NewRecorder()
			bc.h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
			if rec.Code != bc.status {
				b.Fatalf("%s %s = %d, want %d", bc.method, bc.path, rec.Code, bc.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// FuzzCORSConfig feeds cors blocks and preflights: no panic, an origin kept
// reads back as itself, and an origin allowed by a preflight is a listed one.
func FuzzCORSConfig(f *testing.F) {
	f.Add(`{"origins": ["HTTPS://App.Example:443"], "headers": ["X-Custom"], "credentials": true}`, "https://app.example", "PUT", "x-custom, X-Other,,")
	f.Add(`{"origins": ["*"], "headers": ["*"], "methods": ["PUT"], "maxAge": "1h"}`, "null", "PUT", "authorization")
	f.Add(`{"origins": ["http://[::1]:8080", "a://b"]}`, "http://[::1]:8080", "GET", "")
	f.Fuzz(func(t *testing.T, block, origin, method, requestHeaders string) {
		c, err := parseConfig([]byte(`{"cors": `+block+`}`), "wasmroute.json", false)
		if err != nil || c.CORS == nil || c.CORS.policy == nil {
			return
		}
		for o := range c.CORS.policy.origins {
			if again, err := parseOrigin(o); err != nil || again != o {
				t.Errorf("origin %q reads back as %q, %v", o, again, err)
			}
		}
		p := c.CORS.forRoute(methodSet{std: 1<<methodGET | 1<<methodIndex["PUT"]})
		r := httptest.NewRequest("OPTIONS", "/", nil)
		r.Header = http.Header{"Origin": {origin}, "Access-Control-Request-Method": {method}, "Access-Control-Request-Headers": {requestHeaders}}
		w := httptest.NewRecorder()
		if p.handle(w, r) != nil {
			t.Fatal("a preflight was not answered")
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" && got != "*" && p.origins[origin] == nil {
			t.Errorf("preflight from %q allowed as %q", origin, got)
		}
	})
}
