package runtime

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/routes"
)

// The tests of this file come from an attacker's review of the cache: each
// is a way one user's answer reached another, or a client held others up.

// TestCacheSeenHeaders: a cached route's handler sees Host, Accept,
// Accept-Encoding and Accept-Language only, whoever set the others (the
// client, an auth proxy, the middleware from the session): alice's answer,
// served to bob, must hold nothing of alice's.
func TestCacheSeenHeaders(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"middleware.ts": `
import { NextResponse, type NextRequest } from 'next/server'
export function middleware(request: NextRequest) {
  const headers = new Headers(request.headers)
  headers.set('x-user', request.cookies.get('session')?.value ?? 'anonymous')
  return NextResponse.next({ request: { headers } })
}`,
		"app/me/route.ts": `export const revalidate = 60
export function GET(req: Request) {
  const names = ['x-user', 'cookie', 'authorization', 'x-forwarded-user', 'x-api-key', 'cf-access-jwt-assertion', 'user-agent', 'accept-language']
  return new Response(names.map(n => n + '=' + (req.headers.get(n) ?? '')).join(' '), { headers: { vary: 'Accept-Language' } })
}`,
		"app/live/route.ts": `export function GET(req: Request) { return new Response('user=' + req.headers.get('x-user')) }`,
	})
	ts, _ := jsServe(t, dir, Config{})
	who := func(user, lang string) http.Header {
		return http.Header{
			"Cookie": {"session=" + user}, "Authorization": {"Bearer " + user}, "X-Forwarded-User": {user},
			"X-Api-Key": {user}, "Cf-Access-Jwt-Assertion": {user}, "User-Agent": {user}, "Accept-Language": {lang},
		}
	}
	body := func(lang string) string {
		return "x-user= cookie= authorization= x-forwarded-user= x-api-key= cf-access-jwt-assertion= user-agent= accept-language=" + lang
	}
	var got []cached
	for _, h := range []http.Header{who("alice", "fr"), who("bob", "fr"), who("bob", "de")} {
		c, _ := fetchCached(t, "GET", ts.URL+"/me", h)
		got = append(got, c)
	}
	want := []cached{{200, "MISS", body("fr")}, {200, "HIT", body("fr")}, {200, "MISS", body("de")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alice (fr), bob (fr), bob (de) (-want +got):\n%s", diff)
	}
	// A route that is not cached still sees what the middleware set.
	if c, _ := fetchCached(t, "GET", ts.URL+"/live", who("alice", "fr")); c.Body != "user=alice" {
		t.Errorf("GET /live = %+v, want user=alice", c)
	}
}

// TestCacheSeenRequest: the request a cached route's handler gets has no
// client address, no body and only the seen headers; the caller's request
// is left as it was.
func TestCacheSeenRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/p?q=1", strings.NewReader("body"))
	r.Header.Set("Accept", "text/html")
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("Cookie", "a=1")
	got := cacheRequest(r)
	type seenReq struct {
		RemoteAddr string
		Header     http.Header
		NoBody     bool
	}
	want := seenReq{"", http.Header{"Accept": {"text/html"}}, true}
	if diff := cmp.Diff(want, seenReq{got.RemoteAddr, got.Header, got.Body == http.NoBody}); diff != "" {
		t.Errorf("cacheRequest (-want +got):\n%s", diff)
	}
	if r.RemoteAddr == "" || r.Header.Get("Cookie") != "a=1" {
		t.Errorf("cacheRequest changed its argument: %q %v", r.RemoteAddr, r.Header)
	}
}

// TestCacheVaryUnseen: an answer that varies on a header its handler never
// sees (Cookie) is one answer for everyone: a client with a cookie gets
// the HIT too.
func TestCacheVaryUnseen(t *testing.T) {
	srv, _ := serveCache(t, Config{MaxCacheBytes: 1 << 20}, map[string]string{"p": `{"revalidate": false}`})
	got := []cached{
		getCached(t, srv+"/p?vary=Cookie", "Cookie", "a=1"),
		getCached(t, srv+"/p?vary=Cookie", "Cookie", "a=1"),
		getCached(t, srv+"/p?vary=Cookie", "Cookie", "b=2"),
		getCached(t, srv+"/p?vary=Cookie"),
	}
	one := pageBody(1, "/p", "vary=Cookie")
	want := []cached{{200, "MISS", one}, {200, "HIT", one}, {200, "HIT", one}, {200, "HIT", one}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Vary: Cookie, with and without cookies (-want +got):\n%s", diff)
	}
}

// TestCacheSlowLeader: a client that never reads leads the flight of a cold
// key whose answer is too large to store; a second client for the key runs
// the handler itself as soon as the leader knows that, rather than wait for
// it until maxDuration. A follower of a storable but slow answer waits at
// most maxWait, then runs the handler itself too.
func TestCacheSlowLeader(t *testing.T) {
	srv, _ := serveCache(t, Config{MaxCacheBytes: 1 << 20, Limits: Limits{MaxDuration: 5 * time.Second, MaxWait: 300 * time.Millisecond}},
		map[string]string{"big": `{"revalidate": 60}`, "slow": `{"revalidate": 60}`, "plain": ""})
	addr := strings.TrimPrefix(srv, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big?size=16000000 HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	time.Sleep(300 * time.Millisecond) // the slow client leads, stuck writing

	start := time.Now()
	resp, err := http.Get(srv + "/big?size=16000000")
	if err != nil {
		t.Fatal(err)
	}
	head := time.Since(start)
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(CacheHeader) != "MISS" || n < 16000000 || head > 2*time.Second {
		t.Errorf("a follower of a slow leader: %d %s, %d bytes, its head after %v; want 200 MISS, all of it, in under 2s",
			resp.StatusCode, resp.Header.Get(CacheHeader), n, head)
	}
	if c := getCached(t, srv+"/plain"); c.Status != 200 {
		t.Errorf("GET /plain meanwhile: %+v", c)
	}

	// A storable answer, slow: the follower waits maxWait (300ms), not the
	// leader's 1.5s, then runs the handler itself.
	done := make(chan cached)
	go func() { done <- getCached(t, srv+"/slow?sleep=1500") }()
	time.Sleep(200 * time.Millisecond)
	follower := getCached(t, srv+"/slow?sleep=1500")
	leader := <-done
	want := []cached{{200, "MISS", pageBody(1, "/slow", "sleep=1500")}, {200, "MISS", pageBody(2, "/slow", "sleep=1500")}}
	if diff := cmp.Diff(want, []cached{leader, follower}); diff != "" {
		t.Errorf("a slow leader and its follower (-want +got):\n%s", diff)
	}
}

// TestCacheCaptureRefuses: the miss's capture says the answer is not
// storable as soon as it knows (so that the flight's followers go), not
// when the handler returns.
func TestCacheCaptureRefuses(t *testing.T) {
	for _, tt := range []struct {
		name   string
		header http.Header
		status int
		body   int
		fail   bool
		want   bool
	}{
		{"200", nil, 200, 10, false, false},
		{"404", nil, 404, 0, false, true},
		{"Set-Cookie", http.Header{"Set-Cookie": {"s=1"}}, 200, 0, false, true},
		{"private", http.Header{"Cache-Control": {"max-age=60, private"}}, 200, 0, false, true},
		{"no-store", http.Header{"Cache-Control": {"no-store"}}, 200, 0, false, true},
		{"Vary: *", http.Header{"Vary": {"*"}}, 200, 0, false, true},
		{"over the cap", nil, 200, 101, false, true},
		{"a failed write", nil, 200, 10, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var w http.ResponseWriter = httptest.NewRecorder()
			if tt.fail {
				w = failingWriter{w}
			}
			a := newCapture(w, 100, false)
			refused := 0
			a.unstorable = func() { refused++ }
			for k, v := range tt.header {
				w.Header()[k] = v
			}
			a.WriteHeader(tt.status)
			a.Write(make([]byte, tt.body))
			a.Write(make([]byte, tt.body))
			if got := refused > 0; got != tt.want || refused > 1 {
				t.Errorf("refused %d times, want refused=%v (once)", refused, tt.want)
			}
		})
	}
}

type failingWriter struct{ http.ResponseWriter }

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestCacheRefreshBounded: stale entries by the dozen start at most a
// quarter of the route's instances' worth of refreshes, none when no
// instance is free, and a user's miss meanwhile is answered; the entries
// left stale are refreshed by later hits.
func TestCacheRefreshBounded(t *testing.T) {
	cfg := Config{MaxCacheBytes: 1 << 20, Limits: Limits{MaxInstances: 12, MaxWait: time.Second}, DataDir: t.TempDir(),
		Dir: cacheProject(t, map[string]string{"short": `{"revalidate": 0.2}`, "plain": ""}, nil), CacheDir: hostileCacheDir()}
	s, _ := newServer(t, cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := s.responses
	refreshing := func() (entries, running int) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for el := c.lru.Front(); el != nil; el = el.Next() {
			if el.Value.(*entry).refreshing {
				entries++
			}
		}
		for _, n := range c.running {
			running += n
		}
		return entries, running
	}
	const keys = 12
	target := func(i int) string { return fmt.Sprintf("%s/short?sleep=1000&i=%d", ts.URL, i) }
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { getCached(t, target(i)) })
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // all stale

	for i := range keys {
		if got := getCached(t, target(i)); got.Cache != "STALE" {
			t.Fatalf("GET %s: %+v, want STALE", target(i), got)
		}
	}
	if e, r := refreshing(); e != 3 || r != 3 {
		t.Errorf("after %d stale hits: %d entries refreshing, %d refreshes running; want 3 (12 instances / 4)", keys, e, r)
	}
	if got := getCached(t, ts.URL+"/short?user=1"); got.Status != 200 || got.Cache != "MISS" {
		t.Errorf("a user's miss meanwhile: %+v", got)
	}
	time.Sleep(1500 * time.Millisecond) // the refreshes are done
	if e, r := refreshing(); e != 0 || r != 0 {
		t.Errorf("once done: %d entries refreshing, %d refreshes running; want none", e, r)
	}
	for i := range keys {
		getCached(t, target(i))
	}
	if e, _ := refreshing(); e != 3 {
		t.Errorf("later hits of the stale entries: %d refreshing, want 3", e)
	}
	time.Sleep(1200 * time.Millisecond)

	// No instance free: the hit leaves the entry stale, no refresh waits.
	for i := range 12 {
		wg.Go(func() { getCached(t, fmt.Sprintf("%s/short?sleep=1000&busy=%d", ts.URL, i)) })
	}
	time.Sleep(300 * time.Millisecond)
	if got := getCached(t, target(0)); got.Cache != "STALE" {
		t.Errorf("GET %s with every instance busy: %+v, want STALE", target(0), got)
	}
	if e, r := refreshing(); e != 0 || r != 0 {
		t.Errorf("with every instance busy: %d entries refreshing, %d refreshes running; want none", e, r)
	}
	wg.Wait()
	if got := getCached(t, ts.URL+"/plain"); got.Status != 200 {
		t.Errorf("GET /plain: %+v", got)
	}
}

// TestCacheVariantLRU: 16 junk Accept-Language values do not shut a real
// user's out: the new variant is stored, the least recently used goes.
func TestCacheVariantLRU(t *testing.T) {
	srv, _ := serveCache(t, Config{MaxCacheBytes: 1 << 20}, map[string]string{"p": `{"revalidate": false}`})
	target := srv + "/p?vary=Accept-Language"
	for i := range maxVariants {
		getCached(t, target, "Accept-Language", fmt.Sprintf("junk%d", i))
	}
	getCached(t, target, "Accept-Language", "junk0") // now junk1 is the least recently used
	var got []cached
	for range 2 {
		got = append(got, getCached(t, target, "Accept-Language", "en"))
	}
	got = append(got, getCached(t, target, "Accept-Language", "junk0"), getCached(t, target, "Accept-Language", "junk1"))
	en := pageBody(maxVariants+1, "/p", "vary=Accept-Language", "en")
	want := []cached{{200, "MISS", en}, {200, "HIT", en},
		{200, "HIT", pageBody(1, "/p", "vary=Accept-Language", "junk0")},
		{200, "MISS", pageBody(maxVariants+2, "/p", "vary=Accept-Language", "junk1")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("en after 16 junk variants, then junk0 (used) and junk1 (evicted) (-want +got):\n%s", diff)
	}
}

// TestCacheLongKey: a request whose path, Host and query pass 8 KiB runs
// the handler and is not stored. (The Host makes it long here: the cache
// guest's counter, in the key-value store, keys on path and query, 512
// bytes at most.)
func TestCacheLongKey(t *testing.T) {
	srv, _ := serveCache(t, Config{MaxCacheBytes: 1 << 20}, map[string]string{"p": `{"revalidate": false}`})
	get := func(host, query string) cached {
		req, err := http.NewRequest("GET", srv+"/p?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return cached{resp.StatusCode, resp.Header.Get(CacheHeader), string(b)}
	}
	long := strings.Repeat("h", maxCacheKey)
	got := []cached{get(long, "long=1"), get(long, "long=1"), get("example.com", "a=1"), get("example.com", "a=1")}
	want := []cached{{200, "MISS", pageBody(1, "/p", "long=1")}, {200, "MISS", pageBody(2, "/p", "long=1")},
		{200, "MISS", pageBody(1, "/p", "a=1")}, {200, "HIT", pageBody(1, "/p", "a=1")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("a key over 8 KiB twice, then a short one twice (-want +got):\n%s", diff)
	}
}

// TestRespCacheKeyBytes: what the cache counts is what it holds, long keys
// included (they are held twice).
func TestRespCacheKeyBytes(t *testing.T) {
	c := newRespCache(64 << 20)
	rt := &route{Route: &routes.Route{Pattern: "/x"}, module: &module{cache: cacheRule{on: true}}}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	for i := range 300 {
		r := httptest.NewRequest("GET", fmt.Sprintf("/x?%d=%s", i, strings.Repeat("a", 7<<10)), nil)
		a := &capture{complete: true, status: 200, header: http.Header{}}
		c.store(rt, "/x", hostQuery(r), r, a, c.gen, time.Now())
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if c.lru.Len() != 300 || float64(grew) > 1.3*float64(c.size) {
		t.Errorf("%d entries counted %d bytes; the heap grew %d", c.lru.Len(), c.size, grew)
	}
	goruntime.KeepAlive(c)
}

// TestCacheAlias: an escaped alias of a path (/blog/%68ello) is the path's
// entry, so revalidatePath of the path drops it too.
func TestCacheAlias(t *testing.T) {
	srv, _ := serveCache(t, Config{MaxCacheBytes: 1 << 20}, map[string]string{"blog/[slug]": `{"revalidate": false}`})
	var got []cached
	for _, u := range []string{"/blog/hello", "/blog/%68ello", "/blog/%68%65llo"} {
		got = append(got, getCached(t, srv+u))
	}
	resp, err := http.Post(srv+"/blog/x?revalidate=/blog/%2568ello", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, u := range []string{"/blog/%68ello", "/blog/hello"} {
		got = append(got, getCached(t, srv+u))
	}
	one, two := pageBody(1, "/blog/hello", ""), pageBody(2, "/blog/hello", "")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(srv + "/blog/%68%65llo?q=%2f")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/blog/hello?q=%2f" {
		t.Errorf("GET /blog/%%68%%65llo?q=%%2f: %d to %q, want 308 to /blog/hello?q=%%2f", resp.StatusCode, resp.Header.Get("Location"))
	}
	want := []cached{{200, "MISS", one}, {200, "HIT", one}, {200, "HIT", one}, {200, "MISS", two}, {200, "HIT", two}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /blog/hello and aliases, revalidatePath('/blog/%%68ello'), GET an alias and the path (-want +got):\n%s", diff)
	}
}

func TestCacheNormalEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"/blog/hello":        "/blog/hello",
		"/blog/%68ello":      "/blog/hello",
		"/a%2db%2E%7e%5F%30": "/a-b.~_0",
		"/a%2fb%3A":          "/a%2Fb%3A",
		"/a%20b%c3%a9":       "/a%20b%C3%A9",
		"/bad%zz%4":          "/bad%zz%4",
		"/%":                 "/%",
	} {
		if got := normalEscapes(in); got != want {
			t.Errorf("normalEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}
