package runtime

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
