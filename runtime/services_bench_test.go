package runtime

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valkey-io/valkey-go"
	bolt "go.etcd.io/bbolt"

	"github.com/wasmroute/wasmroute/internal/testredis"
)

// BenchmarkFetchProxy proxies a loopback upstream's small answer: through
// a Go guest's route.Fetch (fetch_start, fetch_poll, fetch_head,
// fetch_body_read, fetch_close), and through a native Go handler doing the
// same with an http.Client, in the same run. The difference is what a
// guest's fetch adds to the upstream's own latency.
func BenchmarkFetchProxy(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from upstream")
	}))
	defer upstream.Close()
	var conns atomic.Int64
	upstream.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	target := "/proxy?url=" + q(upstream.URL+"/hello")
	defer func() { b.Logf("upstream connections: %d", conns.Load()) }()

	b.Run("native", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resp, err := client.Get(r.URL.Query().Get("url"))
			if err != nil {
				w.WriteHeader(502)
				return
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
		})
		benchProxy(b, h, target)
	})
	b.Run("go-guest", func(b *testing.B) {
		s := benchServices(b, Config{AllowedOutboundHosts: []string{upstream.URL}})
		benchProxy(b, s, target)
	})
	b.Run("wat-guest", func(b *testing.B) {
		s := benchServices(b, Config{AllowedOutboundHosts: []string{upstream.URL}})
		benchProxy(b, s, "/wat-fetch?"+upstream.URL+"/hello")
	})
	b.Run("ts-guest", func(b *testing.B) {
		s := benchServices(b, Config{AllowedOutboundHosts: []string{upstream.URL}})
		benchProxy(b, s, "/ts-proxy?url="+q(upstream.URL+"/hello"))
	})
}

// tsProxy is the Go guest's proxy route in TypeScript.
const tsProxy = `export async function GET(request: Request) {
  const res = await fetch(new URL(request.url).searchParams.get('url')!)
  return new Response(res.body, { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? '' } })
}
`

func benchProxy(b *testing.B, h http.Handler, target string) {
	if got := do(h, "GET", target, ""); got.Status != 200 || got.Body != "hello from upstream" {
		b.Fatalf("GET %s = %d %q", target, got.Status, got.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// benchServices serves testdata/services in process, with the WAT guests
// testdata/wat/fetch.wasm and kvget.wasm as /wat-fetch and /wat-kvget, and
// tsProxy as /ts-proxy.
func benchServices(b *testing.B, cfg Config) *Server {
	cfg.Dir = servicesProject(b, nil)
	for route, fixture := range map[string]string{"wat-fetch": "fetch", "wat-kvget": "kvget"} {
		hostileCopy(b, filepath.Join("..", "testdata", "wat", fixture+".wasm"), filepath.Join(cfg.Dir, "app", route, "route.wasm"))
	}
	writeFile(b, filepath.Join(cfg.Dir, "app", "ts-proxy", "route.ts"), tsProxy)
	cfg.CacheDir = hostileCacheDir()
	if cfg.DataDir == "" {
		cfg.DataDir = b.TempDir()
	}
	s, _ := newServer(b, cfg)
	return s
}

// BenchmarkKVGet reads a 100-byte value: from a Go guest (100 kv.Get per
// request, the request's own cost spread over them), and with the
// backend's own Go client on the same kind of data (a bbolt file of its
// own, the same redis-server), in the same run. It reports ns/get.
func BenchmarkKVGet(b *testing.B) {
	const perRequest = 100
	value := strings.Repeat("v", 100)
	for _, backend := range []string{"embedded", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var (
				cfg   Config
				rdb   valkey.Client
				bdb   *bolt.DB
				err   error
				ctx   = context.Background()
				perOp = func(b *testing.B) {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perRequest), "ns/get")
				}
			)
			if backend == "redis" {
				cfg.KV = testredis.Start(b)
				rdb, err = valkey.NewClient(valkey.ClientOption{InitAddress: []string{strings.TrimPrefix(cfg.KV, "redis://")}, DisableCache: true})
				if err != nil {
					b.Fatal(err)
				}
				defer rdb.Close()
				if err := rdb.Do(ctx, rdb.B().Set().Key("raw").Value(value).Build()).Error(); err != nil {
					b.Fatal(err)
				}
			} else {
				if bdb, err = bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil); err != nil {
					b.Fatal(err)
				}
				defer bdb.Close()
				bdb.Update(func(tx *bolt.Tx) error {
					bk, _ := tx.CreateBucketIfNotExists([]byte("ns"))
					return bk.Put([]byte("raw"), []byte(value))
				})
			}
			b.Run("client", func(b *testing.B) {
				for b.Loop() {
					for range perRequest {
						if rdb != nil {
							if _, err := rdb.Do(ctx, rdb.B().Get().Key("raw").Build()).AsBytes(); err != nil {
								b.Fatal(err)
							}
							continue
						}
						bdb.View(func(tx *bolt.Tx) error {
							if v := tx.Bucket([]byte("ns")).Get([]byte("raw")); len(v) != len(value) {
								b.Fatal("bad value")
							}
							return nil
						})
					}
				}
				perOp(b)
			})
			b.Run("wat-guest", func(b *testing.B) {
				s := benchServices(b, cfg)
				if got := do(s, "GET", "/kv?op=set&key=k&value="+value, ""); got.Status != 200 {
					b.Fatal(got)
				}
				if got := do(s, "GET", "/wat-kvget", ""); got.Body != string(rune(len(value))) {
					b.Fatalf("GET /wat-kvget = %q", got.Body)
				}
				for b.Loop() {
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, httptest.NewRequest("GET", "/wat-kvget", nil))
				}
				perOp(b)
			})
			b.Run("go-guest", func(b *testing.B) {
				s := benchServices(b, cfg)
				if got := do(s, "GET", "/kv?op=set&key=k&value="+value, ""); got.Status != 200 {
					b.Fatal(got)
				}
				target := "/kv?op=getn&key=k&n=" + strconv.Itoa(perRequest)
				if got := do(s, "GET", target, ""); got.Body != `{"bytes":`+strconv.Itoa(perRequest*len(value))+`}` {
					b.Fatal(got)
				}
				for b.Loop() {
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
				}
				perOp(b)
			})
		})
	}
}
