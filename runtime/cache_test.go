package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// The cache tests serve testdata/cache's guest (README there) behind a real
// listener, copied into route folders whose route.json opts into caching.

var (
	cacheGuestOnce sync.Once
	cacheGuestErr  error
)

// cacheProject returns a new project folder with the cache guest in each
// route folder of routes (a folder to its route.json, "" for none) and
// files (a path in the project to its content).
func cacheProject(t testing.TB, routes, files map[string]string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "cache")
	cacheGuestOnce.Do(func() {
		cacheGuestErr = build.Go(context.Background(), src, []string{"page"}, nil)
	})
	if cacheGuestErr != nil {
		t.Fatal(cacheGuestErr)
	}
	dir := t.TempDir()
	for folder, conf := range routes {
		hostileCopy(t, filepath.Join(src, "app", "page", "route.wasm"), filepath.Join(dir, "app", filepath.FromSlash(folder), "route.wasm"))
		if conf != "" {
			writeFile(t, filepath.Join(dir, "app", filepath.FromSlash(folder), "route.json"), conf)
		}
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), content)
	}
	return dir
}

// serveCache serves a cache project on 127.0.0.1.
func serveCache(t *testing.T, cfg Config, routes map[string]string) (string, *syncBuffer) {
	t.Helper()
	cfg.Dir = cacheProject(t, routes, nil)
	cfg.CacheDir = hostileCacheDir()
	cfg.DataDir = t.TempDir()
	s, logs := newServer(t, cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL, logs
}

// cached is what a client got from a cached route.
type cached struct {
	Status int
	Cache  string // X-Wasmroute-Cache
	Body   string
}

func fetchCached(t testing.TB, method, target string, header http.Header) (cached, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return cached{resp.StatusCode, resp.Header.Get(CacheHeader), string(b)}, resp.Header
}

func getCached(t testing.TB, target string, header ...string) cached {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	c, _ := fetchCached(t, "GET", target, h)
	return c
}

// pageBody is the cache guest's line for its nth run.
func pageBody(n int, path, query string, lang ...string) string {
	l := ""
	if len(lang) > 0 {
		l = lang[0]
	}
	return fmt.Sprintf("run=%d path=%s query=%s lang=%s auth= cookie=\n", n, path, query, l)
}

func TestCache(t *testing.T) {
	srv, logs := serveCache(t, Config{MaxCacheBytes: 1 << 20}, map[string]string{
		"static":      `{"dynamic": "force-static"}`,
		"blog/[slug]": `{"revalidate": false}`,
		"short":       `{"revalidate": 0.3}`,
		"off":         `{"revalidate": 0, "dynamic": "force-static"}`,
		"live":        "",
	})
	steps := func(t *testing.T, steps []struct {
		target string
		header []string
		want   cached
	}) {
		t.Helper()
		for i, s := range steps {
			if diff := cmp.Diff(s.want, getCached(t, srv+s.target, s.header...)); diff != "" {
				t.Errorf("step %d: GET %s %v (-want +got):\n%s", i, s.target, s.header, diff)
			}
		}
	}
	type step = struct {
		target string
		header []string
		want   cached
	}

	t.Run("miss then hit", func(t *testing.T) {
		steps(t, []step{
			{"/static?a", nil, cached{200, "MISS", pageBody(1, "/static", "a")}},
			{"/static?a", nil, cached{200, "HIT", pageBody(1, "/static", "a")}},
			{"/static?a", nil, cached{200, "HIT", pageBody(1, "/static", "a")}},
		})
		_, h := fetchCached(t, "GET", srv+"/static?a", nil)
		if got := []string{h.Get("Content-Length"), h.Get("Content-Type"), h.Get("Age")}; !cmp.Equal([]string{fmt.Sprint(len(pageBody(1, "/static", "a"))), "text/plain", "0"}, got) {
			t.Errorf("a hit's Content-Length, Content-Type, Age = %q", got)
		}
	})
	t.Run("HEAD from the GET entry", func(t *testing.T) {
		getCached(t, srv+"/static?head")
		got, h := fetchCached(t, "HEAD", srv+"/static?head", nil)
		if diff := cmp.Diff(cached{200, "HIT", ""}, got); diff != "" {
			t.Errorf("HEAD (-want +got):\n%s", diff)
		}
		if want := fmt.Sprint(len(pageBody(1, "/static", "head"))); h.Get("Content-Length") != want {
			t.Errorf("HEAD Content-Length = %q, want %s", h.Get("Content-Length"), want)
		}
		// A HEAD that misses runs the handler and stores nothing: its body
		// was never written.
		got, _ = fetchCached(t, "HEAD", srv+"/static?headfirst", nil)
		if diff := cmp.Diff(cached{200, "MISS", ""}, got); diff != "" {
			t.Errorf("HEAD miss (-want +got):\n%s", diff)
		}
		steps(t, []step{{"/static?headfirst", nil, cached{200, "MISS", pageBody(2, "/static", "headfirst")}}})
	})
	t.Run("the query separates keys", func(t *testing.T) {
		steps(t, []step{
			{"/static?q=1", nil, cached{200, "MISS", pageBody(1, "/static", "q=1")}},
			{"/static?q=2", nil, cached{200, "MISS", pageBody(1, "/static", "q=2")}},
			{"/static?q=1", nil, cached{200, "HIT", pageBody(1, "/static", "q=1")}},
			{"/static", nil, cached{200, "MISS", pageBody(1, "/static", "")}},
		})
	})
	t.Run("the Host separates keys", func(t *testing.T) {
		getCached(t, srv+"/static?host")
		req, _ := http.NewRequest("GET", srv+"/static?host", nil)
		req.Host = "evil.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get(CacheHeader); got != "MISS" {
			t.Errorf("another Host got %s, want MISS", got)
		}
		steps(t, []step{{"/static?host", nil, cached{200, "HIT", pageBody(1, "/static", "host")}}})
	})
	t.Run("Vary", func(t *testing.T) {
		q := "vary=Accept-Language"
		steps(t, []step{
			{"/static?" + q, []string{"Accept-Language", "en"}, cached{200, "MISS", pageBody(1, "/static", q, "en")}},
			{"/static?" + q, []string{"Accept-Language", "fr"}, cached{200, "MISS", pageBody(2, "/static", q, "fr")}},
			{"/static?" + q, []string{"Accept-Language", "en"}, cached{200, "HIT", pageBody(1, "/static", q, "en")}},
			{"/static?" + q, []string{"Accept-Language", "fr"}, cached{200, "HIT", pageBody(2, "/static", q, "fr")}},
		})
	})
	t.Run("not stored", func(t *testing.T) {
		for _, q := range []string{"cookie=1", "cc=private", "cc=no-store", "cc=max-age%3D60,%20no-cache", "status=404", "vary=*", "size=200000"} {
			for n := 1; n <= 2; n++ {
				got := getCached(t, srv+"/static?"+q)
				if got.Cache != "MISS" || !strings.HasPrefix(got.Body, fmt.Sprintf("run=%d ", n)) {
					t.Errorf("GET /static?%s #%d = %s, %.20q: want MISS and run=%d", q, n, got.Cache, got.Body, n)
				}
			}
		}
	})
	t.Run("the handler never sees credentials", func(t *testing.T) {
		steps(t, []step{
			{"/static?creds", []string{"Authorization", "Bearer alice", "Cookie", "session=alice"}, cached{200, "MISS", pageBody(1, "/static", "creds")}},
			{"/static?creds", nil, cached{200, "HIT", pageBody(1, "/static", "creds")}},
		})
	})
	t.Run("stale then fresh", func(t *testing.T) {
		steps(t, []step{{"/short?s", nil, cached{200, "MISS", pageBody(1, "/short", "s")}}})
		time.Sleep(400 * time.Millisecond)
		steps(t, []step{{"/short?s", nil, cached{200, "STALE", pageBody(1, "/short", "s")}}})
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got := getCached(t, srv+"/short?s")
			if got == (cached{200, "HIT", pageBody(2, "/short", "s")}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no fresh answer 5s after a stale one: %+v", got)
			}
		}
	})
	t.Run("a failed refresh keeps the stale answer", func(t *testing.T) {
		q := "failafter=1"
		steps(t, []step{{"/short?" + q, nil, cached{200, "MISS", pageBody(1, "/short", q)}}})
		time.Sleep(400 * time.Millisecond)
		steps(t, []step{{"/short?" + q, nil, cached{200, "STALE", pageBody(1, "/short", q)}}})
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "cache refresh not stored"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no failed refresh logged in 5s:\n%s", logs)
			}
		}
		steps(t, []step{{"/short?" + q, nil, cached{200, "STALE", pageBody(1, "/short", q)}}})
	})
	t.Run("revalidatePath", func(t *testing.T) {
		steps(t, []step{
			{"/static?r", nil, cached{200, "MISS", pageBody(1, "/static", "r")}},
			{"/static?r=2", nil, cached{200, "MISS", pageBody(1, "/static", "r=2")}},
			{"/blog/a", nil, cached{200, "MISS", pageBody(1, "/blog/a", "")}},
			{"/blog/b", nil, cached{200, "MISS", pageBody(1, "/blog/b", "")}},
		})
		post := func(path string) answer {
			t.Helper()
			resp, err := http.Post(srv+"/static?revalidate="+q(path), "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return answer{status: resp.StatusCode, body: string(b)}
		}
		if a := post("/static"); a.status != 200 {
			t.Fatalf("revalidate /static: %d %q", a.status, a.body)
		}
		steps(t, []step{
			{"/static?r", nil, cached{200, "MISS", pageBody(2, "/static", "r")}},
			{"/static?r=2", nil, cached{200, "MISS", pageBody(2, "/static", "r=2")}},
			{"/blog/a", nil, cached{200, "HIT", pageBody(1, "/blog/a", "")}},
		})
		if a := post("/blog/[slug]"); a.status != 200 {
			t.Fatalf("revalidate /blog/[slug]: %d %q", a.status, a.body)
		}
		steps(t, []step{
			{"/blog/a", nil, cached{200, "MISS", pageBody(2, "/blog/a", "")}},
			{"/blog/b", nil, cached{200, "MISS", pageBody(2, "/blog/b", "")}},
			{"/static?r", nil, cached{200, "HIT", pageBody(2, "/static", "r")}},
		})
		if a := post("static"); a.status != 400 || !strings.Contains(a.body, `cache revalidate "static": want a path that starts with /`) {
			t.Errorf("revalidate of a bad path = %d %q", a.status, a.body)
		}
	})
	t.Run("off", func(t *testing.T) {
		for n := 1; n <= 2; n++ {
			if got := getCached(t, srv+"/off"); got != (cached{200, "", pageBody(n, "/off", "")}) {
				t.Errorf("revalidate 0, GET #%d = %+v", n, got)
			}
		}
	})
	t.Run("a healthy route keeps answering", func(t *testing.T) {
		if got := getCached(t, srv+"/live"); got != (cached{200, "", pageBody(1, "/live", "")}) {
			t.Errorf("GET /live = %+v", got)
		}
	})
}

// TestCacheStampede: concurrent misses of one key run the handler once, and
// so do concurrent requests for a stale key (one background refresh).
func TestCacheStampede(t *testing.T) {
	srv, _ := serveCache(t, Config{Limits: Limits{MaxInstances: 4}}, map[string]string{
		"herd": `{"revalidate": 2}`,
		"live": "",
	})
	const n = 100
	storm := func(target string) map[cached]int {
		var (
			mu  sync.Mutex
			got = map[cached]int{}
			wg  sync.WaitGroup
		)
		for range n {
			wg.Go(func() {
				c := getCached(t, target)
				mu.Lock()
				got[c]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return got
	}
	q := "sleep=400"
	target := srv + "/herd?" + q
	start := time.Now()
	got := storm(target)
	first := cached{200, "MISS", pageBody(1, "/herd", q)}
	if got[first] != 1 || len(got) != 2 || got[cached{200, "HIT", first.Body}] != n-1 {
		t.Fatalf("%d concurrent misses: %v; want one MISS (run=1), the rest HIT the same answer", n, got)
	}
	time.Sleep(time.Until(start.Add(2500 * time.Millisecond))) // stale now
	live := make(chan cached, 1)
	go func() { live <- getCached(t, srv+"/live") }()
	got = storm(target)
	for c := range got {
		if c.Body != first.Body || c.Cache != "STALE" && c.Cache != "HIT" {
			t.Errorf("a request for the stale key got %+v, want the stale answer", c)
		}
	}
	if got := <-live; got.Status != 200 {
		t.Errorf("GET /live during the storm = %+v", got)
	}
	fresh := cached{200, "HIT", pageBody(2, "/herd", q)}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c := getCached(t, target)
		if c == fresh {
			break
		}
		if time.Now().After(deadline) || c.Body != first.Body {
			t.Fatalf("after the storm: %+v, want %+v (one refresh: run=2)", c, fresh)
		}
	}
}

// TestCacheEviction: the cache keeps within its bytes, least recently used
// out.
func TestCacheEviction(t *testing.T) {
	srv, _ := serveCache(t, Config{MaxCacheBytes: 32 << 10}, map[string]string{"static": `{"dynamic": "force-static"}`})
	if got := getCached(t, srv+"/static?k=keep"); got.Cache != "MISS" {
		t.Fatalf("first GET: %+v", got)
	}
	// Each answer takes some 450 bytes of the 32 KiB: 100 of them evict
	// the early ones, but not the one read between them.
	for i := range 100 {
		if got := getCached(t, srv+fmt.Sprintf("/static?k=%d", i)); got.Cache != "MISS" {
			t.Fatalf("GET k=%d: %+v", i, got)
		}
		if got := getCached(t, srv+"/static?k=keep"); got.Cache != "HIT" {
			t.Fatalf("after k=%d, the entry used last is gone: %+v", i, got)
		}
	}
	for _, k := range []string{"0", "1", "2"} {
		if got := getCached(t, srv+"/static?k="+k); got.Cache != "MISS" || !strings.HasPrefix(got.Body, "run=2 ") {
			t.Errorf("k=%s, used least recently, is still cached: %+v", k, got)
		}
	}
	if got := getCached(t, srv+"/static?k=99"); got.Cache != "HIT" {
		t.Errorf("k=99, used recently, is gone: %+v", got)
	}
}

// TestCacheTenants: two tenants serving the same path keep their own
// answers; a grant may take a tenant's cache away.
func TestCacheTenants(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"acme", "globex", "initech"} {
		if err := os.Rename(cacheProject(t, map[string]string{"static": `{"dynamic": "force-static"}`}, nil), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: "example.test",
		Project: Config{CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler)},
		Grants:  map[string]Grant{"initech": {MaxCacheBytes: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	srv := httptest.NewServer(ts)
	defer srv.Close()
	get := func(host string) cached { return getHost(t, srv.URL+"/static", host) }
	want := []cached{
		{200, "MISS", pageBody(1, "/static", "")},
		{200, "MISS", pageBody(1, "/static", "")},
		{200, "HIT", pageBody(1, "/static", "")},
		{200, "HIT", pageBody(1, "/static", "")},
		{200, "", pageBody(1, "/static", "")},
		{200, "", pageBody(2, "/static", "")},
	}
	got := []cached{get("acme.example.test"), get("globex.example.test"), get("acme.example.test"), get("globex.example.test"),
		get("initech.example.test"), get("initech.example.test")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("acme, globex, acme, globex, initech, initech (-want +got):\n%s", diff)
	}
}

func TestCacheConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		files map[string]string
		want  string
	}{
		{"negative revalidate", Config{}, map[string]string{"app/static/route.json": `{"revalidate": -1}`},
			"app/static/route.json:1:2: revalidate: want seconds (a number ≥ 0) or false, got -1"},
		{"revalidate true", Config{}, map[string]string{"app/static/route.json": `{"revalidate": true}`},
			"app/static/route.json:1:2: revalidate: want seconds (a number ≥ 0) or false, got true"},
		{"unknown dynamic", Config{}, map[string]string{"app/static/route.json": `{"dynamic": "sometimes"}`},
			`app/static/route.json:1:2: dynamic "sometimes" is none of "auto", "force-dynamic", "error", "force-static"`},
		{"revalidate in wasmroute.json", Config{}, map[string]string{"wasmroute.json": `{"revalidate": 10}`},
			"wasmroute.json:1:2: revalidate and dynamic belong in a route's route.json"},
		{"maxCacheBytes in route.json", Config{}, map[string]string{"app/static/route.json": `{"maxCacheBytes": "1MiB"}`},
			"app/static/route.json:1:2: maxCacheBytes belongs in the project's wasmroute.json"},
		{"maxCacheBytes above the ceiling", Config{MaxCacheBytes: 1 << 20}, map[string]string{"wasmroute.json": `{"maxCacheBytes": "2MiB"}`},
			"wasmroute.json: maxCacheBytes 2MiB is above the operator's ceiling of 1MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Dir = cacheProject(t, map[string]string{"static": ""}, tt.files)
			tt.cfg.Logger = slog.New(slog.DiscardHandler)
			_, err := New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestJSCache: a TypeScript route's segment config opts into the cache, and
// next/cache's revalidatePath drops its answers.
func TestJSCache(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"app/page/route.ts": `import { kv } from 'wasmroute:kv'
export const revalidate = false
export async function GET() { return new Response('run=' + await kv.incr('runs')) }`,
		"app/update/route.ts": `import { revalidatePath, revalidateTag } from 'next/cache'
export function POST(req: Request) {
	const q = new URL(req.url).searchParams
	try {
		if (q.has('tag')) revalidateTag(q.get('tag')!)
		revalidatePath(q.get('path')!)
	} catch (e) {
		return new Response((e as Error).message, { status: 400 })
	}
	return new Response('ok')
}`,
	})
	ts, _ := jsServe(t, dir, Config{LazyCompile: true, DataDir: t.TempDir()})
	post := func(query string) answer {
		t.Helper()
		resp, err := http.Post(ts.URL+"/update?"+query, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, body: string(b)}
	}
	want := []cached{{200, "MISS", "run=1"}, {200, "HIT", "run=1"}, {200, "MISS", "run=2"}, {200, "HIT", "run=2"}}
	var got []cached
	for i := range want {
		if i == 2 {
			if a := post("path=/page"); a.status != 200 || a.body != "ok" {
				t.Fatalf("revalidatePath('/page') = %d %q", a.status, a.body)
			}
		}
		got = append(got, getCached(t, ts.URL+"/page"))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET, GET, revalidatePath, GET, GET (-want +got):\n%s", diff)
	}
	for _, tt := range []struct{ query, want string }{
		{"path=page", `cache revalidate "page": want a path that starts with / and has no query`},
		{"tag=posts&path=/page", `revalidateTag("posts"): wasmroute caches route answers by path and keeps no tags: call revalidatePath`},
	} {
		if a := post(tt.query); a.status != 400 || a.body != tt.want {
			t.Errorf("POST /update?%s = %d %q, want 400 %q", tt.query, a.status, a.body, tt.want)
		}
	}

	// The segment config and route.json may not both set a key.
	dir = jsProject(t, map[string]string{
		"app/page/route.ts":   "export const dynamic = 'force-static'\nexport function GET() { return new Response('x') }",
		"app/page/route.json": `{"dynamic": "force-static"}`,
	})
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if want := "app/page/route.ts: exports dynamic and app/page/route.json sets it too: keep one"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New: %v, want %q", err, want)
	}
}

// TestRespCacheAccounting stores, replaces, revalidates and evicts entries
// directly, checking after each step that the cache's size is the sum of
// its entries' and that every entry is both listed and findable.
func TestRespCacheAccounting(t *testing.T) {
	c := newRespCache(64 << 10) // entries up to 2 KiB
	rt := &route{Route: &routes.Route{Pattern: "/x/[id]"}, module: &module{cache: cacheRule{on: true}}}
	check := func(step string, want int) {
		t.Helper()
		if want >= 0 && c.lru.Len() != want {
			t.Errorf("%s: %d entries, want %d", step, c.lru.Len(), want)
		}
		var size int64
		n := 0
		for el := c.lru.Front(); el != nil; el = el.Next() {
			e := el.Value.(*entry)
			size += e.size
			n++
			if c.paths[e.path][e.query].by[e.vary] != e {
				t.Errorf("%s: entry %s %q %q is listed but not found", step, e.path, e.query, e.vary)
			}
		}
		found, keys := 0, 0
		for path, byQuery := range c.paths {
			keys += len(byQuery)
			for query, v := range byQuery {
				found += len(v.by)
				if c.keys[path+"\x00"+query] != v {
					t.Errorf("%s: %s %q is not in keys", step, path, query)
				}
			}
		}
		if keys != len(c.keys) {
			t.Errorf("%s: %d keys, %d in paths", step, len(c.keys), keys)
		}
		indexed := 0
		for pattern, of := range c.byRoute {
			indexed += len(of)
			for e := range of {
				if e.route != pattern || e.elem == nil || c.paths[e.path][e.query].by[e.vary] != e {
					t.Errorf("%s: entry %s %q of %s is indexed under %s but not stored", step, e.path, e.query, e.route, pattern)
				}
			}
			if len(of) == 0 {
				t.Errorf("%s: route %s indexed with no entries", step, pattern)
			}
		}
		if indexed != n {
			t.Errorf("%s: %d entries listed, %d indexed by route", step, n, indexed)
		}
		if size != c.size || n != found || size > c.maxBytes {
			t.Errorf("%s: size %d, entries' %d (bound %d); %d listed, %d found", step, c.size, size, c.maxBytes, n, found)
		}
	}
	store := func(path, query, vary, lang string, body int) {
		r := httptest.NewRequest("GET", path+"?"+query, nil)
		r.Header.Set("Accept-Language", lang)
		a := &capture{complete: true, status: 200, header: http.Header{}, body: make([]byte, body)}
		if vary != "" {
			a.header.Set("Vary", vary)
		}
		c.store(rt, path, hostQuery(r), r, a, c.gen, time.Now())
	}
	store("/x/1", "", "", "", 10)
	store("/x/1", "", "", "", 20) // replaced
	check("replace", 1)
	store("/x/1", "q", "Accept-Language", "en", 10)
	store("/x/1", "q", "Accept-Language", "fr", 10)
	check("two variants", 3)
	store("/x/1", "q", "Accept", "fr", 10) // varies otherwise now: the variants go
	check("vary changed", 2)
	for i := range 60 {
		store(fmt.Sprintf("/x/%d", i), "", "", "", 1500)
	}
	check("evictions", -1)
	if c.paths["/x/0"] != nil || c.paths["/x/59"] == nil {
		t.Errorf("evictions: the oldest entry stayed or the newest went")
	}
	store("/x/big", "", "", "", 2100) // over maxBytes/32: not stored
	if c.paths["/x/big"] != nil {
		t.Errorf("an answer over the entry bound was stored")
	}
	c.RevalidatePath("/x/59")
	check("revalidate a path", -1)
	if c.paths["/x/59"] != nil {
		t.Errorf("revalidatePath(/x/59) left its entries")
	}
	other := rt
	rt = &route{Route: &routes.Route{Pattern: "/y/[id]"}, module: &module{cache: cacheRule{on: true}}}
	store("/y/1", "", "", "", 10)
	store("/y/2", "", "", "", 10)
	c.RevalidatePath("/y/[id]")
	check("revalidate another route", -1)
	if c.paths["/y/1"] != nil || c.paths["/y/2"] != nil || c.lru.Len() == 0 {
		t.Errorf("revalidatePath(/y/[id]) left its entries or took /x/[id]'s")
	}
	rt = other
	c.RevalidatePath("/nothing/[here]")
	check("revalidate a route with no entries", -1)
	c.RevalidatePath("/x/[id]")
	check("revalidate a route", 0)
	if c.lru.Len() != 0 || c.size != 0 {
		t.Errorf("revalidatePath(/x/[id]) left %d entries, %d bytes", c.lru.Len(), c.size)
	}
}

// getHost GETs url with the Host header host.
func getHost(t *testing.T, url, host string) cached {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return cached{resp.StatusCode, resp.Header.Get(CacheHeader), string(b)}
}
