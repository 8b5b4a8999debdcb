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
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// liveServe serves the project in dir reloadably over loopback.
func liveServe(t *testing.T, dir string, cfg Config) (*Live, *httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Dir = dir
	cfg.CacheDir = hostileCacheDir()
	cfg.IdleTimeout = -1
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	l, err := NewLive(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(l)
	t.Cleanup(func() {
		ts.Close()
		if err := l.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return l, ts, logs
}

// current returns the Server that l serves now.
func current(l *Live) *Server {
	var s *Server
	l.Use(func(h http.Handler) { s, _ = h.(*Server) })
	return s
}

// inFlight is how many of s's instances are in use.
func (s *Server) inFlight() int { return len(s.tenant) }

// closed reports whether s was closed within a second.
func closed(s *Server) bool {
	select {
	case <-s.stop:
		return true
	case <-time.After(time.Second):
		return false
	}
}

func TestLiveReload(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"wasmroute.json":   `{"env": {"GREETING": "hello"}}`,
		"app/a/route.ts":   `export function GET() { return new Response("a1 " + process.env.GREETING) }`,
		"app/b/route.ts":   `export function GET() { return new Response("b1") }`,
		"app/b/route.json": `{"maxDuration": "5s"}`,
	})
	l, ts, _ := liveServe(t, dir, Config{})
	reload := func() {
		t.Helper()
		if err := l.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	first := current(l)
	if got := liveGet(t, ts.URL+"/a").Body; got != "a1 hello" {
		t.Fatalf("GET /a = %q", got)
	}

	writeFile(t, filepath.Join(dir, "app/a/route.ts"), `export function GET() { return new Response("a2 " + process.env.GREETING) }`)
	writeFile(t, filepath.Join(dir, "app/c/route.ts"), `export function GET() { return new Response("c1") }`)
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"env": {"GREETING": "bonjour"}}`)
	if err := os.RemoveAll(filepath.Join(dir, "app", "b")); err != nil {
		t.Fatal(err)
	}
	reload()
	if !closed(first) {
		t.Error("the first version is still open after the reload, with no request in flight")
	}
	got := []jsAnswer{liveGet(t, ts.URL+"/a"), liveGet(t, ts.URL+"/b"), liveGet(t, ts.URL+"/c")}
	want := []jsAnswer{{Status: 200, Body: "a2 bonjour"}, {Status: 404, Body: "404 page not found\n"}, {Status: 200, Body: "c1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the reload (-want +got):\n%s", diff)
	}

	// A broken edit: the reload fails naming the file, line and column,
	// and the last good version serves on.
	good := current(l)
	writeFile(t, filepath.Join(dir, "app/a/route.ts"), "export function GET() {\n  return new Response(\"a3\"\n}\n")
	err := l.Reload(t.Context())
	if err == nil || !strings.Contains(err.Error(), "app/a/route.ts:3:") {
		t.Errorf("Reload with a syntax error = %v, want it to name app/a/route.ts:3:COLUMN", err)
	}
	if current(l) != good {
		t.Error("a failed reload replaced the version serving")
	}
	got = []jsAnswer{liveGet(t, ts.URL+"/a"), liveGet(t, ts.URL+"/c")}
	want = []jsAnswer{{Status: 200, Body: "a2 bonjour"}, {Status: 200, Body: "c1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a failed reload (-want +got):\n%s", diff)
	}
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{"maxDuration": "forever"}`)
	writeFile(t, filepath.Join(dir, "app/a/route.ts"), `export function GET() { return new Response("a4") }`)
	if err := l.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "wasmroute.json") {
		t.Errorf("Reload with a bad wasmroute.json = %v, want it named", err)
	}
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{}`)
	reload()
	if got := liveGet(t, ts.URL+"/a").Body; got != "a4" {
		t.Errorf("GET /a after fixing = %q, want a4", got)
	}
}

func TestLiveDev(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"wasmroute.json": `{"maxDuration": "forever"}`,
		"app/a/route.ts": "export function GET() { return new Response(\"a1\") }",
		"app/b/route.ts": "export function GET() {\n  return new Response(\"b1\"\n}\n",
	})
	l, ts, _ := liveServe(t, dir, Config{Dev: true})

	// The project as a whole does not load: every request says why.
	a := liveGet(t, ts.URL+"/a")
	if a.Status != 500 || !strings.Contains(a.Body, "wasmroute.json") {
		t.Errorf("GET /a with a bad wasmroute.json = %+v, want 500 naming wasmroute.json", a)
	}
	// A fixed wasmroute.json: the broken route answers 500 with its error,
	// the other serves.
	writeFile(t, filepath.Join(dir, "wasmroute.json"), `{}`)
	if err := l.Reload(t.Context()); err != nil {
		t.Fatalf("Reload in dev with one broken route: %v", err)
	}
	if a := liveGet(t, ts.URL+"/a"); a.Status != 200 || a.Body != "a1" {
		t.Errorf("GET /a = %+v, want 200 a1", a)
	}
	b := liveGet(t, ts.URL+"/b")
	if b.Status != 500 || !strings.Contains(b.Body, "app/b/route.ts:3:") {
		t.Errorf("GET /b, broken = %+v, want 500 naming app/b/route.ts:3:COLUMN", b)
	}
	writeFile(t, filepath.Join(dir, "app/b/route.ts"), `export function GET() { return new Response("b2") }`)
	if err := l.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b := liveGet(t, ts.URL+"/b"); b.Status != 200 || b.Body != "b2" {
		t.Errorf("GET /b, fixed = %+v, want 200 b2", b)
	}
}

// TestLiveInFlight: a request in flight during a reload finishes on the
// version it started on, and that version closes once it has.
func TestLiveInFlight(t *testing.T) {
	dir := jsProject(t, map[string]string{
		"app/echo/route.ts": `export async function POST(req) { return new Response("v1 " + (await req.text()).length) }`,
	})
	l, ts, _ := liveServe(t, dir, Config{})
	old := current(l)

	pr, pw := io.Pipe()
	done := make(chan jsAnswer, 1)
	go func() {
		res, err := http.Post(ts.URL+"/echo", "text/plain", pr)
		if err != nil {
			done <- jsAnswer{Body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		done <- jsAnswer{Status: res.StatusCode, Body: string(b)}
	}()
	if _, err := pw.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	// The request holds the version once the guest reads its body: wait
	// until it is in flight.
	for deadline := time.Now().Add(10 * time.Second); old.inFlight() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never started")
		}
	}

	writeFile(t, filepath.Join(dir, "app/echo/route.ts"), `export async function POST(req) { return new Response("v2 " + (await req.text()).length) }`)
	if err := l.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a := jsDo(t, http.DefaultClient, "POST", ts.URL+"/echo", nil, strings.NewReader("abc")); a.Body != "v2 3" {
		t.Errorf("a request after the reload = %+v, want v2 3", a)
	}
	select {
	case <-old.stop:
		t.Fatal("the previous version closed with a request in flight")
	default:
	}
	pw.Write([]byte("world"))
	pw.Close()
	if a := <-done; a.Status != 200 || a.Body != "v1 11" {
		t.Errorf("the request in flight during the reload = %+v, want 200 v1 11", a)
	}
	if !closed(old) {
		t.Error("the previous version is still open after its last request")
	}
}

// TestLiveUnderLoad reloads 20 edits while 32 connections send requests:
// none fails, and no response mixes two versions (its header and body
// come from one).
func TestLiveUnderLoad(t *testing.T) {
	src := func(n int) string {
		return fmt.Sprintf(`export function GET() { return new Response("%d", {headers: {"x-version": "%d"}}) }`, n, n)
	}
	dir := jsProject(t, map[string]string{
		"app/v/route.ts":     src(0),
		"app/other/route.ts": `export function GET() { return new Response("other") }`,
	})
	l, ts, _ := liveServe(t, dir, Config{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	var (
		stop     atomic.Bool
		requests atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for c := range 32 {
		wg.Go(func() {
			last := 0
			for !stop.Load() {
				path := "/v"
				if c%4 == 0 {
					path = "/other"
				}
				res, err := client.Get(ts.URL + path)
				if err != nil {
					fail("GET %s: %v", path, err)
					continue
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				requests.Add(1)
				switch {
				case err != nil || res.StatusCode != 200:
					fail("GET %s: %d %q %v", path, res.StatusCode, b, err)
				case path == "/v" && res.Header.Get("x-version") != string(b):
					fail("GET /v mixed versions: header %s, body %s", res.Header.Get("x-version"), b)
				case path == "/v":
					var n int
					fmt.Sscan(string(b), &n)
					if n < last {
						fail("GET /v went back from version %d to %d", last, n)
					}
					last = n
				}
			}
		})
	}
	for n := 1; n <= 20; n++ {
		time.Sleep(20 * time.Millisecond)
		writeFile(t, filepath.Join(dir, "app/v/route.ts"), src(n))
		if err := l.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d requests, failures:\n%s", requests.Load(), strings.Join(failures, "\n"))
	}
	if got := liveGet(t, ts.URL+"/v").Body; got != "20" {
		t.Errorf("GET /v after 20 reloads = %q, want 20", got)
	}
	t.Logf("%d requests during 20 reloads, none failed", requests.Load())
}

func liveGet(t *testing.T, url string) jsAnswer {
	t.Helper()
	return jsDo(t, http.DefaultClient, "GET", url, nil, nil)
}

// BenchmarkReload reloads a project of a TypeScript and a Go route, both
// in use, after an edit of the TypeScript route: the time from the call to
// the new version serving, compiled.
func BenchmarkReload(b *testing.B) {
	hello, err := os.ReadFile(filepath.Join("..", "testdata", "wat", "hello.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct{ name, other string }{{"ts", ""}, {"ts+wat", "hello.wasm"}} {
		b.Run(tt.name, func(b *testing.B) {
			files := map[string]string{"app/ts/route.ts": `export function GET() { return new Response("0") }`}
			if tt.other != "" {
				files["app/wat/route.wasm"] = string(hello)
			}
			dir := jsProject(b, files)
			l, err := NewLive(b.Context(), Config{Dir: dir, CacheDir: hostileCacheDir(), IdleTimeout: -1, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			l.Use(func(h http.Handler) { h.(*Server).CompileAll(b.Context()) })
			for i := 0; b.Loop(); i++ {
				writeFile(b, filepath.Join(dir, "app/ts/route.ts"), fmt.Sprintf(`export function GET() { return new Response("%d") }`, i))
				if err := l.Reload(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLiveTenants: a reload of a tenant set picks up tenants added and
// removed and every tenant's changes, sharing one key-value store.
func TestLiveTenants(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{"acme": {"hello": "hello"}, "globex": {"hello": "hello"}})
	l, err := NewLiveTenants(t.Context(), TenantsConfig{Dir: dir, Domain: "example.test", Project: Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	get := serveTenants(t, l, "example.test")
	type reply struct {
		Status int
		Body   string
	}
	ask := func() map[string]reply {
		out := map[string]reply{}
		for _, name := range []string{"acme", "globex", "initech"} {
			status, body := get(name, "/hello")
			out[name] = reply{status, body}
		}
		return out
	}
	want := map[string]reply{"acme": {200, "hello"}, "globex": {200, "hello"}, "initech": {404, "404 page not found\n"}}
	if diff := cmp.Diff(want, ask()); diff != "" {
		t.Errorf("before the reload (-want +got):\n%s", diff)
	}
	if err := os.Rename(project(t, map[string]string{"hello": "hello"}), filepath.Join(dir, "initech")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "globex")); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	want = map[string]reply{"acme": {200, "hello"}, "globex": {404, "404 page not found\n"}, "initech": {200, "hello"}}
	if diff := cmp.Diff(want, ask()); diff != "" {
		t.Errorf("after the reload (-want +got):\n%s", diff)
	}
}

// TestLiveWarm: a reload compiles, before the swap, the modules the old
// version had compiled; with Dev, only those whose code changed.
func TestLiveWarm(t *testing.T) {
	for _, dev := range []bool{false, true} {
		t.Run(fmt.Sprintf("dev=%v", dev), func(t *testing.T) {
			dir := jsProject(t, map[string]string{
				"app/hot/route.ts":  `export function GET() { return new Response("1") }`,
				"app/same/route.ts": `export function GET() { return new Response("same") }`,
				"app/cold/route.ts": `export function GET() { return new Response("cold") }`,
			})
			l, ts, _ := liveServe(t, dir, Config{Dev: dev, LazyCompile: true})
			liveGet(t, ts.URL+"/hot")
			liveGet(t, ts.URL+"/same")
			writeFile(t, filepath.Join(dir, "app/hot/route.ts"), `export function GET() { return new Response("2") }`)
			if err := l.Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, r := range current(l).routes {
				got[r.Pattern] = r.isCompiled()
			}
			want := map[string]bool{"/hot": true, "/same": !dev, "/cold": false}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("compiled after the reload (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLiveTenantsGrants: a reload reads the grants file again.
func TestLiveTenantsGrants(t *testing.T) {
	dir := tenants(t, map[string]map[string]string{"acme": {"hello": "hello"}})
	writeFile(t, filepath.Join(dir, "acme", "wasmroute.json"), `{"maxDuration": "1h"}`)
	grants := filepath.Join(t.TempDir(), "grants.json")
	writeFile(t, grants, `{"acme": {"maxDuration": "2h"}}`)
	l, err := NewLiveTenants(t.Context(), TenantsConfig{Dir: dir, Domain: "example.test", GrantsFile: grants,
		Project: Config{Limits: Limits{MaxDuration: time.Second}, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	get := serveTenants(t, l, "example.test")
	if status, body := get("acme", "/hello"); status != 200 {
		t.Fatalf("acme, granted 2h: %d %q", status, body)
	}
	writeFile(t, grants, `{}`)
	if err := l.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if status, body := get("acme", "/hello"); status != 503 {
		t.Errorf("acme, its grant withdrawn, asks for more than the ceiling: %d %q, want 503", status, body)
	}
	writeFile(t, grants, `{"acme": {"maxDuration": "lots"}}`)
	if err := l.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), grants) {
		t.Errorf("Reload with a broken grants file = %v, want it named", err)
	}
}
