package runtime

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkObservePaired measures what observing adds to a request of the
// hand-written WAT guest, on a bare ResponseWriter kept from request to
// request, the observed Server alternating with an unobserved one and the
// native handler in blocks of 256 requests, so that the machine's load
// falls on all three alike. It reports each one's ns/req and the
// difference observing makes.
func BenchmarkObservePaired(b *testing.B) {
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
	dir := project(b, map[string]string{"api/hello": "hello"})
	load := func(cfg Config) http.Handler {
		cfg.Dir, cfg.Logger, cfg.CacheDir = dir, slog.New(slog.DiscardHandler), hostileCacheDir()
		s, err := New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello"))
	})
	off := load(Config{})
	req := httptest.NewRequest("GET", "/api/hello", nil)
	for _, s := range []struct {
		name string
		cfg  Config
	}{
		{"metrics", Config{Metrics: metrics()}},
		{"log-discard", Config{AccessLog: slog.New(discardAttrs{})}},
		{"log-json-file", Config{AccessLog: slog.New(slog.NewJSONHandler(file, nil))}},
		{"log-json-file-sampled-0.01", Config{AccessLog: slog.New(slog.NewJSONHandler(file, nil)), AccessLogSample: 0.01}},
		{"metrics+log-json-file", Config{Metrics: metrics(), AccessLog: slog.New(slog.NewJSONHandler(file, nil))}},
	} {
		b.Run(s.name, func(b *testing.B) {
			handlers := [3]http.Handler{native, off, load(s.cfg)}
			w := &benchWriter{h: http.Header{}}
			for _, h := range handlers { // warm: instantiate outside the timed loop
				w.reset()
				h.ServeHTTP(w, req)
			}
			const block = 256
			var spent [3]time.Duration
			for n := 0; n < b.N; n += block {
				for i, h := range handlers {
					start := time.Now()
					for range block {
						w.reset()
						h.ServeHTTP(w, req)
					}
					spent[i] += time.Since(start)
				}
			}
			reqs := float64((b.N + block - 1) / block * block)
			b.ReportMetric(float64(spent[0].Nanoseconds())/reqs, "native-ns/req")
			b.ReportMetric(float64(spent[1].Nanoseconds())/reqs, "off-ns/req")
			b.ReportMetric(float64(spent[2].Nanoseconds())/reqs, "on-ns/req")
			b.ReportMetric(float64((spent[2]-spent[1]).Nanoseconds())/reqs, "added-ns/req")
		})
	}
}
