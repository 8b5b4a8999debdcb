package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
	"github.com/wasmroute/wasmroute/internal/testredis"
)

// The services tests serve testdata/services (Go guests that fetch, use
// the key-value store and read their environment) behind a real listener,
// with an upstream on 127.0.0.1.

var (
	servicesOnce sync.Once
	servicesErr  error
)

// servicesProject builds testdata/services once per test binary and
// returns a copy of its modules in a new project folder, with files (a
// path relative to the project, e.g. "wasmroute.json" or
// "app/proxy/route.json", to its content).
func servicesProject(t testing.TB, files map[string]string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "services")
	servicesOnce.Do(func() {
		folders, err := routes.Scan(src)
		if err != nil {
			servicesErr = err
			return
		}
		var dirs []string
		for _, f := range folders {
			dirs = append(dirs, f.Dir)
		}
		servicesErr = build.Go(context.Background(), src, dirs, nil)
	})
	if servicesErr != nil {
		t.Fatal(servicesErr)
	}
	dir := t.TempDir()
	for _, route := range []string{"proxy", "parallel", "kv", "env"} {
		hostileCopy(t, filepath.Join(src, "app", route, "route.wasm"), filepath.Join(dir, "app", route, "route.wasm"))
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(name)), content)
	}
	return dir
}

// serveServices serves a services project on a real 127.0.0.1 listener.
func serveServices(t *testing.T, cfg Config, files map[string]string) (string, *syncBuffer) {
	t.Helper()
	cfg.Dir = servicesProject(t, files)
	cfg.CacheDir = hostileCacheDir()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, logs := newServer(t, cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL, logs
}

type answer struct {
	status  int
	body    string
	elapsed time.Duration
}

func get(t *testing.T, target string) answer {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), time.Since(start)}
}

func q(v string) string { return url.QueryEscape(v) }

func TestFetch(t *testing.T) {
	up := newUpstream(t)
	port := up.URL[strings.LastIndex(up.URL, ":")+1:]
	other := newUpstream(t) // another port: not allowed
	srv, logs := serveServices(t, Config{}, map[string]string{
		"wasmroute.json":          `{"allowedOutboundHosts": ["http://127.0.0.1:` + port + `"]}`,
		"app/parallel/route.json": `{"maxFetches": 4, "maxFetchConcurrency": 2, "maxFetchBody": "1KiB"}`,
	})

	t.Run("allowed", func(t *testing.T) {
		if a := get(t, srv+"/proxy?url="+q(up.URL+"/hello")); a.status != 200 || a.body != "hello from upstream" {
			t.Errorf("proxy /hello = %d %q", a.status, a.body)
		}
	})
	t.Run("denied names the entry", func(t *testing.T) {
		a := get(t, srv+"/proxy?url="+q(other.URL+"/hello"))
		want := fmt.Sprintf(`fetch %s/hello: denied: add "%s" to allowedOutboundHosts in wasmroute.json`, other.URL, other.URL)
		if a.status != 502 || !strings.Contains(a.body, want) {
			t.Errorf("proxy to another port = %d %q, want 502 with %q", a.status, a.body, want)
		}
		if !strings.Contains(logs.String(), "fetch denied") {
			t.Errorf("the denial is not logged:\n%s", logs)
		}
	})
	t.Run("redirect to a denied host", func(t *testing.T) {
		a := get(t, srv+"/proxy?url="+q(up.URL+"/redirect?to="+q(other.URL+"/hello")))
		if a.status != 502 || !strings.Contains(a.body, "redirected to "+other.URL+"/hello") || !strings.Contains(a.body, `add "`+other.URL+`"`) {
			t.Errorf("redirect to another port = %d %q", a.status, a.body)
		}
	})
	t.Run("in parallel", func(t *testing.T) {
		// Two 200 ms calls take ~200 ms, not 400.
		a := get(t, srv+"/parallel?url="+q(up.URL+"/slow")+"&url="+q(up.URL+"/slow"))
		if a.status != 200 || a.body != `{"bodies":["slow","slow"],"statuses":[200,200]}` || a.elapsed > 390*time.Millisecond {
			t.Errorf("two 200ms fetches = %d %q in %v, want both within 390ms", a.status, a.body, a.elapsed)
		}
	})
	t.Run("maxFetchConcurrency", func(t *testing.T) {
		up.most.Store(0)
		a := get(t, srv+"/parallel"+strings.Repeat("?url="+q(up.URL+"/slow"), 1)+strings.Repeat("&url="+q(up.URL+"/slow"), 3))
		if a.status != 200 || a.elapsed < 390*time.Millisecond || up.most.Load() != 2 {
			t.Errorf("four 200ms fetches, two at a time = %d %q in %v, upstream saw %d at once; want 200 in >= 400ms, 2 at once", a.status, a.body, a.elapsed, up.most.Load())
		}
	})
	t.Run("maxFetches", func(t *testing.T) {
		a := get(t, srv+"/parallel?url="+q(up.URL+"/hello")+strings.Repeat("&url="+q(up.URL+"/hello"), 4))
		if a.status != 502 || !strings.Contains(a.body, "maxFetches (4)") {
			t.Errorf("five fetches under maxFetches 4 = %d %q", a.status, a.body)
		}
	})
	t.Run("maxFetchBody", func(t *testing.T) {
		a := get(t, srv+"/parallel?url="+q(up.URL+"/big"))
		if a.status != 502 || !strings.Contains(a.body, "maxFetchBody") {
			t.Errorf("4KiB under maxFetchBody 1KiB = %d %q", a.status, a.body)
		}
	})
}

// TestFetchAddresses checks the addresses a policy that allows any host
// still refuses, at dial time: loopback (also by a name, as a rebinding
// DNS answer would give), private, link-local (cloud metadata), and their
// IPv4-mapped forms.
func TestFetchAddresses(t *testing.T) {
	up := newUpstream(t)
	port := up.URL[strings.LastIndex(up.URL, ":")+1:]
	srv, _ := serveServices(t, Config{AllowedOutboundHosts: []string{"http://*:*"}}, nil)
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:" + port + "/hello", "loopback"},
		{"http://localhost:" + port + "/hello", "loopback"},
		{"http://[::ffff:127.0.0.1]:" + port + "/hello", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://10.1.2.3/", "private"},
		{"http://[::1]:" + port + "/", "loopback"},
	} {
		a := get(t, srv+"/proxy?url="+q(tc.url))
		if a.status != 502 || !strings.Contains(a.body, "address is "+tc.want) || !strings.Contains(a.body, "to allowedOutboundHosts") {
			t.Errorf("proxy %s = %d %q, want 502: address is %s, and the entry to add", tc.url, a.status, a.body, tc.want)
		}
	}
	if a := get(t, srv+"/proxy?url="+q("file:///etc/passwd")); a.status != 502 {
		t.Errorf("proxy file:///etc/passwd = %d %q, want 502", a.status, a.body)
	}
}

// TestFetchEnds checks that a guest's fetch ends with its request: at the
// route's maxDuration, and when its client leaves; a healthy route answers
// meanwhile.
func TestFetchEnds(t *testing.T) {
	up := newUpstream(t)
	port := up.URL[strings.LastIndex(up.URL, ":")+1:]
	srv, _ := serveServices(t, Config{AllowedOutboundHosts: []string{"http://127.0.0.1:" + port}}, map[string]string{
		"app/parallel/route.json": `{"maxDuration": "500ms"}`,
	})

	done := make(chan answer, 1)
	go func() { done <- get(t, srv+"/parallel?url="+q(up.URL+"/hang")) }()
	if a := get(t, srv+"/env?name=X"); a.status != 200 || a.elapsed > time.Second {
		t.Errorf("healthy route while a fetch hangs: %d in %v", a.status, a.elapsed)
	}
	if a := <-done; a.status != 504 || a.elapsed > 1500*time.Millisecond {
		t.Errorf("fetch past maxDuration 500ms = %d %q in %v, want 504", a.status, a.body, a.elapsed)
	}
	select {
	case <-up.cancelled:
	case <-time.After(time.Second):
		t.Error("upstream request not cancelled at maxDuration")
	}

	// A client that leaves cancels the upstream request.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv+"/proxy?url="+q(up.URL+"/hang"), nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("client with a 300ms timeout got %d", resp.StatusCode)
	}
	select {
	case <-up.cancelled:
	case <-time.After(2 * time.Second):
		t.Error("upstream request not cancelled when the client left")
	}
}

// TestFetchTenants checks that a tenant's allowedOutboundHosts must stay
// within the operator's, and that an IP literal is not covered by a
// wildcard.
func TestFetchTenants(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"good", "greedy"} {
		dir := servicesProject(t, nil)
		if err := os.Rename(dir, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "good", "wasmroute.json"), `{"allowedOutboundHosts": ["https://api.example.com"]}`)
	writeFile(t, filepath.Join(root, "greedy", "wasmroute.json"), `{"allowedOutboundHosts": ["http://169.254.169.254", "https://evil.example"]}`)
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: root, Project: Config{
		AllowedOutboundHosts: []string{"https://*"}, CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close(context.Background())
	if ts.Server("good") == nil {
		t.Errorf("tenant good failed: %v", ts.Errors()["good"])
	}
	err = ts.Errors()["greedy"]
	if err == nil || !strings.Contains(err.Error(), "169.254.169.254") || strings.Contains(err.Error(), "evil.example") {
		t.Errorf("tenant greedy: %v; want an error naming http://169.254.169.254 only", err)
	}
}

// TestKV runs the key-value routes against both stores: the embedded one
// and a real redis-server.
func TestKV(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			// The project picks Redis in its wasmroute.json.
			store := ""
			if backend == "redis" {
				store = `"kv": "` + testredis.Start(t) + `", `
			}
			srv, _ := serveServices(t, Config{}, map[string]string{
				"wasmroute.json": `{` + store + `"maxKVKeys": 5, "maxKVValue": "16"}`,
			})
			kvCases(t, srv)
		})
	}
}

func kvCases(t *testing.T, srv string) {
	steps := []struct {
		target string
		status int
		body   string // a prefix of the answer
	}{
		{"/kv?op=get&key=a", 404, "kv: key not found"},
		{"/kv?op=set&key=a&value=1", 200, `{"ok":true}`},
		{"/kv?op=get&key=a", 200, `{"value":"1"}`},
		{"/kv?op=incr&key=a&by=41", 200, `{"value":42}`},
		{"/kv?op=get&key=a", 200, `{"value":"42"}`},
		{"/kv?op=set&key=session:b&value=x&ttl=60", 200, `{"ok":true}`},
		{"/kv?op=set&key=session:a&value=y", 200, `{"ok":true}`},
		{"/kv?op=list&prefix=session:", 200, `{"keys":["session:a","session:b"]}`},
		{"/kv?op=delete&key=session:a", 200, `{"ok":true}`},
		{"/kv?op=list", 200, `{"keys":["a","session:b"]}`},
		{"/kv?op=set&key=s&value=not-a-number", 200, `{"ok":true}`},
		{"/kv?op=incr&key=s", 400, ""},
		{"/kv?op=set&key=big&value=" + strings.Repeat("v", 17), 413, ""},
		{"/kv?op=set&key=" + strings.Repeat("k", 513) + "&value=v", 400, ""},
		{"/kv?op=set&key=d&value=v", 200, ""},
		{"/kv?op=set&key=e&value=v", 200, ""},
		{"/kv?op=set&key=f&value=v", 429, ""}, // the sixth key under maxKVKeys 5
		{"/kv?op=set&key=a&value=overwritten", 200, ""},
	}
	for _, s := range steps {
		a := get(t, srv+s.target)
		if a.status != s.status || !strings.HasPrefix(a.body, s.body) {
			t.Errorf("GET %.80s = %d %q, want %d %q…", s.target, a.status, a.body, s.status, s.body)
		}
	}
	if a := get(t, srv+"/kv?op=set&key=f&value=v"); !strings.Contains(a.body, "maxKVKeys") {
		t.Errorf("past maxKVKeys: %q does not name the limit", a.body)
	}
	if a := get(t, srv+"/kv?op=set&key=big&value="+strings.Repeat("v", 17)); !strings.Contains(a.body, "maxKVValue") {
		t.Errorf("past maxKVValue: %q does not name the limit", a.body)
	}

	// Concurrent increments from many requests add up exactly.
	const n, conns = 200, 16
	var wg sync.WaitGroup
	sem := make(chan struct{}, conns)
	var failed atomic.Int32
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if a := get(t, srv+"/kv?op=incr&key=d"); a.status != 400 { // d holds "v"
				failed.Add(1)
			}
			if a := get(t, srv+"/kv?op=incr&key=e&by=0"); a.status != 400 {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	get(t, srv+"/kv?op=set&key=d&value=0")
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if a := get(t, srv+"/kv?op=incr&key=d"); a.status != 200 {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if a := get(t, srv+"/kv?op=get&key=d"); failed.Load() != 0 || a.body != fmt.Sprintf(`{"value":"%d"}`, n) {
		t.Errorf("%d concurrent increments: %s, %d failed", n, a.body, failed.Load())
	}
}

// TestKVTenants checks that tenants sharing a store see only their own
// namespace, whatever the key.
func TestKVTenants(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			root := t.TempDir()
			for _, name := range []string{"acme", "evil"} {
				if err := os.Rename(servicesProject(t, nil), filepath.Join(root, name)); err != nil {
					t.Fatal(err)
				}
			}
			cfg := Config{CacheDir: hostileCacheDir(), Logger: slog.New(slog.DiscardHandler)}
			if backend == "redis" {
				cfg.KV = testredis.Start(t)
			}
			ts, err := NewTenants(context.Background(), TenantsConfig{Dir: root, Domain: "test", Project: cfg})
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close(context.Background())
			srv := httptest.NewServer(ts)
			defer srv.Close()
			call := func(tenant, target string) answer {
				req, _ := http.NewRequest("GET", srv.URL+target, nil)
				req.Host = tenant + ".test"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return answer{status: resp.StatusCode, body: string(b)}
			}
			call("acme", "/kv?op=set&key=secret&value=acme-data")
			for _, key := range []string{"secret", "acme:secret", "../acme/secret", "wasmroute:acme:k:secret", "\x00secret"} {
				if a := call("evil", "/kv?op=get&key="+q(key)); a.status != 404 && a.status != 400 {
					t.Errorf("tenant evil reads %q: %d %q", key, a.status, a.body)
				}
			}
			if a := call("evil", "/kv?op=list"); a.body != `{"keys":null}` && a.body != `{"keys":[]}` {
				t.Errorf("tenant evil lists %s", a.body)
			}
			if a := call("acme", "/kv?op=get&key=secret"); a.body != `{"value":"acme-data"}` {
				t.Errorf("tenant acme reads %s", a.body)
			}
			if _, err := os.Stat(filepath.Join(root, ".wasmroute", "data")); (backend == "embedded") != (err == nil) {
				t.Errorf("data folder in the tenants' folder: %v (backend %s)", err, backend)
			}
		})
	}
}

// TestSecrets checks that a value mapped from the server's environment
// reaches its guest and never the log.
func TestSecrets(t *testing.T) {
	const secret = "sk-live-0123456789"
	t.Setenv("WASMROUTE_TEST_API_KEY", secret)
	srv, logs := serveServices(t, Config{Env: map[string]string{"PLAIN": "visible"}}, map[string]string{
		"wasmroute.json": `{"env": {"API_KEY": {"fromEnv": "WASMROUTE_TEST_API_KEY"}}}`,
	})
	if a := get(t, srv+"/env?name=API_KEY"); a.body != secret {
		t.Errorf("guest reads API_KEY = %q", a.body)
	}
	if a := get(t, srv+"/env?name=HOME"); a.body != "" {
		t.Errorf("guest reads the server's HOME = %q", a.body)
	}
	get(t, srv+"/env?print=API_KEY")
	get(t, srv+"/env?print=PLAIN")
	// A denied fetch is logged: a secret in its path is redacted there too.
	if a := get(t, srv+"/proxy?url="+q("https://hooks.example.net/services/"+secret)); a.status != 502 {
		t.Errorf("denied fetch = %d %q", a.status, a.body)
	}
	if l := logs.String(); strings.Contains(l, secret) || !strings.Contains(l, "[redacted]") || !strings.Contains(l, "visible") {
		t.Errorf("log shows the secret, or not the redaction, or hides a plain value:\n%s", l)
	}
}

// TestKVStoreLost: a store that was open and goes away (its server
// killed) tells the guest, for every operation, only that it is
// unavailable, never the server's address or the client's error; the log
// says why, once a second at most; a route without the store keeps
// answering.
func TestKVStoreLost(t *testing.T) {
	rs, err := testredis.Run(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Stop)
	srv, logs := serveServices(t, Config{KV: rs.URL}, nil)
	if a := get(t, srv+"/kv?op=set&key=a&value=1"); a.status != 200 {
		t.Fatalf("kv set with the store up = %d %q", a.status, a.body)
	}
	rs.Stop()
	addr := strings.TrimPrefix(rs.URL, "redis://")
	for _, q := range []string{"op=get&key=a", "op=set&key=a&value=2", "op=delete&key=a", "op=list&prefix=", "op=incr&key=n&by=1"} {
		a := get(t, srv+"/kv?"+q)
		if a.status != 502 || !strings.Contains(a.body, "the key-value store is unavailable (the server's log says why)") ||
			strings.Contains(a.body, addr) || strings.Contains(a.body, "dial") {
			t.Errorf("kv %s with the store gone = %d %q, want 502 saying only that it is unavailable", q, a.status, a.body)
		}
	}
	if a := get(t, srv+"/env?print=PLAIN"); a.status != 200 {
		t.Errorf("a route without the store = %d %q", a.status, a.body)
	}
	if l := logs.String(); !strings.Contains(l, "a key-value call failed") || strings.Count(l, "a key-value call failed") > 2 {
		t.Errorf("log should say why, at most once a second:\n%s", l)
	}
}

// TestKVStoreDown checks a store that cannot be reached: the guest learns
// only that it is unavailable (not where, nor its password), the operator's
// log says why, and later calls fail fast until the next try.
func TestKVStoreDown(t *testing.T) {
	srv, logs := serveServices(t, Config{KV: "redis://default:s3cr3t-pw@127.0.0.1:1"}, nil)
	a := get(t, srv+"/kv?op=get&key=a")
	if a.status != 502 || !strings.Contains(a.body, "the key-value store is unavailable (the server's log says why)") || strings.Contains(a.body, "127.0.0.1") {
		t.Errorf("kv get with the store down = %d %q", a.status, a.body)
	}
	if l := logs.String(); !strings.Contains(l, "the key-value store is unavailable") || strings.Contains(l, "s3cr3t-pw") {
		t.Errorf("log lacks the failure, or shows the password:\n%s", l)
	}
	if a := get(t, srv+"/kv?op=get&key=a"); a.status != 502 || a.elapsed > 100*time.Millisecond {
		t.Errorf("second call with the store down = %d in %v, want 502 at once", a.status, a.elapsed)
	}
	if _, err := New(context.Background(), Config{Dir: t.TempDir(), KV: "redis://u:pw/x@host:bad"}); err == nil || strings.Contains(err.Error(), "pw/x") {
		t.Errorf("New with an unparsable store URL: %v", err)
	}
}
