package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
)

var (
	demoOnce sync.Once
	demoErr  error
)

// demo builds examples/demo's route.go sources once per test binary.
func demo(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "examples", "demo")
	demoOnce.Do(func() {
		folders, err := routes.Scan(dir)
		if err != nil {
			demoErr = err
			return
		}
		var dirs []string
		for _, f := range folders {
			dirs = append(dirs, f.Dir)
		}
		demoErr = build.Go(context.Background(), dir, dirs, nil)
	})
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return dir
}

// BenchmarkHello compares GET /api/hello served by the demo's Go guest
// through the runtime's http.Handler with a native handler writing the same
// bytes, in process, in one run.
func BenchmarkHello(b *testing.B) {
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"message":"hello"}`))
	})
	dir := demo(b)
	s, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"native", native}, {"wasmroute", s}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/hello", nil)
			rec := httptest.NewRecorder()
			bc.h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
			if rec.Code != 200 || rec.Body.String() != `{"message":"hello"}` {
				b.Fatalf("GET /api/hello = %d %q", rec.Code, rec.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.h.ServeHTTP(rec, req)
			}
		})
	}
}
