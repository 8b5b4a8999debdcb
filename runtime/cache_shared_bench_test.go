package runtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmroute/wasmroute/internal/testredis"
)

// BenchmarkCacheHitShared compares, in one run, a hit of the shared cache
// (the entry read from a redis-server on 127.0.0.1: one round trip, a Lua
// script that also marks it used) with a hit of the in-process cache and
// with a native handler serving the same bytes from a map, each through a
// bare ResponseWriter kept from request to request, as BenchmarkCacheHit's
// bare cases.
func BenchmarkCacheHitShared(b *testing.B) {
	dir := cacheProject(b, map[string]string{"static": `{"dynamic": "force-static"}`}, nil)
	local, _ := newServer(b, Config{Dir: dir, CacheDir: hostileCacheDir(), DataDir: b.TempDir()})
	shared, _ := newServer(b, Config{Dir: dir, CacheDir: hostileCacheDir(), KV: testredis.Start(b), SharedCache: true})
	const target = "/static?page=1"
	var body []byte
	for _, s := range []*Server{local, shared} {
		warm := httptest.NewRecorder()
		s.ServeHTTP(warm, httptest.NewRequest("GET", target, nil)) // the miss, outside the timed loop
		if warm.Code != 200 || warm.Header().Get(CacheHeader) != "MISS" {
			b.Fatalf("GET %s = %d %s", target, warm.Code, warm.Header().Get(CacheHeader))
		}
		body = warm.Body.Bytes()
	}
	native := nativeHit(target, body)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"native", native}, {"in-process", local}, {"shared", shared}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", target, nil).WithContext(context.Background())
			w := &benchWriter{h: http.Header{}}
			bc.h.ServeHTTP(w, req)
			if w.status != 200 || w.n != len(body) || w.h.Get(CacheHeader) != "HIT" {
				b.Fatalf("GET %s = %d, %d bytes, %s", target, w.status, w.n, w.h.Get(CacheHeader))
			}
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
