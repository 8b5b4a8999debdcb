package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkObserve measures what observing costs a request: GET /api/hello
// of the demo's Go guest and of the hand-written WAT guest, in process, with
// nothing observed, with metrics, with the access log to a handler that
// drops its lines (the cost of building them), and with the access log as
// JSON to a file; the native handler in the same run.
func BenchmarkObserve(b *testing.B) {
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello"))
	})
	file, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	metrics := func() *Metrics {
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	type setup struct {
		name string
		cfg  Config
	}
	setups := []setup{
		{"off", Config{}},
		{"metrics", Config{Metrics: metrics()}},
		{"log-discard", Config{AccessLog: slog.New(discardAttrs{})}},
		{"log-json-file", Config{AccessLog: slog.New(slog.NewJSONHandler(file, nil))}},
		{"metrics+log-json-file", Config{Metrics: metrics(), AccessLog: slog.New(slog.NewJSONHandler(file, nil))}},
	}
	b.Run("native", func(b *testing.B) { benchGet(b, native) })
	for _, guest := range []struct{ name, dir string }{
		{"wat", project(b, map[string]string{"api/hello": "hello"})},
		{"go", demo(b)},
	} {
		for _, s := range setups {
			b.Run(guest.name+"/"+s.name, func(b *testing.B) {
				cfg := s.cfg
				cfg.Dir, cfg.Logger, cfg.CacheDir = guest.dir, slog.New(slog.DiscardHandler), hostileCacheDir()
				srv, err := New(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close(context.Background())
				benchGet(b, srv)
			})
		}
	}
}

func benchGet(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "/api/hello", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req) // warm: instantiate outside the timed loop
	if rec.Code != 200 {
		b.Fatalf("GET /api/hello = %d", rec.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// discardAttrs is a slog.Handler that reads every attribute of a record,
// then drops it: what the access log costs before any encoding.
type discardAttrs struct{}

func (discardAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (discardAttrs) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool { _ = a.Value.Kind(); return true })
	return nil
}
func (d discardAttrs) WithAttrs([]slog.Attr) slog.Handler { return d }
func (d discardAttrs) WithGroup(string) slog.Handler      { return d }
