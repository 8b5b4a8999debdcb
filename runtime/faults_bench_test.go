package runtime

import (
	"bufio"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkFaults serves GET /panic of testdata/hostile — a Go guest that
// panics, so every request discards its instance and the next makes a new
// one — and reports the process's memory after b.N faults against before
// them: Go heap in use after a GC, and Private_Dirty and Pss from
// /proc/self/smaps_rollup. Run it with -benchtime 1000x.
func BenchmarkFaults(b *testing.B) {
	dir, _ := hostileSource(b)
	s, err := New(context.Background(), Config{Dir: dir, CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	fault := func() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
		if rec.Code != 500 {
			b.Fatalf("GET /panic = %d, want 500", rec.Code)
		}
	}
	fault() // the first instance's one-time costs are not a leak
	before := memory(b)
	for b.Loop() {
		fault()
	}
	after := memory(b)
	for _, m := range []string{"heap", "Private_Dirty", "Pss"} {
		b.ReportMetric(after[m]/(1<<20), m+"-MiB-after")
		b.ReportMetric((after[m]-before[m])/(1<<20), m+"-MiB-growth")
	}
	b.ReportMetric(float64(goruntime.NumGoroutine()), "goroutines")
}

// memory reads the Go heap in use and the process's Private_Dirty and Pss,
// in bytes, after a GC that also returns freed pages to the OS.
func memory(tb testing.TB) map[string]float64 {
	debug.FreeOSMemory()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	m := map[string]float64{"heap": float64(ms.HeapInuse)}
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		tb.Skip("no /proc/self/smaps_rollup: ", err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		name, rest, ok := strings.Cut(lines.Text(), ":")
		if f := strings.Fields(rest); ok && len(f) == 2 && f[1] == "kB" && (name == "Private_Dirty" || name == "Pss") {
			kb, _ := strconv.ParseFloat(f[0], 64)
			m[name] = kb * 1024
		}
	}
	return m
}

// BenchmarkInstanceMemory reports what one more warm instance of the
// demo's /api/hello (go: the Go demo's, ts: the TypeScript demo's) costs
// the process: b.N instances taken from the pool at once, each serving 10
// requests, then the growth of Private_Dirty, Pss and the Go heap per
// instance. Run it with -benchtime 50x.
func BenchmarkInstanceMemory(b *testing.B) {
	for _, d := range []struct{ name, dir string }{{"go", demo(b)}, {"ts", demoTS}} {
		b.Run(d.name, func(b *testing.B) {
			_, r := demoRouteIn(b, d.dir, Limits{MaxInstances: b.N + 1})
			warm := func(n int) []*instance {
				insts := make([]*instance, n)
				for i := range insts {
					var err error
					if insts[i], err = r.pool.get(context.Background(), time.Second); err != nil {
						b.Fatal(err)
					}
					for range 10 {
						call(b, insts[i])
					}
				}
				return insts
			}
			for _, inst := range warm(1) { // the module's one-time costs
				r.pool.put(inst, false)
			}
			before := memory(b)
			b.ResetTimer()
			insts := warm(b.N)
			b.StopTimer()
			after := memory(b)
			for _, inst := range insts {
				r.pool.put(inst, false)
			}
			for _, m := range []string{"heap", "Private_Dirty", "Pss"} {
				b.ReportMetric((after[m]-before[m])/float64(b.N)/(1<<20), m+"-MiB/instance")
			}
		})
	}
}

// BenchmarkEvictedRoute measures the first request of a route whose module
// was evicted (Config.MaxCompiled): compiling the demo's Go hello module
// again from the on-disk compilation cache, instantiating it, and serving
// GET. Ten routes share one compiled slot, so every request finds its module
// evicted; "compiled" serves one route that stays compiled, for comparison.
func BenchmarkEvictedRoute(b *testing.B) {
	src := filepath.Join(demo(b), "app", "api", "hello", "route.wasm")
	dir := b.TempDir()
	for i := range 10 {
		folder := filepath.Join(dir, "app", "r"+strconv.Itoa(i))
		if err := os.MkdirAll(folder, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.Link(src, filepath.Join(folder, "route.wasm")); err != nil {
			b.Fatal(err)
		}
	}
	s, err := New(context.Background(), Config{Dir: dir, CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler),
		LazyCompile: true, MaxCompiled: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	get := func(path string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
	for i := range 10 {
		get("/r" + strconv.Itoa(i)) // fill the compilation cache
	}
	b.Run("evicted", func(b *testing.B) {
		i := 0
		for b.Loop() {
			get("/r" + strconv.Itoa(i%10))
			i++
		}
	})
	b.Run("compiled", func(b *testing.B) {
		for b.Loop() {
			get("/r0")
		}
	})
}
