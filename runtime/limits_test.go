package runtime

import (
	"context"
	"errors"
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
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"512", 512, false},
		{"512B", 512, false},
		{"64KiB", 64 << 10, false},
		{"10MiB", 10 << 20, false},
		{"1GiB", 1 << 30, false},
		{"2 MB", 2 << 20, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1.5MiB", 0, true},
		{"10TiB", 0, true},
		{"99999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if back, err := ParseSize(FormatSize(tt.want)); !tt.err && (back != tt.want || err != nil) {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", tt.want, back, err)
		}
	}
}

func TestLimitsOr(t *testing.T) {
	got := Limits{MaxDuration: time.Second, MaxInstances: 2}.Or(DefaultLimits)
	want := DefaultLimits
	want.MaxDuration, want.MaxInstances = time.Second, 2
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := project(t, map[string]string{"a": "hello", "b": "hello", "c": "hello", "d": "hello", "e": "hello", "f": "hello"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"maxBody": "lots"}`)
	writeFile(t, filepath.Join(dir, "app/a/route.json"), `{"maxDurration": "1s"}`)
	writeFile(t, filepath.Join(dir, "app/b/route.json"), `{"maxDuration": "soon"}`)
	writeFile(t, filepath.Join(dir, "app/c/route.json"), `{"maxTenantInstances": 3}`)
	writeFile(t, filepath.Join(dir, "app/d/route.json"), `{"maxMemory": "1KiB"}`)
	writeFile(t, filepath.Join(dir, "app/e/route.json"), `{"env": {"A=B": "c"}}`)
	writeFile(t, filepath.Join(dir, "app/f/route.json"), `{"isolation": "process"}`)
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{
		`app/a/route.json:1:2: unknown key "maxDurration" (did you mean "maxDuration"?)`,
		`app/b/route.json:1:2: maxDuration: time: invalid duration "soon"`,
		"app/c/route.json:1:2: maxTenantInstances belongs in the project's wasmroute.json",
		"app/d/route.json:1:2: maxMemory 1024 is outside 64KiB..4GiB",
		`app/e/route.json:1:2: env: bad variable name "A=B"`,
		`app/f/route.json:1:2: isolation "process" is neither "instance" nor "request"`,
		`wasmroute.json:1:2: maxBody: bad size "lots": want bytes, or a number with KiB, MiB or GiB`,
	}
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestMemoryTooSmallForModule(t *testing.T) {
	dir := project(t, map[string]string{"big": "hello"})
	writeFile(t, filepath.Join(dir, "app/big/route.wasm"), string(mustRead(t, "../testdata/wat/bigmem.wasm")))
	writeFile(t, filepath.Join(dir, "app/big/route.json"), `{"maxMemory": "1MiB"}`)
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{"app/big/route.wasm: starts with 2MiB of memory, more than its maxMemory of 1MiB"}
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRouteConfig(t *testing.T) {
	dir := project(t, map[string]string{"echo": "hello", "small": "hello"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"maxBody": 16}`)
	writeFile(t, filepath.Join(dir, "app/echo/route.json"), `{"maxBody": "1KiB", "maxDuration": "2s"}`)
	s, _ := newServer(t, Config{Dir: dir, Limits: Limits{MaxBody: 1 << 10}})
	body := strings.Repeat("x", 100)
	if got := do(s, "POST", "/echo", body); got.Status != 201 || got.Body != body {
		t.Errorf("route.json maxBody 1KiB over wasmroute.json's 16: POST 100 bytes = %d %q", got.Status, got.Body)
	}
	if got := do(s, "POST", "/small", body); got.Status != 413 {
		t.Errorf("wasmroute.json maxBody 16: POST 100 bytes = %d, want 413", got.Status)
	}
	if got := do(s, "POST", "/small", "0123456789abcdef"); got.Status != 201 {
		t.Errorf("wasmroute.json maxBody 16: POST 16 bytes = %d, want 201", got.Status)
	}
}

// TestCeilings checks that the operator's limits (Config) are ceilings:
// wasmroute.json and route.json may lower them, and raising one is a load
// error naming the file, the key, the value and the ceiling.
func TestCeilings(t *testing.T) {
	dir := project(t, map[string]string{"a": "hello", "b": "hello"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"maxDuration": "1h", "maxTenantInstances": 1000000, "isolation": "instance", "maxWait": "1s"}`)
	writeFile(t, filepath.Join(dir, "app/a/route.json"), `{"maxMemory": "4GiB", "maxResponse": "1GiB", "maxHeaders": 1000000, "maxHeaderBytes": "1GiB", "maxInstances": 100000, "maxBody": "2MiB"}`)
	writeFile(t, filepath.Join(dir, "app/b/route.json"), `{"maxMemory": "32MiB", "maxDuration": "500ms", "maxWait": "2s"}`)
	operator := Limits{MaxDuration: time.Second, MaxMemory: 64 << 20, MaxBody: 1 << 20, MaxWait: 2 * time.Second, Isolation: IsolationRequest}
	_, err := New(context.Background(), Config{Dir: dir, Limits: operator, MaxTenantInstances: 4, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{
		"app/a/route.json: maxMemory 4GiB is above the operator's ceiling of 64MiB; " +
			"maxBody 2MiB is above the operator's ceiling of 1MiB; " +
			"maxResponse 1GiB is above the operator's ceiling of 64MiB; " +
			"maxHeaders 1000000 is above the operator's ceiling of 100; " +
			"maxHeaderBytes 1GiB is above the operator's ceiling of 64KiB; " +
			"maxInstances 100000 is above the operator's ceiling of 8",
		"wasmroute.json: maxDuration 1h0m0s is above the operator's ceiling of 1s; " +
			"isolation instance is above the operator's ceiling of request; " +
			"maxTenantInstances 1000000 is above the operator's ceiling of 4",
	}
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	// Lowering is fine, and route b's 2s wait is within the operator's 2s
	// though above the project's 1s.
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"maxDuration": "800ms", "maxTenantInstances": 2, "maxWait": "1s"}`)
	os.Remove(filepath.Join(dir, "app/a/route.json"))
	s, _ := newServer(t, Config{Dir: dir, Limits: operator, MaxTenantInstances: 4})
	got := map[string]Limits{}
	for _, r := range s.routes {
		got[r.Pattern] = r.limits
	}
	project := DefaultLimits
	project.MaxDuration, project.MaxMemory, project.MaxBody, project.MaxWait, project.Isolation = 800*time.Millisecond, 64<<20, 1<<20, time.Second, IsolationRequest
	b := project
	b.MaxMemory, b.MaxDuration, b.MaxWait = 32<<20, 500*time.Millisecond, 2*time.Second
	if diff := cmp.Diff(map[string]Limits{"/a": project, "/b": b}, got); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	if s.cfg.MaxTenantInstances != 2 || cap(s.tenant) != 2 {
		t.Errorf("maxTenantInstances = %d (semaphore %d), want 2", s.cfg.MaxTenantInstances, cap(s.tenant))
	}
}

// TestMaxDuration stops a guest in an endless loop, instrumented
// (wasmbin.Instrument) whether it imports sched_yield (forever) or not (loop,
// which gets the import).
func TestMaxDuration(t *testing.T) {
	s, logs := newServer(t, Config{Dir: project(t, map[string]string{"loop": "loop", "forever": "forever", "hello": "hello"}),
		Limits: Limits{MaxDuration: 200 * time.Millisecond}})
	for _, route := range []string{"loop", "forever"} {
		start := time.Now()
		got := do(s, "GET", "/"+route, "", "Connection")
		if diff := cmp.Diff(response{Status: 504, Header: map[string]string{"Connection": "close"}}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", route, diff)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: a 200ms limit answered after %v", route, took)
		}
		if !strings.Contains(logs.String(), "over its time limit") || !strings.Contains(logs.String(), "route=/"+route) {
			t.Errorf("log lacks the stopped request:\n%s", logs)
		}
		if got := do(s, "GET", "/hello", ""); got.Status != 200 {
			t.Errorf("after a stopped guest, GET /hello = %d", got.Status)
		}
	}
}

func TestBusy(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		path string // requested while /loop holds the only slot
	}{
		{"route", Config{Limits: Limits{MaxInstances: 1}}, "/loop"},
		{"tenant", Config{MaxTenantInstances: 1}, "/hello"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Dir = project(t, map[string]string{"loop": "loop", "hello": "hello"})
			tt.cfg.Limits.MaxDuration = time.Second
			tt.cfg.Limits.MaxWait = 50 * time.Millisecond
			s, _ := newServer(t, tt.cfg)
			var wg sync.WaitGroup
			var first response
			wg.Go(func() { first = do(s, "GET", "/loop", "") })
			time.Sleep(200 * time.Millisecond) // let it take the slot
			got := do(s, "GET", tt.path, "", "Retry-After")
			if diff := cmp.Diff(response{Status: 503, Header: map[string]string{"Retry-After": "1"}}, got); diff != "" {
				t.Errorf("GET %s while full (-want +got):\n%s", tt.path, diff)
			}
			wg.Wait()
			if first.Status != 504 {
				t.Errorf("GET /loop = %d, want 504", first.Status)
			}
			if got := do(s, "GET", "/hello", ""); got.Status != 200 {
				t.Errorf("after the slot was freed, GET /hello = %d, want 200", got.Status)
			}
		})
	}
}

// TestClientGone checks that a client leaving stops its guest, frees the
// instance and aborts the handler (http.ErrAbortHandler), so that nothing
// answers as if the request had succeeded.
func TestClientGone(t *testing.T) {
	s, _ := newServer(t, Config{Dir: project(t, map[string]string{"loop": "loop"}),
		Limits: Limits{MaxInstances: 1, MaxWait: time.Minute}})
	ctx, cancel := context.WithCancel(context.Background())
	aborted := make(chan bool)
	go func() {
		aborted <- serveAborts(s, httptest.NewRecorder(), httptest.NewRequest("GET", "/loop", nil).WithContext(ctx))
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case a := <-aborted:
		if !a {
			t.Error("the handler of a departed client returned as if it had answered")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler kept running after its client left")
	}
	// The only instance slot is free again: a second request gets it (and
	// is stopped by its own departing client).
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	rec := httptest.NewRecorder()
	serveAborts(s, rec, httptest.NewRequest("GET", "/loop", nil).WithContext(ctx2))
	if rec.Code == 503 {
		t.Error("the slot of the departed client's instance was not freed")
	}
}

// serveAborts serves r and reports whether the handler aborted with
// http.ErrAbortHandler, as net/http's server recovers it.
func serveAborts(h http.Handler, w http.ResponseWriter, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(w, r)
	return false
}

// TestInitializationTimeLimit has modules whose initialization never ends:
// maxDuration bounds it, in _initialize (initloop) or in the start function
// of a module without sched_yield (startloop), and the route answers 500, at once
// the second time.
func TestInitializationTimeLimit(t *testing.T) {
	s, logs := newServer(t, Config{Dir: project(t, map[string]string{"initloop": "initloop", "startloop": "startloop", "hello": "hello"}),
		Limits: Limits{MaxDuration: 200 * time.Millisecond}, LazyCompile: true})
	for _, route := range []string{"initloop", "startloop"} {
		for try := range 2 {
			start := time.Now()
			if got := do(s, "GET", "/"+route, ""); got.Status != 500 {
				t.Errorf("GET /%s = %d, want 500", route, got.Status)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("GET /%s (try %d) answered after %v, its initialization bounded by 200ms", route, try, took)
			}
		}
		if want := "app/" + route + "/route.wasm: initialization failed"; !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if got := do(s, "GET", "/hello", ""); got.Status != 200 {
		t.Errorf("GET /hello = %d", got.Status)
	}
}

// TestServiceConfig checks the keys of the outbound, key-value and env
// services: their errors name the file and key, fetch limits are ceilings
// like the others, and the server's environment reaches a guest only where
// a trusted file maps it.
func TestServiceConfig(t *testing.T) {
	t.Setenv("WASMROUTE_TEST_SECRET", "s3cr3t-value")
	dir := project(t, map[string]string{"a": "hello", "b": "hello", "c": "hello", "d": "hello", "e": "hello"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"kv": "memcached://x", "maxKVKeys": 20000}`)
	writeFile(t, filepath.Join(dir, "app/a/route.json"), `{"maxFetches": 1000, "maxFetchConcurrency": 100, "maxFetchBody": "1GiB"}`)
	writeFile(t, filepath.Join(dir, "app/b/route.json"), `{"env": {"KEY": {"fromEnv": "WASMROUTE_TEST_UNSET"}}}`)
	writeFile(t, filepath.Join(dir, "app/c/route.json"), `{"env": {"KEY": {"value": "x"}}}`)
	writeFile(t, filepath.Join(dir, "app/d/route.json"), `{"maxKVValue": "1KiB"}`)
	writeFile(t, filepath.Join(dir, "app/e/route.json"), `{"maxFetches": -1}`)
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{
		"app/a/route.json: maxFetches 1000 is above the operator's ceiling of 50; " +
			"maxFetchConcurrency 100 is above the operator's ceiling of 6; " +
			"maxFetchBody 1GiB is above the operator's ceiling of 10MiB",
		"app/b/route.json: env KEY: fromEnv WASMROUTE_TEST_UNSET is not set in the server's environment",
		`app/c/route.json:1:2: env: want a string or {"fromEnv": "NAME"}, got {"value": "x"}`,
		"app/d/route.json:1:2: maxKVValue belongs in the project's wasmroute.json",
		"app/e/route.json:1:2: maxFetches: limits cannot be negative",
		`wasmroute.json:1:2: kv "memcached://x": want redis://HOST:PORT (or rediss://, valkey://, unix://), or none for the embedded store`,
	}
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	// A tenant's files may not read the server's environment nor pick the
	// store; the operator's ceiling on keys holds.
	dir = project(t, map[string]string{"a": "hello"})
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"kv": "redis://127.0.0.1:1", "maxKVKeys": 20000, "env": {"K": {"fromEnv": "WASMROUTE_TEST_SECRET"}}}`)
	_, err = New(context.Background(), Config{Dir: dir, Untrusted: true, Logger: slog.New(slog.DiscardHandler)})
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want = []string{
		"wasmroute.json: env K: fromEnv reads the server's environment, which only the operator may map (in the grants file)",
		"wasmroute.json: kv: the key-value store is the operator's choice, not a tenant's",
		"wasmroute.json: maxKVKeys 20000 is above the operator's ceiling of 10000",
	}
	if diff := cmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("untrusted problems (-want +got):\n%s", diff)
	}

	// Trusted, the mapping works, and its value is a secret.
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"env": {"K": {"fromEnv": "WASMROUTE_TEST_SECRET"}, "PLAIN": "p"}}`)
	s, _ := newServer(t, Config{Dir: dir, Env: map[string]string{"OP": "o"}})
	if got := s.cfg.Env; !cmp.Equal(got, map[string]string{"K": "s3cr3t-value", "PLAIN": "p", "OP": "o"}) {
		t.Errorf("env = %v", got)
	}
	if got := s.redacted("key=s3cr3t-value."); got != "key=[redacted]." {
		t.Errorf("redacted = %q", got)
	}
	// Output cut at its cap may end in a secret's head.
	if got := s.redacted("key=s3cr3t\n… 6 more bytes dropped"); got != "key=[redacted]\n… 6 more bytes dropped" {
		t.Errorf("redacted at the cap = %q", got)
	}
}

func TestRedactor(t *testing.T) {
	r := redactor(map[string]bool{"abc": true, "abcdef": true, "": true})
	if got := r.Replace("xabcdefy abc ab"); got != "x[redacted]y [redacted] ab" {
		t.Errorf("Replace = %q", got)
	}
	if redactor(map[string]bool{"": true}) != nil {
		t.Error("redactor of no secret is not nil")
	}
}

// TestGrantsServices checks what only the operator's grants file may do
// for a tenant: map the server's environment (a secret), list outbound
// hosts and raise the key-value limits; it may not pick the store.
func TestGrantsServices(t *testing.T) {
	t.Setenv("WASMROUTE_TEST_STRIPE", "sk-stripe")
	path := filepath.Join(t.TempDir(), "grants.json")
	writeFile(t, path, `{"acme": {"env": {"PLAN": "pro", "STRIPE_KEY": {"fromEnv": "WASMROUTE_TEST_STRIPE"}}, "allowedOutboundHosts": ["https://api.stripe.com"], "maxKVKeys": 50000}}`)
	grants, err := ReadGrants(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Grant{Env: map[string]string{"PLAN": "pro"}, Secrets: map[string]string{"STRIPE_KEY": "sk-stripe"},
		AllowedOutboundHosts: []string{"https://api.stripe.com"}, MaxKVKeys: 50000}
	if diff := cmp.Diff(want, grants["acme"]); diff != "" {
		t.Errorf("grant (-want +got):\n%s", diff)
	}
	writeFile(t, path, `{"acme": {"kv": "redis://10.0.0.1:6379"}}`)
	if _, err := ReadGrants(path); err == nil || !strings.Contains(err.Error(), "tenants share the server's store") {
		t.Errorf("a grant with kv: %v", err)
	}
	writeFile(t, path, `{"acme": {"env": {"K": {"fromEnv": "WASMROUTE_TEST_UNSET"}}}}`)
	if _, err := ReadGrants(path); err == nil || !strings.Contains(err.Error(), "WASMROUTE_TEST_UNSET is not set") {
		t.Errorf("a grant mapping an unset variable: %v", err)
	}
}
