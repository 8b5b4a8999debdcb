package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	binary   string // the wasmroute command, built once for this test run
	cacheDir string // one compilation cache for the run: the demo compiles once
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmroute-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, cacheDir = filepath.Join(dir, "wasmroute"), filepath.Join(dir, "cache")
	for _, args := range [][]string{
		{"go", "build", "-o", binary, "."},
		{binary, "build", demo}, // every test below serves or lists the demo
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(args, " "), err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const demo = "../../examples/demo"

// server is a running wasmroute serve.
type server struct {
	url    string
	cmd    *exec.Cmd
	stdout *bytes.Buffer // what it printed before "listening on"
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer that a child process's output can be copied
// into while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs wasmroute serve on a free loopback port and waits until it
// listens. Later flags win: args may override --cache-dir.
func start(t testing.TB, args ...string) *server {
	t.Helper()
	return launch(t, "serve", args...)
}

// launch runs wasmroute COMMAND (serve or dev) as start does.
func launch(t testing.TB, command string, args ...string) *server {
	t.Helper()
	args = append([]string{command, "--addr", "127.0.0.1:0", "--cache-dir", cacheDir}, args...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &syncBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := lines.Text()
		if url, ok := strings.CutPrefix(line, "listening on "); ok {
			s.url = url
			go io.Copy(io.Discard, stdout)
			return s
		}
		s.stdout.WriteString(line + "\n")
	}
	cmd.Wait()
	t.Fatalf("wasmroute serve exited before listening:\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	return nil
}

type exchange struct {
	Status int
	Header http.Header
	Body   string
}

func TestServeDemo(t *testing.T) {
	s := start(t, demo)
	checkDemo(t, s)
	t.Run("crash is logged with route, method and the guest's stack", func(t *testing.T) {
		for _, want := range []string{"guest failed", "route=/api/crash", "method=GET", "panic", "goroutine"} {
			if !strings.Contains(s.stderr.String(), want) {
				t.Errorf("server log lacks %q:\n%s", want, s.stderr)
			}
		}
	})
}

// TestServeDemoTS serves the TypeScript demo, which answers as the Go demo
// does, route for route.
func TestServeDemoTS(t *testing.T) {
	s := start(t, demoTS)
	checkDemo(t, s)
	t.Run("crash is logged with route, method and the stack in route.ts", func(t *testing.T) {
		for _, want := range []string{"route=/api/crash", "method=GET", "GET in app/api/crash/route.ts threw Error: crash on purpose", "at GET (app/api/crash/route.ts:4:"} {
			if !strings.Contains(s.stderr.String(), want) {
				t.Errorf("server log lacks %q:\n%s", want, s.stderr)
			}
		}
	})
}

const demoTS = "../../examples/demo-ts"

// checkDemo checks every route of a demo served by s.
func checkDemo(t *testing.T, s *server) {
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	mib := make([]byte, 1<<20)
	rand.Read(mib)
	tests := []struct {
		method, path string
		header       http.Header
		body         []byte
		keep         []string // response headers to compare
		want         exchange
	}{
		{"GET", "/api/hello", nil, nil, []string{"Content-Type"},
			exchange{200, http.Header{"Content-Type": {"application/json"}}, `{"message":"hello"}`}},
		{"GET", "/blog/new", nil, nil, nil, exchange{200, nil, "new post"}},
		{"GET", "/blog/some-post", nil, nil, nil, exchange{200, nil, `{"slug":"some-post"}`}},
		{"GET", "/docs/a/b/c", nil, nil, nil, exchange{200, nil, `{"path":["a","b","c"]}`}},
		{"GET", "/docs", nil, nil, nil, exchange{404, nil, "404 page not found\n"}},
		{"GET", "/files", nil, nil, nil, exchange{200, nil, `{"path":[]}`}},
		{"GET", "/files/x/y", nil, nil, nil, exchange{200, nil, `{"path":["x","y"]}`}},
		{"GET", "/(admin)/stats", nil, nil, nil, exchange{404, nil, "404 page not found\n"}},
		{"GET", "/_lib/secret", nil, nil, nil, exchange{404, nil, "404 page not found\n"}},
		{"POST", "/api/echo", http.Header{"Content-Type": {"application/octet-stream"}}, mib, []string{"Content-Type"},
			exchange{200, http.Header{"Content-Type": {"application/octet-stream"}}, string(mib)}},
		{"GET", "/api/echo", nil, nil, []string{"Allow"}, exchange{405, http.Header{"Allow": {"OPTIONS, POST"}}, ""}},
		{"PUT", "/api/echo", nil, nil, []string{"Allow"}, exchange{405, http.Header{"Allow": {"OPTIONS, POST"}}, ""}},
		{"DELETE", "/api/echo", nil, nil, []string{"Allow"}, exchange{405, http.Header{"Allow": {"OPTIONS, POST"}}, ""}},
		{"HEAD", "/api/hello", nil, nil, []string{"Content-Type"},
			exchange{200, http.Header{"Content-Type": {"application/json"}}, ""}},
		{"OPTIONS", "/api/hello", nil, nil, []string{"Allow"},
			exchange{204, http.Header{"Allow": {"GET, HEAD, OPTIONS"}}, ""}},
		{"GET", "/api/hello/", nil, nil, []string{"Location"}, exchange{308, http.Header{"Location": {"/api/hello"}}, ""}},
		{"GET", "/api/query?name=wasm&tag=a&tag=b", nil, nil, nil, exchange{200, nil, `{"name":"wasm","tag":["a","b"]}`}},
		{"GET", "/api/headers", http.Header{"X-Demo": {"42"}}, nil, nil, exchange{200, nil, `{"x-demo":"42"}`}},
		{"GET", "/api/cookies", http.Header{"Cookie": {"session=abc"}}, nil, []string{"Set-Cookie"},
			exchange{200, http.Header{"Set-Cookie": {"a=1", "b=2"}}, `{"session":"abc"}`}},
		{"GET", "/api/redirect", nil, nil, []string{"Location"}, exchange{307, http.Header{"Location": {"/api/hello"}}, ""}},
		{"GET", "/api/crash", nil, nil, nil, exchange{500, nil, ""}},
		{"GET", "/api/missing", nil, nil, nil, exchange{404, nil, "404 page not found\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.url+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := exchange{Status: res.StatusCode, Body: string(body)}
			for _, k := range tt.keep {
				if v := res.Header.Values(k); v != nil {
					if got.Header == nil {
						got.Header = http.Header{}
					}
					got.Header[k] = v
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				if len(diff) > 2000 {
					diff = diff[:2000] + "…"
				}
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.path, diff)
			}
		})
	}

	t.Run("GET /stats", func(t *testing.T) {
		res, err := client.Get(s.url + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("status %d, want 200", res.StatusCode)
		}
	})

	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run("stream over "+proto, func(t *testing.T) {
			testStream(t, s.url, proto)
		})
	}
}

// testStream checks that /api/stream's five events each reach the client as
// the guest flushes them, not all at the end.
func testStream(t *testing.T, url, proto string) {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	if proto == "HTTP/2.0" {
		tr.Protocols.SetUnencryptedHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(url + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Proto != proto || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %s %d %q, want %s 200 text/event-stream", res.Proto, res.StatusCode, res.Header.Get("Content-Type"), proto)
	}
	var events []string
	var arrived []time.Time
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() {
		if line := lines.Text(); line != "" {
			events = append(events, line)
			arrived = append(arrived, time.Now())
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"data: 0", "data: 1", "data: 2", "data: 3", "data: 4"}, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	// The guest sleeps ~200 ms between events. Had the events been buffered
	// until the handler returned, they would all arrive at once.
	if spread := arrived[4].Sub(arrived[0]); spread < 400*time.Millisecond {
		t.Errorf("events arrived within %v of each other: not streamed", spread)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	s := start(t, "--no-build", demo)
	// A request in flight when the signal comes is drained, not dropped.
	done := make(chan error, 1)
	go func() {
		res, err := http.Get(s.url + "/api/stream")
		if err == nil {
			var b []byte
			b, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && !strings.Contains(string(b), "data: 4") {
				err = fmt.Errorf("stream cut short: %q", b)
			}
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("request in flight during shutdown: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("wasmroute serve exited with %v after SIGTERM, want 0\n%s", err, s.stderr)
		}
	case <-ctx.Done():
		t.Fatal("wasmroute serve did not exit after SIGTERM")
	}
}

func TestRoutesCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"routes", "--cache-dir", cacheDir, demo}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if head := strings.Fields(lines[0]); !cmp.Equal(head, []string{"ROUTE", "METHODS", "MODULE", "SIZE"}) {
		t.Errorf("header %q", lines[0])
	}
	var got []string
	for _, line := range lines[1:] {
		f := strings.Fields(line) // pattern, methods…, module, size, unit
		got = append(got, f[0]+" "+f[len(f)-3])
	}
	want := []string{
		"/api/cookies app/api/cookies/route.wasm",
		"/api/crash app/api/crash/route.wasm",
		"/api/echo app/api/echo/route.wasm",
		"/api/headers app/api/headers/route.wasm",
		"/api/hello app/api/hello/route.wasm",
		"/api/query app/api/query/route.wasm",
		"/api/redirect app/api/redirect/route.wasm",
		"/api/stream app/api/stream/route.wasm",
		"/blog/[slug] app/blog/[slug]/route.wasm",
		"/blog/new app/blog/new/route.wasm",
		"/docs/[...path] app/docs/[...path]/route.wasm",
		"/files/[[...path]] app/files/[[...path]]/route.wasm",
		"/stats app/(admin)/stats/route.wasm",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s\nfull output:\n%s", diff, stdout.String())
	}
	// stderr is not a terminal: the compilation still shows plain lines.
	if want := "compiling 13/13 app/"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}

func TestRoutesCommandLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"app/(a)/x", "app/(b)/x"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "route.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"routes", dir}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"app/(a)/x", "app/(b)/x", "/x"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve"}, 2, "want one project folder, got 0 arguments"},
		{[]string{"routes", "a", "b"}, 2, "want one project folder, got 2 arguments"},
		{[]string{"serve", "--bogus", "x"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"serve", "--isolation", "process", "x"}, 2, `invalid value "process" for flag -isolation: want "instance" or "request"`},
		{[]string{"routes", "/nonexistent/project"}, 1, "no app folder in /nonexistent/project"},
		{[]string{"serve", "-h"}, 0, "Usage: wasmroute serve"},
		{[]string{"routes", "--help"}, 0, "Usage: wasmroute routes"},
		{[]string{"version"}, 0, "wazero v"},
		{[]string{"-h"}, 0, "wasmroute version"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if out := stdout.String() + stderr.String(); code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("run(%q) = %d, output %q; want %d and %q", tt.args, code, out, tt.code, tt.want)
			}
		})
	}
}

// copyFixture copies testdata/wat/NAME.wasm to DIR/app/ROUTE/route.wasm.
func copyFixture(t *testing.T, name, dir, route string) {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wat", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "app", route)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "route.wasm"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServeTenantsAndLimits(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "hello", filepath.Join(dir, "acme"), "hello")
	copyFixture(t, "loop", filepath.Join(dir, "acme"), "loop")
	copyFixture(t, "counter", filepath.Join(dir, "globex"), "hello")
	// greedy asks for more than the operator's ceilings: refused, unless a
	// grant allows it, as it does for granted.
	for _, name := range []string{"greedy", "granted"} {
		copyFixture(t, "hello", filepath.Join(dir, name), "hello")
		if err := os.WriteFile(filepath.Join(dir, name, "wasmroute.json"), []byte(`{"maxDuration": "1h", "maxMemory": "4GiB", "maxTenantInstances": 1000000}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// source holds a Go route that serve must not build: its go.mod could
	// send the go command into other tenants' folders.
	if err := os.MkdirAll(filepath.Join(dir, "source", "app", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "source", "app", "x", "route.go"), []byte("//go:build wasip1\n\npackage main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// script holds a TypeScript route, bundled in a child process.
	if err := os.MkdirAll(filepath.Join(dir, "script", "app", "ts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "script", "app", "ts", "route.ts"), []byte("export function GET(): Response { return new Response('from ts') }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	grants := filepath.Join(t.TempDir(), "grants.json")
	if err := os.WriteFile(grants, []byte(`{"granted": {"maxDuration": "1h", "maxMemory": "4GiB", "maxTenantInstances": 1000000}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, "--tenants", "--domain", "example.test", "--host", "www.acme.com=acme", "--grants", grants,
		"--max-duration", "200ms", "--max-memory", "64MiB", "--max-body", "4", "--isolation", "request", dir)
	if want := "wasmroute.json: maxDuration 1h0m0s is above the operator's ceiling of 200ms; maxMemory 4GiB is above the operator's ceiling of 64MiB; maxTenantInstances 1000000 is above the operator's ceiling of 32"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("serve did not log greedy's refusal %q:\n%s", want, s.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "source", "app", "x", "route.wasm")); err == nil {
		t.Error("serve --tenants built a tenant's route.go")
	}
	if want := "app/x/route.go: not built"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("serve did not log %q:\n%s", want, s.stderr)
	}
	for _, want := range []string{"tenant acme (http://acme.example.test)", "tenant globex", "/hello"} {
		if !strings.Contains(s.stdout.String(), want) {
			t.Errorf("serve printed no %q:\n%s", want, s.stdout)
		}
	}
	tests := []struct {
		host, method, path, body string
		status                   int
		want                     string
	}{
		{"acme.example.test", "GET", "/hello", "", 200, "hello"},
		{"www.acme.com", "GET", "/hello", "", 200, "hello"},
		{"globex.example.test", "GET", "/hello", "", 200, "0"},
		{"globex.example.test", "GET", "/hello", "", 200, "0"}, // a counter, reset after each request
		{"initech.example.test", "GET", "/hello", "", 404, "404 page not found\n"},
		{"acme.example.test", "GET", "/loop", "", 504, ""},
		{"acme.example.test", "POST", "/hello", "12345", 413, ""},
		{"greedy.example.test", "GET", "/hello", "", 503, "tenant unavailable\n"},
		{"granted.example.test", "GET", "/hello", "", 200, "hello"},
		{"source.example.test", "GET", "/x", "", 503, "tenant unavailable\n"},
		{"script.example.test", "GET", "/ts", "", 200, "from ts"},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.url+tt.path, strings.NewReader(tt.body))
			req.Host = tt.host
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || string(b) != tt.want {
				t.Errorf("%s %s (Host %s) = %d %q, want %d %q", tt.method, tt.path, tt.host, res.StatusCode, b, tt.status, tt.want)
			}
		})
	}
}
