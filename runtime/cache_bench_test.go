package runtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// benchWriter is a ResponseWriter kept from request to request, so that the
// benchmark measures the handlers rather than a recorder's allocations.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }
func (w *benchWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// BenchmarkCacheHit compares a cache hit (GET of a force-static Go route,
// through the runtime's http.Handler) with a native handler serving the
// same bytes (body and header, X-Wasmroute-Cache and Age included) from a
// map, in process, in one run: written to an
// httptest.NewRecorder per request, as BenchmarkHello does, and to a bare
// ResponseWriter kept from request to request (the handlers' own cost
// alone, routing included for wasmroute).
func BenchmarkCacheHit(b *testing.B) {
	dir := cacheProject(b, map[string]string{"static": `{"dynamic": "force-static"}`}, nil)
	s, _ := newServer(b, Config{Dir: dir, CacheDir: hostileCacheDir(), DataDir: b.TempDir()})
	const target = "/static?page=1"
	warm := httptest.NewRecorder()
	s.ServeHTTP(warm, httptest.NewRequest("GET", target, nil)) // the miss, outside the timed loop
	if warm.Code != 200 || warm.Header().Get(CacheHeader) != "MISS" {
		b.Fatalf("GET %s = %d %s", target, warm.Code, warm.Header().Get(CacheHeader))
	}
	body := warm.Body.Bytes()

	type stored struct {
		header http.Header
		body   []byte
	}
	// The same bytes: the body and every header of the hit (Date aside,
	// which net/http adds to both).
	pages := map[string]stored{target: {http.Header{
		"Content-Type":   {"text/plain"},
		"Content-Length": {strconv.Itoa(len(body))},
		CacheHeader:      {"HIT"},
		"Age":            {"0"},
	}, body}}
	native := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Path+"?"+r.URL.RawQuery]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, v := range p.header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(p.body)
	})

	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"native", native}, {"wasmroute", s}} {
		b.Run("recorder/"+bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil)
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"native", native}, {"wasmroute", s}} {
		b.Run("bare/"+bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil).WithContext(context.Background())
			w := &benchWriter{h: http.Header{}}
			bc.h.ServeHTTP(w, req)
			if w.status != 200 || w.n != len(body) {
				b.Fatalf("GET %s = %d, %d bytes", target, w.status, w.n)
			}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkCacheHitPaired serves the same hit as BenchmarkCacheHit, native
// and wasmroute alternating in blocks of 256 requests, and reports each
// one's ns per request and their ratio: on a shared machine, the load of
// the moment weighs on both alike.
func BenchmarkCacheHitPaired(b *testing.B) {
	dir := cacheProject(b, map[string]string{"static": `{"dynamic": "force-static"}`}, nil)
	s, _ := newServer(b, Config{Dir: dir, CacheDir: hostileCacheDir(), DataDir: b.TempDir()})
	const target = "/static?page=1"
	warm := httptest.NewRecorder()
	s.ServeHTTP(warm, httptest.NewRequest("GET", target, nil))
	body := warm.Body.Bytes()
	native := nativeHit(target, body)
	req := httptest.NewRequest("GET", target, nil)
	handlers := [2]http.Handler{native, s}
	for _, mode := range []string{"bare", "recorder"} {
		b.Run(mode, func(b *testing.B) {
			bare := &benchWriter{h: http.Header{}}
			const block = 256
			var spent [2]time.Duration
			for n := 0; n < b.N; n += block {
				for i, h := range handlers {
					start := time.Now()
					for range block {
						if mode == "bare" {
							bare.reset()
							h.ServeHTTP(bare, req)
						} else {
							h.ServeHTTP(httptest.NewRecorder(), req)
						}
					}
					spent[i] += time.Since(start)
				}
			}
			reqs := float64((b.N + block - 1) / block * block)
			b.ReportMetric(float64(spent[0].Nanoseconds())/reqs, "native-ns/req")
			b.ReportMetric(float64(spent[1].Nanoseconds())/reqs, "wasmroute-ns/req")
			b.ReportMetric(float64(spent[1])/float64(spent[0]), "ratio")
		})
	}
}

// nativeHit is the native handler a hit is measured against: it serves
// body, for target, from a map, with the head a hit of the cache has.
func nativeHit(target string, body []byte) http.Handler {
	header := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {strconv.Itoa(len(body))}, CacheHeader: {"HIT"}, "Age": {"0"}}
	pages := map[string][]byte{target: body}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Path+"?"+r.URL.RawQuery]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, v := range header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(p)
	})
}
