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

// BenchmarkHello compares GET /api/hello served through the runtime's
// http.Handler with a native handler writing the same bytes, in process, in
// one run: the demo's Go guest (JSON through the SDK) and the hand-written
// WAT guest testdata/wat/hello.wat (the host's own overhead).
func BenchmarkHello(b *testing.B) {
	native := func(contentType, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write([]byte(body))
		})
	}
	load := func(dir string) http.Handler {
		s, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	goGuest := load(demo(b))
	watGuest := load(project(b, map[string]string{"api/hello": "hello"}))
	tsGuest := load(filepath.Join("..", "examples", "demo-ts"))
	const json = `{"message":"hello"}`
	for _, bc := range []struct {
		name string
		h    http.Handler
		body string
	}{
		{"go/native", native("application/json", json), json},
		{"go/wasmroute", goGuest, json},
		{"wat/native", native("text/plain", "hello"), "hello"},
		{"wat/wasmroute", watGuest, "hello"},
		{"ts/wasmroute", tsGuest, json},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/hello", nil)
			rec := httptest.NewRecorder()
			bc.h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
			if rec.Code != 200 || rec.Body.String() != bc.body {
				b.Fatalf("GET /api/hello = %d %q, want 200 %q", rec.Code, rec.Body, bc.body)
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
