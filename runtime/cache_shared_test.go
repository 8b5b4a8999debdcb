package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valkey-io/valkey-go"

	"github.com/wasmroute/wasmroute/internal/digest"
	"github.com/wasmroute/wasmroute/internal/testredis"
)

// The shared cache tests run replicas, each a Server behind a listener of
// its own, on one project folder and one real redis-server: what a load
// balancer in front of them would see. Their requests carry one Host, as
// a balancer's would (the Host is part of the key).

const sharedHost = "shared.test"

// replica is one Server of a shared cache test.
type replica struct {
	url  string
	logs *syncBuffer
	dir  string // its project
	kv   string // the redis-server's URL
}

// sharedReplicas starts one replica per namespace of namespaces ("" for
// the project folder's), on one copy of the cache guest in routes and one
// redis-server, and returns them and a client of that server.
func sharedReplicas(t *testing.T, cfg Config, routes map[string]string, namespaces ...string) ([]replica, valkey.Client) {
	t.Helper()
	cfg.KV = testredis.Start(t)
	cfg.SharedCache = true
	cfg.Dir = cacheProject(t, routes, nil)
	cfg.CacheDir = hostileCacheDir()
	var out []replica
	for _, ns := range namespaces {
		c := cfg
		c.KVNamespace = ns
		c.DataDir = t.TempDir()
		s, logs := newServer(t, c)
		ts := httptest.NewServer(s)
		t.Cleanup(ts.Close)
		out = append(out, replica{ts.URL, logs, c.Dir, c.KV})
	}
	opt, err := valkey.ParseURL(cfg.KV)
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = true
	rc, err := valkey.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	return out, rc
}

// ask sends method target to a replica with the shared Host.
func ask(t testing.TB, method, target string) cached {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = sharedHost
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return cached{resp.StatusCode, resp.Header.Get(CacheHeader), string(b)}
}

// entryKey is the Redis key of the entry for path and query of the project
// in dir, in namespace ns, asked for with the shared Host.
func entryKey(t *testing.T, ns, dir, path, query string) string {
	build, err := digest.Project(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Under the generations of its path and route, none revalidated: 0.
	return "wasmroute:{" + ns + "}:c:e:" + sharedID(build, path, sharedHost, query) + ":0:0"
}

// TestSharedCacheDeploys: replicas of one deploy share entries; a deploy
// of other code (another project digest) in the same namespace never
// serves the old code's answers, nor the old the new's.
func TestSharedCacheDeploys(t *testing.T) {
	r, _ := sharedReplicas(t, Config{}, map[string]string{"static": `{"dynamic": "force-static"}`}, "site")
	old := r[0].url
	cfg := Config{KV: r[0].kv, SharedCache: true, KVNamespace: "site", CacheDir: hostileCacheDir(), DataDir: t.TempDir()}
	cfg.Dir = cacheProject(t, map[string]string{"static": `{"dynamic": "force-static", "env": {"DEPLOY": "2"}}`}, nil)
	s, _ := newServer(t, cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	for _, step := range []struct {
		url  string
		want cached
	}{
		{old + "/static", cached{200, "MISS", pageBody(1, "/static", "")}},
		{ts.URL + "/static", cached{200, "MISS", pageBody(2, "/static", "")}},
		{old + "/static", cached{200, "HIT", pageBody(1, "/static", "")}},
		{ts.URL + "/static", cached{200, "HIT", pageBody(2, "/static", "")}},
	} {
		if diff := cmp.Diff(step.want, ask(t, "GET", step.url)); diff != "" {
			t.Fatalf("GET %s (-want +got):\n%s", step.url, diff)
		}
	}
}

// TestSharedCache: what one replica stores the other serves, and
// revalidatePath on one drops it for both, by path and by route pattern.
func TestSharedCache(t *testing.T) {
	r, _ := sharedReplicas(t, Config{}, map[string]string{
		"static":      `{"dynamic": "force-static"}`,
		"blog/[slug]": `{"revalidate": false}`,
		"plain":       "",
	}, "site", "site")
	a, b := r[0].url, r[1].url
	revalidate := func(p string) string { return "/static?revalidate=" + url.QueryEscape(p) }
	for _, step := range []struct {
		method, url string
		want        cached
	}{
		{"GET", a + "/static", cached{200, "MISS", pageBody(1, "/static", "")}},
		{"GET", b + "/static", cached{200, "HIT", pageBody(1, "/static", "")}},
		{"HEAD", b + "/static", cached{200, "HIT", ""}},
		{"GET", b + "/blog/x", cached{200, "MISS", pageBody(1, "/blog/x", "")}},
		{"GET", a + "/blog/y", cached{200, "MISS", pageBody(1, "/blog/y", "")}},
		{"GET", a + "/blog/x", cached{200, "HIT", pageBody(1, "/blog/x", "")}},
		{"POST", a + revalidate("/static"), cached{200, "", "ok"}},
		{"GET", b + "/static", cached{200, "MISS", pageBody(2, "/static", "")}},
		{"GET", a + "/static", cached{200, "HIT", pageBody(2, "/static", "")}},
		{"POST", b + revalidate("/blog/[slug]"), cached{200, "", "ok"}},
		{"GET", a + "/blog/x", cached{200, "MISS", pageBody(2, "/blog/x", "")}},
		{"GET", b + "/blog/y", cached{200, "MISS", pageBody(2, "/blog/y", "")}},
		{"GET", b + "/static", cached{200, "HIT", pageBody(2, "/static", "")}},
		{"GET", a + "/plain", cached{200, "", pageBody(1, "/plain", "")}},
	} {
		if diff := cmp.Diff(step.want, ask(t, step.method, step.url)); diff != "" {
			t.Fatalf("%s %s (-want +got):\n%s", step.method, step.url, diff)
		}
	}
}

// TestSharedCacheVary: the answers of a route that varies on
// Accept-Language are told apart across replicas.
func TestSharedCacheVary(t *testing.T) {
	r, _ := sharedReplicas(t, Config{}, map[string]string{"static": `{"dynamic": "force-static"}`}, "site", "site")
	get := func(base, lang string) cached {
		req, _ := http.NewRequest("GET", base+"/static?vary=Accept-Language", nil)
		req.Host = sharedHost
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return cached{resp.StatusCode, resp.Header.Get(CacheHeader), string(body)}
	}
	const q = "vary=Accept-Language"
	want := []cached{
		{200, "MISS", pageBody(1, "/static", q, "en")},
		{200, "HIT", pageBody(1, "/static", q, "en")},
		{200, "MISS", pageBody(2, "/static", q, "fr")},
		{200, "HIT", pageBody(2, "/static", q, "fr")},
		{200, "HIT", pageBody(1, "/static", q, "en")},
	}
	got := []cached{get(r[0].url, "en"), get(r[1].url, "en"), get(r[1].url, "fr"), get(r[0].url, "fr"), get(r[0].url, "en")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GETs in en, en, fr, fr, en across two replicas (-want +got):\n%s", diff)
	}
}

// TestSharedCacheStale: a stale entry is served STALE by every replica
// while one refreshes it.
func TestSharedCacheStale(t *testing.T) {
	r, _ := sharedReplicas(t, Config{}, map[string]string{"short": `{"revalidate": 0.3}`}, "site", "site")
	a, b := r[0].url, r[1].url
	if diff := cmp.Diff(cached{200, "MISS", pageBody(1, "/short", "")}, ask(t, "GET", a+"/short")); diff != "" {
		t.Fatalf("first GET (-want +got):\n%s", diff)
	}
	time.Sleep(400 * time.Millisecond)
	if diff := cmp.Diff(cached{200, "STALE", pageBody(1, "/short", "")}, ask(t, "GET", b+"/short")); diff != "" {
		t.Fatalf("GET past revalidate (-want +got):\n%s", diff)
	}
	want := cached{200, "HIT", pageBody(2, "/short", "")}
	var got cached
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = ask(t, "GET", a+"/short"); got == want {
			return
		}
	}
	t.Errorf("the refreshed answer never reached the other replica: last %+v", got)
}

// TestSharedCacheStampede: 100 requests at once, split across two
// replicas, for a missing key and then for a stale one, run the handler
// once each time (the guest counts its runs in the key-value store, which
// the test reads).
func TestSharedCacheStampede(t *testing.T) {
	r, rc := sharedReplicas(t, Config{}, map[string]string{
		"slow":  `{"dynamic": "force-static"}`,
		"stale": `{"revalidate": 0.5}`,
	}, "site", "site")
	runs := func(path, query string) string {
		v, err := rc.Do(context.Background(), rc.B().Get().Key("wasmroute:{site}:k:runs:"+path+"?"+query).Build()).ToString()
		if err != nil {
			return err.Error()
		}
		return v
	}
	burst := func(target string) map[cached]int {
		var (
			mu  sync.Mutex
			wg  sync.WaitGroup
			got = map[cached]int{}
		)
		for i := range 100 {
			wg.Go(func() {
				c := ask(t, "GET", r[i%2].url+target)
				mu.Lock()
				got[c]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return got
	}

	const q = "sleep=300"
	got := burst("/slow?" + q)
	if n := got[cached{200, "MISS", pageBody(1, "/slow", q)}] + got[cached{200, "HIT", pageBody(1, "/slow", q)}]; n != 100 {
		t.Errorf("100 GETs of a missing key: %v", got)
	}
	if got := runs("/slow", q); got != "1" {
		t.Errorf("the handler ran %s times for 100 GETs of a missing key, want 1", got)
	}

	ask(t, "GET", r[0].url+"/stale?"+q)
	time.Sleep(600 * time.Millisecond)
	got = burst("/stale?" + q)
	if n := got[cached{200, "STALE", pageBody(1, "/stale", q)}]; n == 0 || n+got[cached{200, "HIT", pageBody(2, "/stale", q)}] != 100 {
		t.Errorf("100 GETs of a stale key: %v", got)
	}
	want := cached{200, "HIT", pageBody(2, "/stale", q)}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ask(t, "GET", r[1].url+"/stale?"+q) == want {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // any second refresh would have run by now
	if got := runs("/stale", q); got != "2" {
		t.Errorf("the handler ran %s times for the first GET and 100 GETs of its stale answer, want 2", got)
	}
}

// TestSharedCacheBound: the entries of a namespace stay within its bytes,
// the least recently used going first, whichever replica stored or read
// them.
func TestSharedCacheBound(t *testing.T) {
	const max = 32 << 10
	r, rc := sharedReplicas(t, Config{MaxCacheBytes: max}, map[string]string{"b": `{"dynamic": "force-static"}`}, "site", "site")
	target := func(i int) string { return fmt.Sprintf("/b?i=%d&size=400", i) }
	for i := range 60 {
		if c := ask(t, "GET", r[i%2].url+target(i)); c.Cache != "MISS" {
			t.Fatalf("GET %s: %s", target(i), c.Cache)
		}
		if c := ask(t, "GET", r[(i+1)%2].url+target(0)); c.Cache != "HIT" {
			t.Fatalf("GET %s after storing %d: %s", target(0), i, c.Cache)
		}
	}
	ctx := context.Background()
	total, err := rc.Do(ctx, rc.B().Get().Key("wasmroute:{site}:c:bytes").Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := rc.Do(ctx, rc.B().Hvals().Key("wasmroute:{site}:c:meta").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, m := range meta {
		n, _ := strconv.ParseInt(strings.Fields(m)[0], 10, 64)
		sum += n
	}
	if total > max || total != sum || len(meta) < 20 || len(meta) >= 60 {
		t.Errorf("after 60 entries: %d bytes counted, %d in %d entries; want them equal, within %d, and some entries gone", total, sum, len(meta), max)
	}
	var got []string
	for _, i := range []int{0, 1, 59} {
		got = append(got, ask(t, "GET", r[0].url+target(i)).Cache)
	}
	if diff := cmp.Diff([]string{"HIT", "MISS", "HIT"}, got); diff != "" {
		t.Errorf("the entry used most, the oldest, the newest (-want +got):\n%s", diff)
	}
}

// TestSharedCacheNamespaces: projects (tenants) in other namespaces of one
// server, asked for the same Host and path, never see each other's
// entries, nor drop them.
func TestSharedCacheNamespaces(t *testing.T) {
	r, _ := sharedReplicas(t, Config{}, map[string]string{"static": `{"dynamic": "force-static"}`}, "acme", "evil", "acme")
	acme, evil, acme2 := r[0].url, r[1].url, r[2].url
	for _, step := range []struct {
		method, url string
		want        cached
	}{
		{"GET", acme + "/static", cached{200, "MISS", pageBody(1, "/static", "")}},
		{"GET", evil + "/static", cached{200, "MISS", pageBody(1, "/static", "")}},
		{"GET", acme2 + "/static", cached{200, "HIT", pageBody(1, "/static", "")}},
		{"POST", evil + "/static?revalidate=/static", cached{200, "", "ok"}},
		{"GET", acme2 + "/static", cached{200, "HIT", pageBody(1, "/static", "")}},
		{"GET", evil + "/static", cached{200, "MISS", pageBody(2, "/static", "")}},
	} {
		if diff := cmp.Diff(step.want, ask(t, step.method, step.url)); diff != "" {
			t.Fatalf("%s %s (-want +got):\n%s", step.method, step.url, diff)
		}
	}
}

// TestSharedCacheCorrupt: an entry in Redis that does not decode, whatever
// it holds, is a miss (logged), and the handler's answer replaces it.
func TestSharedCacheCorrupt(t *testing.T) {
	r, rc := sharedReplicas(t, Config{}, map[string]string{"static": `{"dynamic": "force-static"}`}, "site", "site")
	ctx := context.Background()
	key := entryKey(t, "site", r[0].dir, "/static", "")
	ask(t, "GET", r[0].url+"/static")
	good, err := rc.Do(ctx, rc.B().Get().Key(key).Build()).AsBytes()
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte{kindEntry, 0, 0, 1, 0, 0, 0, 0, 0, 0, 200}, 0xff, 0xff, 0xff, 0xff, 0x0f)
	for _, tt := range []struct {
		name  string
		value []byte
	}{
		{"garbage", []byte("not an entry")},
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(good[:len(good):len(good)], 0)},
		{"header count past the end", huge},
		{"status 500", append(append(good[:9:9], 1, 0xf4), good[11:]...)},
		{"bad header name", append(append([]byte{kindEntry}, good[1:11]...), 1, 3, 'a', ' ', 'b', 1, 1, 'x', 0)},
		{"Content-Length stored", append(append([]byte{kindEntry}, good[1:11]...), 1, 14, 'C', 'o', 'n', 't', 'e', 'n', 't', '-', 'L', 'e', 'n', 'g', 't', 'h', 1, 1, '9', 0)},
		{"vary names past the end", []byte{kindVary, 0xff, 0xff, 0x03}},
		{"vary name not a token", []byte{kindVary, 1, 2, 'a', '\n'}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := rc.Do(ctx, rc.B().Set().Key(key).Value(valkey.BinaryString(tt.value)).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			before := strings.Count(r[1].logs.String(), "does not decode")
			got := []cached{ask(t, "GET", r[1].url+"/static"), ask(t, "GET", r[0].url+"/static")}
			if got[0].Cache != "MISS" || got[0].Status != 200 || got[1].Cache != "HIT" || got[1].Body != got[0].Body {
				t.Errorf("GET on the replica that reads it, then on the other: %+v", got)
			}
			if after := strings.Count(r[1].logs.String(), "does not decode"); after != before+1 {
				t.Errorf("%d log lines of an entry that does not decode, want 1", after-before)
			}
		})
	}
}

// TestSharedCacheRedisDown: while Redis is slow and once it is gone, the
// cached routes answer 200 MISS (their handler runs), as does a route
// without cache, and the failure is logged once per backoff window.
func TestSharedCacheRedisDown(t *testing.T) {
	r, rc := sharedReplicas(t, Config{}, map[string]string{"static": `{"dynamic": "force-static"}`, "plain": ""}, "site", "site")
	const target = "/static?nokv=1"
	want := cached{200, "MISS", pageBody(0, "/static", "nokv=1")}
	if diff := cmp.Diff(want, ask(t, "GET", r[0].url+target)); diff != "" {
		t.Fatalf("first GET (-want +got):\n%s", diff)
	}
	want.Cache = "HIT"
	if diff := cmp.Diff(want, ask(t, "GET", r[1].url+target)); diff != "" {
		t.Fatalf("GET on the other replica (-want +got):\n%s", diff)
	}

	// Slow: a script keeps the server busy for 1.5 s.
	busy := make(chan error, 1)
	go func() {
		busy <- rc.Do(context.Background(), rc.B().Eval().Script(`local s = redis.call('TIME')
while true do
  local t = redis.call('TIME')
  if (t[1] - s[1]) * 1000000 + (t[2] - s[2]) > 1500000 then return 0 end
end`).Numkeys(0).Build()).Error()
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	want.Cache = "MISS"
	if diff := cmp.Diff(want, ask(t, "GET", r[1].url+target)); diff != "" {
		t.Errorf("GET while Redis is busy (-want +got):\n%s", diff)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("GET while Redis is busy took %v", d)
	}
	if err := <-busy; err != nil {
		t.Fatalf("the busy script: %v", err)
	}

	// Gone.
	rc.Do(context.Background(), rc.B().Shutdown().Nosave().Build()) // its connection ends with it
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	for i := range 20 {
		if diff := cmp.Diff(want, ask(t, "GET", r[i%2].url+target)); diff != "" {
			t.Fatalf("GET %d with Redis gone (-want +got):\n%s", i, diff)
		}
		if c := ask(t, "GET", r[i%2].url+"/plain?nokv=1"); c.Status != 200 || c.Body != pageBody(0, "/plain", "nokv=1") {
			t.Fatalf("the route without cache, with Redis gone: %+v", c)
		}
	}
	if c := ask(t, "POST", r[0].url+"/static?revalidate=/static"); c.Status != 400 || !strings.Contains(c.Body, "unavailable") {
		t.Errorf("revalidatePath with Redis gone: %+v", c)
	}
	windows := int(time.Since(start)/sharedBackoff) + 2 // the slow spell's, and each window's since
	for i, rep := range r {
		if n := strings.Count(rep.logs.String(), "shared response cache is unavailable"); n < 1 || n > windows {
			t.Errorf("replica %d logged the failure %d times in %d backoff windows:\n%s", i, n, windows, rep.logs)
		}
	}
}

// TestSharedCacheConfig: the shared cache needs a Redis store, for a
// project as for tenants.
func TestSharedCacheConfig(t *testing.T) {
	dir := cacheProject(t, map[string]string{"static": `{"dynamic": "force-static"}`}, nil)
	for _, kv := range []string{"", "redis://127.0.0.1:1"} {
		s, err := New(context.Background(), Config{Dir: dir, CacheDir: hostileCacheDir(), KV: kv, SharedCache: true, LazyCompile: true})
		if s != nil {
			s.Close(context.Background())
		}
		if got := err != nil && strings.Contains(err.Error(), "--kv redis://"); got != (kv == "") {
			t.Errorf("KV %q: %v", kv, err)
		}
	}
	_, err := NewTenants(context.Background(), TenantsConfig{Dir: t.TempDir(), Domain: "test", Project: Config{SharedCache: true}})
	if err == nil || !strings.Contains(err.Error(), "--kv redis://") {
		t.Errorf("Tenants without a Redis store: %v", err)
	}
}

// TestSharedEntryDecode: an entry encodes and decodes back, and every
// prefix of it, and every one-byte change of its lengths, is refused or
// decodes without panicking.
func TestSharedEntryDecode(t *testing.T) {
	a := &capture{status: 200, header: http.Header{"Content-Type": {"text/plain"}, "X-Two": {"a", "b"}, "Date": {"skipped"}}, body: []byte("hello")}
	now := time.UnixMilli(1_700_000_000_123)
	b := encodeEntry(a, now)
	e, ok := decodeEntry(b)
	if !ok {
		t.Fatal("a fresh encoding does not decode")
	}
	want := []headerValues{{"Content-Type", []string{"text/plain"}}, {"X-Two", []string{"a", "b"}}, {"Content-Length", []string{"5"}}}
	if diff := cmp.Diff(want, e.header, cmp.AllowUnexported(headerValues{})); diff != "" || string(e.body) != "hello" || !e.stored.Equal(now) {
		t.Errorf("decoded: body %q stored %v, header (-want +got):\n%s", e.body, e.stored, diff)
	}
	for i := range b {
		if _, ok := decodeEntry(b[:i]); ok {
			t.Errorf("the first %d of %d bytes decode", i, len(b))
		}
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		decodeEntry(c) // may decode (a changed byte of the body): must not panic
	}
	names := []string{"Accept", "Accept-Language"}
	if got, ok := decodeVary(encodeVary(names)); !ok || !cmp.Equal(names, got) {
		t.Errorf("a Vary record decodes to %v, %v", got, ok)
	}
}

// FuzzSharedEntry: no bytes Redis returns make the decoders panic or
// allocate past what they hold.
func FuzzSharedEntry(f *testing.F) {
	f.Add(encodeEntry(&capture{status: 200, header: http.Header{"A": {"b"}}, body: []byte("x")}, time.Now()))
	f.Add(encodeVary([]string{"Accept"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, ok := decodeEntry(b); ok && len(e.body) > len(b) {
			t.Errorf("a body of %d bytes from %d", len(e.body), len(b))
		}
		if len(b) > 0 {
			decodeVary(b)
		}
	})
}

// TestSharedCacheNoRedis: a Redis server that never answered leaves the
// cached routes answering from their handler (MISS), each request within
// its bounded wait for the store, as does a route without cache.
func TestSharedCacheNoRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	srv, logs := serveCache(t, Config{KV: "redis://" + addr, SharedCache: true}, map[string]string{"static": `{"dynamic": "force-static"}`, "plain": ""})
	for i := range 3 {
		start := time.Now()
		want := cached{200, "MISS", pageBody(0, "/static", "nokv=1")}
		if diff := cmp.Diff(want, ask(t, "GET", srv+"/static?nokv=1")); diff != "" {
			t.Errorf("GET %d (-want +got):\n%s", i, diff)
		}
		if d := time.Since(start); d > sharedOpenWait+time.Second {
			t.Errorf("GET %d took %v", i, d)
		}
		if c := ask(t, "GET", srv+"/plain?nokv=1"); c.Status != 200 {
			t.Errorf("the route without cache: %+v", c)
		}
	}
	if !strings.Contains(logs.String(), "key-value store is unavailable") {
		t.Errorf("the failure is not logged:\n%s", logs)
	}
}

// TestSharedCacheTenants: with Tenants, each tenant's entries live in its
// own namespace of the shared server.
func TestSharedCacheTenants(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"acme", "evil"} {
		if err := os.Rename(cacheProject(t, map[string]string{"static": `{"dynamic": "force-static"}`}, nil), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	redis := testredis.Start(t)
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: root, Domain: "test", Project: Config{
		CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler), KV: redis, SharedCache: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	srv := httptest.NewServer(ts)
	defer srv.Close()
	get := func(tenant string) cached { return getHost(t, srv.URL+"/static", tenant+".test") }
	want := []cached{
		{200, "MISS", pageBody(1, "/static", "")},
		{200, "MISS", pageBody(1, "/static", "")},
		{200, "HIT", pageBody(1, "/static", "")},
	}
	if diff := cmp.Diff(want, []cached{get("acme"), get("evil"), get("acme")}); diff != "" {
		t.Errorf("GET as acme, evil, acme (-want +got):\n%s", diff)
	}
	opt, _ := valkey.ParseURL(redis)
	opt.DisableCache = true
	rc, err := valkey.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, name := range []string{"acme", "evil"} {
		keys, err := rc.Do(context.Background(), rc.B().Keys().Pattern("wasmroute:{"+name+"}:c:e:*").Build()).AsStrSlice()
		if err != nil || len(keys) != 1 {
			t.Errorf("tenant %s's entries: %v, %v", name, keys, err)
		}
	}
}
