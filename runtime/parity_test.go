package runtime

// Next.js parity (issue 11): streaming both ways, methods beyond the seven,
// routes without methods, cookies read after they are set, HEAD's
// Content-Length. Each is served behind a real server, over HTTP/1.1 and,
// where it matters, h2c, beside a healthy route.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/build"
)

var (
	parityOnce sync.Once
	parityErr  error
)

// parityProject builds testdata/parity's Go guests once per test binary and
// lays out a project with them (echo, cookie, size), plus the WAT fixtures
// in wat (route folder -> testdata/wat fixture; "healthy" is hello).
func parityProject(t *testing.T, wat map[string]string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "parity")
	guests := []string{"echo", "cookie", "size"}
	parityOnce.Do(func() { parityErr = build.Go(context.Background(), src, guests, nil) })
	if parityErr != nil {
		t.Fatal(parityErr)
	}
	if wat == nil {
		wat = map[string]string{}
	}
	wat["healthy"] = "hello"
	dir := project(t, wat)
	for _, g := range guests {
		bin, err := os.ReadFile(filepath.Join(src, "app", g, "route.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "app", g, "route.wasm"), string(bin))
	}
	return dir
}

// h2cClient speaks HTTP/2 without TLS only.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// echoChunks are what the duplex tests send, one at a time: small, one
// larger than the guest's 32 KiB buffer, and a last one.
var echoChunks = [][]byte{
	[]byte("hello"),
	bytes.Repeat([]byte("0123456789abcdef"), 64),
	bytes.Repeat([]byte("duplex!"), 10_000),
	[]byte("bye"),
}

// TestDuplexEcho holds a conversation with a guest that echoes the request
// body as it reads it: each chunk is sent only once the previous one came
// back, so a server that ends the request body when the response starts
// (HTTP/1.1's default) or buffers either side would hang or cut it short.
// The same conversation with a TypeScript route that pipes request.body
// into its Response.
func TestDuplexEcho(t *testing.T) {
	dir := parityProject(t, nil)
	writeFile(t, filepath.Join(dir, "app", "tsecho", "route.ts"), tsEcho)
	ts, logs := jsServe(t, dir, Config{})
	for _, path := range []string{"/echo", "/tsecho"} {
		t.Run(path, func(t *testing.T) { duplexEcho(t, ts.URL, path) })
	}
	if got := parityGet(t, http.DefaultClient, ts.URL+"/healthy"); got != "hello" {
		t.Errorf("healthy route: %q", got)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

// tsEcho streams the request body back, chunk by chunk.
const tsEcho = `export async function POST(request: Request) {
  const reader = request.body!.getReader();
  return new Response(new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  }), { headers: { "content-type": "application/octet-stream" } });
}
`

// duplexEcho holds the conversation with the echo at path on the server
// at url: over HTTP/1.1, twice on one connection, and over h2c.
func duplexEcho(t *testing.T, url, path string) {
	t.Run("HTTP/1.1 keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		br := bufio.NewReader(conn)
		for round := 1; round <= 2; round++ { // the second on the same connection
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: parity.test\r\nTransfer-Encoding: chunked\r\n\r\n", path)
			cw := httputil.NewChunkedWriter(conn)
			var res *http.Response
			for i, chunk := range echoChunks {
				if _, err := cw.Write(chunk); err != nil {
					t.Fatalf("round %d: sending chunk %d: %v", round, i, err)
				}
				if res == nil {
					// The head comes with the first echo.
					if res, err = http.ReadResponse(br, nil); err != nil {
						t.Fatalf("round %d: reading the response: %v", round, err)
					}
					if res.StatusCode != 200 {
						t.Fatalf("round %d: status %d", round, res.StatusCode)
					}
				}
				got := make([]byte, len(chunk))
				if _, err := io.ReadFull(res.Body, got); err != nil {
					t.Fatalf("round %d: reading the echo of chunk %d: %v (got %.80q)", round, i, err, got)
				}
				if !bytes.Equal(chunk, got) {
					t.Fatalf("round %d: echo of chunk %d: got %.80q, want %.80q", round, i, got, chunk)
				}
			}
			cw.Close()
			io.WriteString(conn, "\r\n") // the end of the (empty) trailer
			rest, err := io.ReadAll(res.Body)
			if err != nil || len(rest) > 0 {
				t.Fatalf("round %d: after the last echo: %q, %v", round, rest, err)
			}
			if res.Close {
				t.Fatalf("round %d: the server closes the connection", round)
			}
		}
	})

	t.Run("HTTP/2", func(t *testing.T) {
		pr, pw := io.Pipe()
		req, err := http.NewRequest("POST", url+path, pr)
		if err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() { _, err := pw.Write(echoChunks[0]); sent <- err }()
		res, err := h2cClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.ProtoMajor != 2 || res.StatusCode != 200 {
			t.Fatalf("got %s %d, want HTTP/2 200", res.Proto, res.StatusCode)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		for i, chunk := range echoChunks {
			if i > 0 {
				if _, err := pw.Write(chunk); err != nil {
					t.Fatalf("sending chunk %d: %v", i, err)
				}
			}
			got := make([]byte, len(chunk))
			if _, err := io.ReadFull(res.Body, got); err != nil {
				t.Fatalf("reading the echo of chunk %d: %v (got %.80q)", i, err, got)
			}
			if !bytes.Equal(chunk, got) {
				t.Fatalf("echo of chunk %d: got %.80q, want %.80q", i, got, chunk)
			}
		}
		pw.Close()
		if rest, err := io.ReadAll(res.Body); err != nil || len(rest) > 0 {
			t.Fatalf("after the last echo: %q, %v", rest, err)
		}
	})
}

// parityGet GETs url and returns its body, failing on any status but 200.
func parityGet(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %q %v", url, res.StatusCode, b, err)
	}
	return string(b)
}

// TestHeadContentLength checks that HEAD carries the length its GET's body
// has when the guest returned without flushing, over HTTP/1.1 and h2c, and
// no length when it flushed.
func TestHeadContentLength(t *testing.T) {
	dir := parityProject(t, nil)
	writeFile(t, filepath.Join(dir, "app", "tssize", "route.ts"), "export function GET() { return new Response('x'.repeat(3000)) }\n")
	ts, _ := jsServe(t, dir, Config{})
	for _, proto := range []struct {
		name   string
		client *http.Client
	}{{"HTTP/1.1", ts.Client()}, {"HTTP/2", h2cClient()}} {
		for _, path := range []string{"/healthy", "/size?n=0", "/size?n=5", "/size?n=100000", "/tssize"} {
			t.Run(proto.name+" "+path, func(t *testing.T) {
				get := parityDo(t, proto.client, "GET", ts.URL+path)
				head := parityDo(t, proto.client, "HEAD", ts.URL+path)
				want := fmt.Sprint(len(get.body))
				if get.length != "" && get.length != want {
					t.Errorf("GET: Content-Length %s for a body of %s bytes", get.length, want)
				}
				if get.body == "" {
					// A guest that wrote nothing may have left the body
					// out for HEAD: no length, as net/http does.
					want = ""
				}
				if head.length != want || head.body != "" {
					t.Errorf("HEAD: Content-Length %q, body %q; want Content-Length %q as GET's body, no body", head.length, head.body, want)
				}
			})
		}
		t.Run(proto.name+" flushed", func(t *testing.T) {
			get := parityDo(t, proto.client, "GET", ts.URL+"/size?n=5000&flush=1")
			head := parityDo(t, proto.client, "HEAD", ts.URL+"/size?n=5000&flush=1")
			if len(get.body) != 5000 || get.length != "" {
				t.Errorf("GET: Content-Length %q, %d bytes; want no length, 5000 bytes", get.length, len(get.body))
			}
			if head.length != "" {
				t.Errorf("HEAD of a flushed response: Content-Length %q, want none", head.length)
			}
		})
	}
}

type parityAnswer struct {
	status       int
	length, body string
}

func parityDo(t *testing.T, client *http.Client, method, url string) parityAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: status %d", method, url, res.StatusCode)
	}
	return parityAnswer{res.StatusCode, res.Header.Get("Content-Length"), string(b)}
}

// TestCookieSetThenReadServed serves a guest that sets and deletes cookies
// and reads them back in the same request.
func TestCookieSetThenReadServed(t *testing.T) {
	ts, _ := jsServe(t, parityProject(t, nil), Config{})
	req, _ := http.NewRequest("GET", ts.URL+"/cookie?theme=dark", nil)
	req.Header.Set("Cookie", "theme=light; session=abc")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	got := response{Status: res.StatusCode, Body: string(b)}
	if diff := cmp.Diff(response{Status: 200, Body: "before=light theme=dark session=false"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	wantCookies := []string{"theme=dark; Path=/", "session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"}
	if diff := cmp.Diff(wantCookies, res.Header.Values("Set-Cookie")); diff != "" {
		t.Errorf("Set-Cookie (-want +got):\n%s", diff)
	}
}

// TestExtraMethods serves a module exporting methods beyond the seven.
func TestExtraMethods(t *testing.T) {
	ts, logs := jsServe(t, parityProject(t, map[string]string{"dav": "methods"}), Config{})
	const allow = "GET, HEAD, M-SEARCH, MKCOL, OPTIONS, PROPFIND, QUERY"
	for _, tt := range []struct {
		method string
		want   response
	}{
		{"GET", response{Status: 200, Body: "GET"}},
		{"QUERY", response{Status: 200, Body: "QUERY"}},
		{"PROPFIND", response{Status: 200, Body: "PROPFIND"}},
		{"MKCOL", response{Status: 200, Body: "MKCOL"}},
		{"M-SEARCH", response{Status: 200, Body: "M-SEARCH"}},
		{"OPTIONS", response{Status: 204, Header: map[string]string{"Allow": allow}}},
		{"query", response{Status: 405, Header: map[string]string{"Allow": allow}}}, // an export, not a method (and not warned about: "malloc" is not either)
		{"Query", response{Status: 405, Header: map[string]string{"Allow": allow}}},
		{"TRACE", response{Status: 405, Header: map[string]string{"Allow": allow}}},
		{"LOCK", response{Status: 405, Header: map[string]string{"Allow": allow}}},
		{"POST", response{Status: 405, Header: map[string]string{"Allow": allow}}},
		{"VERSION", response{Status: 405, Header: map[string]string{"Allow": allow}}}, // a global, not a function
	} {
		for _, proto := range []struct {
			name   string
			client *http.Client
		}{{"HTTP/1.1", ts.Client()}, {"HTTP/2", h2cClient()}} {
			t.Run(proto.name+" "+tt.method, func(t *testing.T) {
				req, _ := http.NewRequest(tt.method, ts.URL+"/dav", nil)
				res, err := proto.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				got := response{Status: res.StatusCode, Body: string(b)}
				if a := res.Header.Get("Allow"); a != "" {
					got.Header = map[string]string{"Allow": a}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
	for _, w := range []string{
		`app/dav/route.wasm: export TRACE is not served: CONNECT, TRACE and TRACK requests never reach a module`,
		`app/dav/route.wasm: export LOCK is not served as a method: it has signature (i32) -> (); a method takes no parameters and returns nothing`,
	} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, logs)
		}
	}
	if got := parityGet(t, ts.Client(), ts.URL+"/healthy"); got != "hello" {
		t.Errorf("healthy route: %q", got)
	}
}

func TestExtraMethodsRoutes(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"dav": "methods"})})
	want := []Route{{Pattern: "/dav", Methods: "GET, M-SEARCH, MKCOL, PROPFIND, QUERY", Allow: "GET, HEAD, M-SEARCH, MKCOL, OPTIONS, PROPFIND, QUERY", File: "app/dav/route.wasm", Size: 290}}
	if diff := cmp.Diff(want, s.Routes()); diff != "" {
		t.Errorf("Routes (-want +got):\n%s", diff)
	}
}

// TestTooManyMethods checks that a module's count of extra methods is
// bounded, with an error naming the file and the limit.
func TestTooManyMethods(t *testing.T) {
	_, err := New(context.Background(), Config{Dir: project(t, map[string]string{"x": "too_many_methods", "ok": "hello"}), Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{"app/x/route.wasm: exports 33 methods beyond DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT (X00, X01, X02, ...); at most 32 are allowed"}
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("load problems (-want +got):\n%s", diff)
	}
}

// TestNoMethodRoute checks that a module or a TypeScript route that exports
// no method loads with a warning naming it and answers 405, logging an
// error, while the project's other routes serve.
func TestNoMethodRoute(t *testing.T) {
	dir := parityProject(t, map[string]string{"none": "no_method", "lower": "only_lowercase"})
	writeFile(t, filepath.Join(dir, "app", "ts", "route.ts"), "export function get() { return new Response('x') }\nexport default function () {}\n")
	writeFile(t, filepath.Join(dir, "app", "tsok", "route.ts"), "export function GET() { return new Response('ts ok') }\n")
	ts, logs := jsServe(t, dir, Config{})
	for _, w := range []string{
		"app/none/route.wasm: exports no method, so it answers 405 to every request but OPTIONS: export at least one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT (or another method, in uppercase)",
		`app/lower/route.wasm: export \"get\" is not a method: method exports are case-sensitive, rename it GET`,
		"app/lower/route.wasm: exports no method, so it answers 405 to every request but OPTIONS: export at least one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT (or another method, in uppercase); not methods: default, get",
		`app/ts/route.ts: export \"get\" is not served: HTTP method handlers are uppercase (GET)`,
		"app/ts/route.ts: exports no HTTP method handler (DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT), so it answers 405 to every request but OPTIONS",
	} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("load log lacks %q:\n%s", w, logs)
		}
	}
	for _, path := range []string{"/none", "/lower", "/ts"} {
		for _, method := range []string{"GET", "POST", "OPTIONS"} {
			t.Run(method+" "+path, func(t *testing.T) {
				req, _ := http.NewRequest(method, ts.URL+path, nil)
				res, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				want := response{Status: 405, Header: map[string]string{"Allow": "OPTIONS"}}
				if method == "OPTIONS" {
					want.Status = 204
				}
				got := response{Status: res.StatusCode, Header: map[string]string{"Allow": res.Header.Get("Allow")}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
	for _, w := range []string{
		`level=ERROR msg="route exports no method" route=/none method=GET file=app/none/route.wasm notMethods=""`,
		`level=ERROR msg="route exports no method" route=/lower method=POST file=app/lower/route.wasm notMethods="default, get"`,
		`level=ERROR msg="route exports no method" route=/ts method=GET file=app/ts/route.ts notMethods="default, get"`,
	} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("request log lacks %q:\n%s", w, logs)
		}
	}
	if got := parityGet(t, ts.Client(), ts.URL+"/healthy"); got != "hello" {
		t.Errorf("healthy route: %q", got)
	}
	if got := parityGet(t, ts.Client(), ts.URL+"/tsok"); got != "ts ok" {
		t.Errorf("TypeScript route: %q", got)
	}
}
