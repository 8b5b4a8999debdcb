package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// project lays out a project in a temporary folder: routes maps a route
// folder (relative to app/) to a fixture in testdata/wat, e.g.
// {"api/hello": "hello"}.
func project(t testing.TB, routes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for route, fixture := range routes {
		bin, err := os.ReadFile(filepath.Join("..", "testdata", "wat", fixture+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		folder := filepath.Join(dir, "app", filepath.FromSlash(route))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "route.wasm"), bin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
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

func newServer(t testing.TB, cfg Config) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, logs
}

type response struct {
	Status int
	Header map[string]string
	Body   string
}

// do serves one request in process and keeps the headers named in keep.
func do(s http.Handler, method, target, body string, keep ...string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(method, target, rd))
	res := response{Status: rec.Code, Body: rec.Body.String()}
	for _, k := range keep {
		if v := rec.Header().Values(k); len(v) > 0 {
			if res.Header == nil {
				res.Header = map[string]string{}
			}
			res.Header[k] = strings.Join(v, " | ")
		}
	}
	return res
}

func TestServeHTTP(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{
		"hello": "hello",
		"trap":  "trap",
		"oob":   "oob",
	})})
	tests := []struct {
		name, method, target, body string
		want                       response
	}{
		{"GET", "GET", "/hello", "", response{200, map[string]string{"Content-Type": "text/plain"}, "hello"}},
		{"HEAD from GET", "HEAD", "/hello", "", response{200, map[string]string{"Content-Type": "text/plain"}, ""}},
		{"POST echo", "POST", "/hello", "a body longer than one sixteen-byte chunk", response{201, nil, "a body longer than one sixteen-byte chunk"}},
		{"OPTIONS", "OPTIONS", "/hello", "", response{204, map[string]string{"Allow": "GET, HEAD, OPTIONS, POST"}, ""}},
		{"method not exported", "PUT", "/hello", "", response{405, map[string]string{"Allow": "GET, HEAD, OPTIONS, POST"}, ""}},
		{"unknown method", "BREW", "/hello", "", response{405, map[string]string{"Allow": "GET, HEAD, OPTIONS, POST"}, ""}},
		{"trailing slash", "GET", "/hello/", "", response{308, map[string]string{"Location": "/hello"}, ""}},
		{"trailing slash keeps query", "GET", "/hello/?a=1", "", response{308, map[string]string{"Location": "/hello?a=1"}, ""}},
		{"double slash", "GET", "//hello", "", response{308, map[string]string{"Location": "/hello"}, ""}},
		{"dot dot", "GET", "/x/../hello", "", response{308, map[string]string{"Location": "/hello"}, ""}},
		{"not found", "GET", "/nope", "", response{404, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, "404 page not found\n"}},
		{"trap before writing drops its headers", "GET", "/trap", "", response{500, nil, ""}},
		{"out-of-bounds pointer traps", "GET", "/oob", "", response{500, nil, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(s, tt.method, tt.target, tt.body, "Content-Type", "Allow", "Location", "Set-Cookie")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.target, diff)
			}
		})
	}
}

func TestGuestFailureIsLoggedAndInstanceDiscarded(t *testing.T) {
	s, logs := newServer(t, Config{Dir: project(t, map[string]string{"trap": "trap", "counter": "counter"}), Limits: Limits{MaxInstances: 1}})
	do(s, "GET", "/trap", "")
	for _, want := range []string{`msg="guest failed"`, "route=/trap", "method=GET", "file=app/trap/route.wasm", "unreachable"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// With one instance per route, a healthy instance is reused...
	var got []string
	for range 3 {
		got = append(got, do(s, "GET", "/counter", "").Body)
	}
	if diff := cmp.Diff([]string{"0", "1", "2"}, got); diff != "" {
		t.Errorf("reused instance (-want +got):\n%s", diff)
	}
}

func TestTrapAfterHeadAbortsResponse(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"trap": "trap"})})
	ts := httptest.NewServer(s)
	defer ts.Close()
	res, err := http.Post(ts.URL+"/trap", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Fatalf("read a complete body %q after the guest trapped mid-response; want a broken response", body)
	}
	if string(body) != "partial" {
		t.Errorf("body = %q, want the part flushed before the trap, %q", body, "partial")
	}
}

func TestBodyLimit(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"echo": "hello"}), Limits: Limits{MaxBody: 32}})
	t.Run("declared length over the limit", func(t *testing.T) {
		got := do(s, "POST", "/echo", strings.Repeat("x", 33))
		if diff := cmp.Diff(response{Status: 413}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("streamed body over the limit", func(t *testing.T) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/echo", io.MultiReader(strings.NewReader(strings.Repeat("x", 40))))
		req.ContentLength = -1
		// The guest sets 201 before reading, and writes each chunk as it
		// reads it, so the head is already sent when the limit is hit:
		// what it got is at most the limit.
		s.ServeHTTP(rec, req)
		if rec.Body.Len() > 32 {
			t.Errorf("guest read %d bytes past a 32-byte limit", rec.Body.Len())
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		got := do(s, "POST", "/echo", strings.Repeat("x", 32))
		if diff := cmp.Diff(response{Status: 201, Body: strings.Repeat("x", 32)}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	dir := project(t, map[string]string{
		"a": "bad_signature",
		"b": "no_method", // only a warning: it answers 405 (TestNoMethodRoute)
		"c": "no_memory",
		"d": "command",
		"e": "bad_imports",
		"f": "lowercase", // only warnings
		"g": "hello",
	})
	if err := os.WriteFile(filepath.Join(dir, "app", "g", "route.wasm"), []byte("\x00asm garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "app", "h"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "h", "route.go"), []byte("package main"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{
		"app/a/route.wasm: export GET has signature (i32) -> (); a method takes no parameters and returns nothing",
		"app/a/route.wasm: export POST has signature () -> (i32); a method takes no parameters and returns nothing",
		`app/c/route.wasm: does not export its memory as "memory"`,
		"app/d/route.wasm: exports _start: it is a WASI command; build a reactor (Go: -buildmode=c-shared)",
		"app/e/route.wasm: imports env.log: only wasmroute_v1 and wasi_snapshot_preview1 are provided",
		"app/e/route.wasm: imports wasmroute_v1.method with signature (i32) -> (i32); the ABI has 2 i32 parameters and 1 i32 results",
		"app/e/route.wasm: imports wasmroute_v1.teleport, which this host does not provide",
		"app/h/route.go: not built: run `wasmroute build " + dir + "`",
	}
	got := le.Problems
	// The compiler's own words for the garbage module are not ours to pin.
	var rest []string
	for _, p := range got {
		if strings.HasPrefix(p, "app/g/route.wasm: not a valid WebAssembly module: ") {
			continue
		}
		rest = append(rest, p)
	}
	if len(rest) != len(got)-1 {
		t.Errorf("no error for the garbage module app/g/route.wasm in:\n%s", err)
	}
	if diff := cmp.Diff(want, rest); diff != "" {
		t.Errorf("load problems (-want +got):\n%s", diff)
	}
}

func TestLoadWarnings(t *testing.T) {
	_, logs := newServer(t, Config{Dir: project(t, map[string]string{"x": "lowercase"})})
	for _, want := range []string{
		`app/x/route.wasm: export \"default\" is not a method`,
		`app/x/route.wasm: export \"get\" is not a method: method exports are case-sensitive, rename it GET`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestRoutes(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"blog/[slug]": "hello", "": "counter"})})
	want := []Route{
		{Pattern: "/", Methods: "GET", Allow: "GET, HEAD, OPTIONS", File: "app/route.wasm", Size: 114},
		{Pattern: "/blog/[slug]", Methods: "GET, POST", Allow: "GET, HEAD, OPTIONS, POST", File: "app/blog/[slug]/route.wasm", Size: 286},
	}
	if diff := cmp.Diff(want, s.Routes()); diff != "" {
		t.Errorf("Routes (-want +got):\n%s", diff)
	}
}

// TestWATFixtures checks that each committed .wasm in testdata/wat is what
// wat2wasm makes of its .wat source.
func TestWATFixtures(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatal("wat2wasm (Debian package wabt) is needed to check the WAT fixtures; .ci/run installs it")
	}
	sources, _ := filepath.Glob(filepath.Join("..", "testdata", "wat", "*.wat"))
	if len(sources) == 0 {
		t.Fatal("no WAT fixtures found")
	}
	for _, src := range sources {
		committed, err := os.ReadFile(strings.TrimSuffix(src, ".wat") + ".wasm")
		if err != nil {
			t.Error(err)
			continue
		}
		fresh := filepath.Join(t.TempDir(), "out.wasm")
		args := []string{src, "-o", fresh}
		if src, _ := os.ReadFile(src); bytes.Contains(src, []byte("wat2wasm --no-check")) {
			args = append(args, "--no-check")
		}
		if out, err := exec.Command(wat2wasm, args...).CombinedOutput(); err != nil {
			t.Errorf("wat2wasm %s: %v\n%s", src, err, out)
			continue
		}
		if want, _ := os.ReadFile(fresh); !bytes.Equal(want, committed) {
			t.Errorf("%s is stale: run wat2wasm %s -o %s", strings.TrimSuffix(src, ".wat")+".wasm", src, strings.TrimSuffix(src, ".wat")+".wasm")
		}
	}
}

func TestLazyCompile(t *testing.T) {
	dir := project(t, map[string]string{"bad": "invalid", "hello": "hello"})
	t.Run("eager", func(t *testing.T) {
		_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		var le *LoadError
		if !errors.As(err, &le) || len(le.Problems) != 1 || !strings.HasPrefix(le.Problems[0], "app/bad/route.wasm: cannot compile: ") {
			t.Errorf("New: %v, want one problem naming app/bad/route.wasm", err)
		}
	})
	t.Run("lazy", func(t *testing.T) {
		s, logs := newServer(t, Config{Dir: dir, LazyCompile: true})
		if got := do(s, "GET", "/hello", ""); got.Status != 200 {
			t.Errorf("GET /hello = %d, want 200", got.Status)
		}
		if got := do(s, "GET", "/bad", ""); got.Status != 500 || !strings.Contains(logs.String(), "app/bad/route.wasm: cannot compile") {
			t.Errorf("GET /bad = %d, want 500 and the compile error logged:\n%s", got.Status, logs)
		}
		var le *LoadError
		if err := s.CompileAll(context.Background()); !errors.As(err, &le) || len(le.Problems) != 1 {
			t.Errorf("CompileAll: %v, want one problem", err)
		}
	})
	t.Run("changed on disk", func(t *testing.T) {
		s, logs := newServer(t, Config{Dir: dir, LazyCompile: true})
		counter, _ := os.ReadFile(filepath.Join("..", "testdata", "wat", "counter.wasm"))
		if err := os.WriteFile(filepath.Join(dir, "app", "hello", "route.wasm"), counter, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := do(s, "GET", "/hello", ""); got.Status != 500 || !strings.Contains(logs.String(), "changed on disk since it was loaded") {
			t.Errorf("GET /hello = %d, want 500 and the change logged:\n%s", got.Status, logs)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"counter": "counter"}), IdleTimeout: 100 * time.Millisecond})
	var got []string
	for range 2 {
		got = append(got, do(s, "GET", "/counter", "").Body)
	}
	time.Sleep(400 * time.Millisecond) // idle past the timeout: the instance is closed
	got = append(got, do(s, "GET", "/counter", "").Body)
	if diff := cmp.Diff([]string{"0", "1", "0"}, got); diff != "" {
		t.Errorf("counter (-want +got):\n%s", diff)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestIsolation serves the counter fixture, whose global counts the
// requests its instance served, in each isolation mode, set by route.json,
// wasmroute.json and Config.
func TestIsolation(t *testing.T) {
	dir := project(t, map[string]string{"instance": "counter", "request": "counter", "project": "counter", "snapshot": "snapshot"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"isolation": "request"}`)
	writeFile(t, filepath.Join(dir, "app/instance/route.json"), `{"isolation": "instance"}`)
	s, _ := newServer(t, Config{Dir: dir, Limits: Limits{MaxInstances: 1, Isolation: IsolationInstance}})
	got := map[string][]string{}
	for range 3 {
		for _, route := range []string{"instance", "request", "project", "snapshot"} {
			got[route] = append(got[route], do(s, "GET", "/"+route, "").Body)
		}
	}
	want := map[string][]string{
		"instance": {"0", "1", "2"},
		"request":  {"0", "0", "0"},
		"project":  {"0", "0", "0"},
		"snapshot": {"hello, started: passive 7", "hello, started: passive 7", "hello, started: passive 7"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestMaxCompiled(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"a": "counter", "b": "counter", "c": "hello"}), LazyCompile: true, MaxCompiled: 2})
	compiled := func() []string {
		var names []string
		for _, r := range s.routes {
			if r.isCompiled() {
				names = append(names, r.Pattern)
			}
		}
		return names
	}
	var got []string
	for _, path := range []string{"/a", "/a", "/b", "/c", "/a", "/b"} {
		got = append(got, path+"="+do(s, "GET", path, "").Body)
		time.Sleep(time.Millisecond) // distinct use times
	}
	// /a is evicted when /c compiles (least recently used), and so comes
	// back with a fresh instance: its counter restarts.
	want := []string{"/a=0", "/a=1", "/b=0", "/c=hello", "/a=0", "/b=0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/a", "/b"}, compiled()); diff != "" {
		t.Errorf("compiled modules (-want +got):\n%s", diff)
	}
}

// TestMaxCompiledConcurrent serves three routes from many goroutines with
// room for one compiled module: evictions race with compiles and calls.
func TestMaxCompiledConcurrent(t *testing.T) {
	s, logs := newServer(t, Config{Dir: project(t, map[string]string{"a": "hello", "b": "hello", "c": "hello"}), LazyCompile: true, MaxCompiled: 1})
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 20 {
				path := "/" + string(rune('a'+(g+i)%3))
				if got := do(s, "GET", path, ""); got.Status != 200 || got.Body != "hello" {
					t.Errorf("GET %s = %d %q", path, got.Status, got.Body)
				}
			}
		})
	}
	wg.Wait()
	if n := s.compiled.Load(); n > 1 {
		t.Errorf("%d modules compiled at the end, want at most 1", n)
	}
}
