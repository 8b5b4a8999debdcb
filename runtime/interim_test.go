package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmroute/wasmroute/internal/wasmbin"
	"github.com/wasmroute/wasmroute/internal/wasmgen"
)

// newGoModule returns the demo's Go guest (GET answers
// {"message":"hello"}) with a random custom section: a module no test of
// this process has compiled before, so that Config.Dev gives it an interim
// version.
func newGoModule(t testing.TB) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(demo(t), "app", "api", "hello", "route.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return wasmgen.AppendSection(bin, wasmgen.SecCustom, append(wasmgen.Name(nil, "test"), []byte(rand.Text())...))
}

// interimProject is a project with the Go guest at /go and the WAT hello
// at /wat, served with dev.
func interimProject(t *testing.T, dev bool) (*Server, *route) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app", "go", "route.wasm"), string(newGoModule(t)))
	writeFile(t, filepath.Join(dir, "app", "wat", "route.wasm"), string(mustRead(t, filepath.Join("..", "testdata", "wat", "hello.wasm"))))
	s, err := New(t.Context(), Config{Dir: dir, Dev: dev, LazyCompile: true, CacheDir: t.TempDir(), IdleTimeout: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	r, _, _ := s.table.Lookup("/go", nil)
	return s, s.routes[r.Index]
}

// runsOn reports whether m's compiled code is the interpreter's.
func runsOn(m *module) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.compiled == nil:
		return "nothing"
	case m.dev != nil && m.compiled.rt == must(m.dev.interp()):
		return "interpreter"
	default:
		return "compiler"
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func awaitCompiler(t *testing.T, m *module) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); runsOn(m) != "compiler"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 2 minutes", m.File, runsOn(m))
		}
	}
}

func serveGet(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// TestDevInterim: with Config.Dev, a large module first serves from the
// interpreter, then from compiled code, and no request fails meanwhile; the
// interim's instances are closed, the idle ones at the upgrade and a busy
// one when its request ends.
func TestDevInterim(t *testing.T) {
	s, r := interimProject(t, true)
	if err := s.CompileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	wat, _, _ := s.table.Lookup("/wat", nil)
	type state struct{ Go, WAT string }
	if diff := cmp.Diff(state{"interpreter", "compiler"}, state{runsOn(r.module), runsOn(s.routes[wat.Index].module)}); diff != "" {
		t.Fatalf("compiled (-want +got):\n%s", diff)
	}
	type reply struct {
		Status int
		Body   string
	}
	want := reply{200, `{"message":"hello"}`}
	for range 2 {
		if status, body := serveGet(t, s, "/go"); cmp.Diff(want, reply{status, strings.TrimSpace(body)}) != "" {
			t.Fatalf("interim: GET /go = %d %q, want %v", status, body, want)
		}
	}
	busy, err := r.pool.get(t.Context(), time.Second) // the idle instance of the requests above
	if err != nil {
		t.Fatal(err)
	}
	idle, err := r.pool.get(t.Context(), time.Second) // a second one, put back idle
	if err != nil {
		t.Fatal(err)
	}
	r.pool.put(idle, false)
	interim := busy.from
	if idle.from != interim {
		t.Fatal("the two instances run different code")
	}

	// Requests keep coming while the compiled code replaces the interim.
	var (
		wg     sync.WaitGroup
		stop   atomic.Bool
		served atomic.Int64
		mu     sync.Mutex
		failed []string
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest("GET", "/go", nil))
				if rec.Code != 200 {
					mu.Lock()
					failed = append(failed, rec.Body.String())
					mu.Unlock()
				}
				served.Add(1)
			}
		})
	}
	awaitCompiler(t, r.module)
	for n := served.Load(); served.Load() < n+100; time.Sleep(time.Millisecond) {
	}
	stop.Store(true)
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the upgrade, the first: %s", len(failed), served.Load(), failed[0])
	}
	for deadline := time.Now().Add(time.Minute); interims.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d interim versions counted alive after the upgrade", interims.Load())
		}
	}
	if !idle.mod.IsClosed() {
		t.Error("an idle instance of the interim version is still open after the upgrade")
	}
	if busy.mod.IsClosed() {
		t.Fatal("the upgrade closed an instance in use")
	}
	r.pool.put(busy, false) // its request ends
	if !busy.mod.IsClosed() {
		t.Error("an instance of the interim version was kept when its request ended")
	}
	if status, body := serveGet(t, s, "/go"); cmp.Diff(want, reply{status, strings.TrimSpace(body)}) != "" {
		t.Fatalf("compiled: GET /go = %d %q, want %v", status, body, want)
	}
	r.pool.mu.Lock()
	for _, it := range r.pool.idle {
		if it.inst.from == interim {
			t.Error("the pool holds an instance of the interim version")
		}
	}
	r.pool.mu.Unlock()

	// A dev server started later with the same cache folder finds the
	// module compiled: no interim version.
	compiledBefore.Clear() // as in a new process
	later, err := New(t.Context(), Config{Dir: s.cfg.Dir, Dev: true, LazyCompile: true, CacheDir: s.cfg.CacheDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer later.Close(context.Background())
	if err := later.CompileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	lr, _, _ := later.table.Lookup("/go", nil)
	if got := runsOn(later.routes[lr.Index].module); got != "compiler" {
		t.Errorf("restarted with the module in the cache: runs on the %s", got)
	}
}

// TestServeNoInterim: without Config.Dev, modules are compiled by the
// compiler only.
func TestServeNoInterim(t *testing.T) {
	s, r := interimProject(t, false)
	if err := s.CompileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := runsOn(r.module); got != "compiler" {
		t.Errorf("runs on the %s", got)
	}
	for k := range s.runtimes {
		if k.interp {
			t.Error("the server made an interpreter runtime")
		}
	}
}

// TestDevInterimClose: closing a server cancels its upgrades, waiting or
// compiling.
func TestDevInterimClose(t *testing.T) {
	s, r := interimProject(t, true)
	s.upgrades <- struct{}{} // another upgrade runs: this one waits
	if err := s.CompileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := runsOn(r.module); got != "interpreter" {
		t.Fatalf("runs on the %s", got)
	}
	closed := make(chan error)
	go func() { closed <- s.Close(context.Background()) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close waits for an upgrade")
	}
	if got := runsOn(r.module); got != "interpreter" {
		t.Errorf("after Close, runs on the %s", got)
	}
	if n := interims.Load(); n != 0 {
		t.Errorf("after Close, %d interim versions counted alive", n)
	}
}

// TestDevInterimBound: past maxInterims interim versions alive, a module is
// compiled by the compiler at once (TestDevInterim: an upgrade's end frees
// its place).
func TestDevInterimBound(t *testing.T) {
	interims.Add(maxInterims)
	defer interims.Add(-maxInterims)
	s, r := interimProject(t, true)
	if err := s.CompileAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := runsOn(r.module); got != "compiler" {
		t.Errorf("with %d interim versions alive, runs on the %s", maxInterims, got)
	}
}

// TestCompileCanceled: a compilation stops when its context ends, whatever
// its workers (wazero 1.12 checks the context only with 2 or more).
func TestCompileCanceled(t *testing.T) {
	bin := must(wasmbin.Prepare(newGoModule(t), 128<<20))
	ins := must(wasmbin.Instrument(bin, stackBudget(128<<20)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, workers := range []int{0, 1, 2} {
		rt := wazero.NewRuntime(t.Context()) // a runtime of its own: it keeps what it compiled
		defer rt.Close(context.Background())
		_, err := compileCode(experimental.WithCompilationWorkers(ctx, workers), rt, ins, func(error) {})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%d workers: err = %v, want context.Canceled", workers, err)
		}
	}
}

// TestDevInterimFailure: a large module whose initialization fails fails
// as it would without an interim version, with the error named once.
func TestDevInterimFailure(t *testing.T) {
	m := &wasmgen.Module{Memories: []wasmgen.Limits{{Min: 1}}}
	noop := m.Func(nil, nil, nil)
	initialize := m.Func(nil, nil, nil, wasmgen.Op(wasmgen.OpUnreachable))
	m.Export("memory", wasmgen.KindMemory, 0)
	m.Export("GET", wasmgen.KindFunc, noop)
	m.Export("_initialize", wasmgen.KindFunc, initialize)
	m.Customs = append(m.Customs, wasmgen.Custom{Name: "pad", Payload: make([]byte, interimMinSize)})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app", "route.wasm"), string(m.Encode()))
	s, err := New(t.Context(), Config{Dir: dir, Dev: true, LazyCompile: true, CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for range 2 {
		status, body := serveGet(t, s, "/")
		if status != 500 || strings.Count(body, "initialization failed") != 1 || !strings.Contains(body, "unreachable") {
			t.Errorf("GET / = %d %q, want 500 naming the failed initialization once", status, body)
		}
	}
}

// TestRelaxGC: overlapping interim compilations raise the GC percent once
// and restore it once the last ends; a higher one, or GOGC=off, is kept.
func TestRelaxGC(t *testing.T) {
	gcPercent := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	end1 := relaxGC()
	end2 := relaxGC()
	during := gcPercent()
	end1()
	afterOne := gcPercent()
	end2()
	if diff := cmp.Diff([]int{400, 400, 100}, []int{during, afterOne, gcPercent()}); diff != "" {
		t.Errorf("GC percent during, after one, after both (-want +got):\n%s", diff)
	}
	for _, p := range []int{-1, 800} {
		debug.SetGCPercent(p)
		end := relaxGC()
		if got := gcPercent(); got != p {
			t.Errorf("from %d: %d during", p, got)
		}
		end()
		if got := gcPercent(); got != p {
			t.Errorf("from %d: %d after", p, got)
		}
	}
}

// padded returns the module in file under testdata/hostile/wat, padded to
// interimMinSize with a custom section so that it gets an interim version.
func padded(t *testing.T, name string) string {
	t.Helper()
	bin := mustRead(t, filepath.Join("..", "testdata", "hostile", "wat", name+".wasm"))
	return string(wasmgen.AppendSection(bin, wasmgen.SecCustom, append(wasmgen.Name(nil, "pad"), make([]byte, interimMinSize)...)))
}

// TestDevInterimStack: an interim version lets a request recurse as deep as
// compiled code does (the stack budget, not the interpreter's 2,000 frames,
// stops it), and stops the same runaway recursion; a healthy route answers
// throughout.
func TestDevInterimStack(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"deepok", "deepstack"} {
		writeFile(t, filepath.Join(dir, "app", name, "route.wasm"), padded(t, name))
		writeFile(t, filepath.Join(dir, "app", name, "route.json"), `{"maxMemory": "64MiB"}`)
	}
	writeFile(t, filepath.Join(dir, "app", "healthy", "route.wasm"), string(mustRead(t, filepath.Join("..", "testdata", "wat", "hello.wasm"))))
	s, err := New(t.Context(), Config{Dir: dir, Dev: true, LazyCompile: true, CacheDir: t.TempDir(), IdleTimeout: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	s.upgrades <- struct{}{} // no upgrade runs: the interim versions serve
	ts := httptest.NewServer(s)
	defer ts.Close()
	status := func(path string) int {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	got := map[string]int{}
	for _, path := range []string{"/deepok", "/healthy", "/deepstack", "/healthy"} {
		got[path] += status(path)
	}
	if diff := cmp.Diff(map[string]int{"/deepok": 200, "/deepstack": 500, "/healthy": 400}, got); diff != "" {
		t.Errorf("statuses (-want +got; /healthy twice):\n%s", diff)
	}
	for _, name := range []string{"/deepok", "/deepstack"} {
		r, _, _ := s.table.Lookup(name, nil)
		if on := runsOn(s.routes[r.Index].module); on != "interpreter" {
			t.Errorf("%s runs on the %s", name, on)
		}
	}
}

// TestDevInterimEvicted: an interim version evicted under MaxCompiled while
// an instance of it is in use is gone once its upgrade ends: no instance
// of it is kept, and the route compiles again on its next request.
func TestDevInterimEvicted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app", "go", "route.wasm"), string(newGoModule(t)))
	writeFile(t, filepath.Join(dir, "app", "wat", "route.wasm"), string(mustRead(t, filepath.Join("..", "testdata", "wat", "hello.wasm"))))
	s, err := New(t.Context(), Config{Dir: dir, Dev: true, LazyCompile: true, MaxCompiled: 1, CacheDir: t.TempDir(), IdleTimeout: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	r, _, _ := s.table.Lookup("/go", nil)
	m := s.routes[r.Index].module
	s.upgrades <- struct{}{} // the upgrade waits
	busy, err := m.pool.get(t.Context(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := serveGet(t, s, "/wat"); status != 200 { // compiles /wat, evicting /go
		t.Fatalf("GET /wat: %d", status)
	}
	if got := runsOn(m); got != "nothing" {
		t.Fatalf("after the eviction, /go runs on the %s", got)
	}
	m.pool.put(busy, false) // its request ends: back in the pool, as evict leaves it
	<-s.upgrades
	for deadline := time.Now().Add(2 * time.Minute); interims.Load() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upgrade did not end")
		}
	}
	if !busy.mod.IsClosed() {
		t.Error("the evicted interim's instance is still open after its upgrade")
	}
	if status, body := serveGet(t, s, "/go"); status != 200 || strings.TrimSpace(body) != `{"message":"hello"}` {
		t.Errorf("GET /go = %d %q", status, body)
	}
	m.pool.mu.Lock()
	defer m.pool.mu.Unlock()
	for _, it := range m.pool.idle {
		if it.inst.from == busy.from {
			t.Error("the pool serves the evicted interim")
		}
	}
}
