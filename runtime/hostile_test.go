package runtime

// The hostile-guest suite: Go guests in testdata/hostile/app that attack the
// sandbox (see testdata/hostile/README.md), served through Tenants and a
// real HTTP server beside healthy routes, each asserting the status the
// attacker gets, that it came within its limit, that the healthy routes kept
// answering, and that nothing leaks.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
)

var (
	hostileOnce   sync.Once
	hostileRoutes []string // route folders of testdata/hostile, relative to app/
	hostileErr    error
)

// hostileSource builds testdata/hostile's route.go sources once per test
// binary (the go command skips what is up to date) and returns the folder
// and its route folders.
func hostileSource(tb testing.TB) (string, []string) {
	tb.Helper()
	dir := filepath.Join("..", "testdata", "hostile")
	hostileOnce.Do(func() {
		hostileTrimCache()
		folders, err := routes.Scan(dir)
		if err != nil {
			hostileErr = err
			return
		}
		for _, f := range folders {
			hostileRoutes = append(hostileRoutes, f.Dir)
		}
		hostileErr = build.Go(context.Background(), dir, hostileRoutes, nil)
	})
	if hostileErr != nil {
		tb.Fatal(hostileErr)
	}
	return dir, hostileRoutes
}

// hostileCacheDir keeps wazero's compiled code of the guests between test
// binaries and runs (plain and -race), as the go command keeps its build
// cache: compiling them takes 8s on two cores, and 97s under the race
// detector, which slows wazero's compiler too; every test serves them anew.
func hostileCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "wasmroute", "test-hostile")
}

// hostileTrimCache empties hostileCacheDir once it holds more than 512 MiB:
// the guests' code takes about 150 MiB, and each edit of a guest leaves an
// entry that nothing reads again.
func hostileTrimCache() {
	dir := hostileCacheDir()
	var size int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	if size > 512<<20 {
		os.RemoveAll(dir)
	}
}

const (
	hostileDomain = "wasmroute.test"
	hostileSecret = "hunter2-must-not-reach-a-guest"
)

// hostileEnv serves, through one Tenants behind a real HTTP server:
//
//   - hostile: testdata/hostile (every route at maxInstances 1 and the
//     project at maxTenantInstances 12, from its wasmroute.json), plus healthy (testdata/wat/hello.wasm), runaway (the
//     loop guest again, at maxDuration 2s and maxInstances 8) and nap
//     (testdata/hostile/wat/nap.wasm, at maxDuration 300ms);
//   - other: a well-behaved tenant with hello and the env guest;
//   - greedy: a tenant limited to 2 instances in all, with runaway (loop,
//     maxDuration 1s) and healthy.
//
// Loading takes a while (compiled code comes from hostileCacheDir after
// the first run); a test that needs only some of testdata/hostile's routes
// names them.
type hostileEnv struct {
	dir     string // the tenants folder
	tenants *Tenants
	srv     *httptest.Server
	// client sends each attack on a connection of its own, so that what one
	// attack does to its connection cannot change the next one's answer
	// (TestHostileKeepAlive checks connection reuse); healthy keeps its
	// connections alive, as real clients do.
	client, healthyClient *http.Client
	logs                  *syncBuffer
}

func newHostileEnv(t *testing.T, only ...string) *hostileEnv {
	t.Helper()
	return newHostileEnvWith(t, hostileOptions{}, only...)
}

// hostileOptions changes what newHostileEnvWith serves.
type hostileOptions struct {
	// lazy compiles each module on its first request (Config.LazyCompile):
	// for a module whose initialization fails, which would fail its tenant
	// at load.
	lazy bool
	// routes, when set, adds routes to the tenants folder dir before they
	// load (hostileAddRoute).
	routes func(t *testing.T, dir string)
}

func newHostileEnvWith(t *testing.T, opt hostileOptions, only ...string) *hostileEnv {
	t.Helper()
	start := time.Now()
	src, dirs := hostileSource(t)
	if len(only) > 0 {
		dirs = slices.DeleteFunc(slices.Clone(dirs), func(d string) bool { return !slices.Contains(only, d) })
	}
	t.Setenv("WASMROUTE_SECRET", hostileSecret)
	dir := t.TempDir()
	hello := filepath.Join("..", "testdata", "wat", "hello.wasm")
	loop := filepath.Join(src, "app", "loop", "route.wasm")
	env := filepath.Join(src, "app", "env", "route.wasm")

	hostile := filepath.Join(dir, "hostile")
	hostileCopy(t, filepath.Join(src, "wasmroute.json"), filepath.Join(hostile, "wasmroute.json"))
	for _, d := range dirs {
		for _, name := range []string{"route.wasm", "route.json"} {
			from := filepath.Join(src, "app", filepath.FromSlash(d), name)
			if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) && name == "route.json" {
				continue
			}
			hostileCopy(t, from, filepath.Join(hostile, "app", filepath.FromSlash(d), name))
		}
	}
	if slices.Contains(dirs, "state") { // the control: the same guest, reused
		hostileAddRoute(t, hostile, "statereuse", filepath.Join(src, "app", "state", "route.wasm"), `{"isolation": "instance"}`)
	}
	hostileAddRoute(t, hostile, "healthy", hello, `{"maxInstances": 4}`)
	hostileAddRoute(t, hostile, "runaway", loop, `{"maxDuration": "2s", "maxInstances": 8, "maxWait": "200ms"}`)
	hostileAddRoute(t, hostile, "nap", filepath.Join(src, "wat", "nap.wasm"), `{"maxDuration": "300ms"}`)

	other := filepath.Join(dir, "other")
	writeFile(t, filepath.Join(other, "wasmroute.json"), `{"env": {"PROJECT_VAR": "other"}}`)
	hostileAddRoute(t, other, "hello", hello, "")
	if slices.Contains(dirs, "env") {
		hostileAddRoute(t, other, "env", env, "")
	}

	greedy := filepath.Join(dir, "greedy")
	writeFile(t, filepath.Join(greedy, "wasmroute.json"), `{"maxTenantInstances": 2, "maxWait": "200ms"}`)
	hostileAddRoute(t, greedy, "runaway", loop, `{"maxDuration": "1s"}`)
	hostileAddRoute(t, greedy, "healthy", hello, "")

	if opt.routes != nil {
		opt.routes(t, dir)
	}

	logs := &syncBuffer{}
	tenants, err := NewTenants(context.Background(), TenantsConfig{
		Dir:    dir,
		Domain: hostileDomain,
		Project: Config{
			CacheDir:    hostileCacheDir(),
			Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Env:         map[string]string{"GLOBAL_VAR": "global"},
			LazyCompile: opt.lazy,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs := tenants.Errors(); len(errs) > 0 {
		tenants.Close(context.Background())
		t.Fatalf("tenants failed to load: %v", errs)
	}
	e := &hostileEnv{
		dir:           dir,
		tenants:       tenants,
		srv:           httptest.NewServer(tenants),
		client:        &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		healthyClient: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}},
		logs:          logs,
	}
	t.Cleanup(e.close)
	t.Logf("%d routes built and loaded in %v", len(dirs), time.Since(start).Round(time.Millisecond))
	return e
}

// close closes the server and the tenants and drops them, so that what
// they held can be collected.
func (e *hostileEnv) close() {
	if e.tenants == nil {
		return
	}
	e.client.CloseIdleConnections()
	e.healthyClient.CloseIdleConnections()
	e.srv.Close()
	e.tenants.Close(context.Background())
	e.tenants, e.srv = nil, nil
}

func hostileAddRoute(t *testing.T, project, route, wasm, config string) {
	t.Helper()
	hostileCopy(t, wasm, filepath.Join(project, "app", route, "route.wasm"))
	if config != "" {
		writeFile(t, filepath.Join(project, "app", route, "route.json"), config)
	}
}

func hostileCopy(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

// hostileAnswer is what the client got.
type hostileAnswer struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
	err     error // the request's or the body's
}

// hostileMaxAnswer bounds what the client reads of a body.
const hostileMaxAnswer = 4 << 20

// call sends one request to tenant through the HTTP server with e.client. A
// contentLength of -1 sends body chunked; 0 lets net/http decide.
func (e *hostileEnv) call(ctx context.Context, tenant, method, target string, body io.Reader, contentLength int64) hostileAnswer {
	return e.callWith(e.client, ctx, tenant, method, target, body, contentLength)
}

func (e *hostileEnv) callWith(client *http.Client, ctx context.Context, tenant, method, target string, body io.Reader, contentLength int64) hostileAnswer {
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+target, body)
	if err != nil {
		return hostileAnswer{err: err}
	}
	req.Host = tenant + "." + hostileDomain
	if contentLength != 0 {
		req.ContentLength = contentLength
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return hostileAnswer{err: err, elapsed: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, hostileMaxAnswer))
	return hostileAnswer{status: res.StatusCode, header: res.Header, body: b, elapsed: time.Since(start), err: err}
}

func (e *hostileEnv) get(tenant, target string) hostileAnswer {
	return e.call(context.Background(), tenant, "GET", target, nil, 0)
}

// getHealthy sends a GET with e.healthyClient.
func (e *hostileEnv) getHealthy(tenant, target string) hostileAnswer {
	return e.callWith(e.healthyClient, context.Background(), tenant, "GET", target, nil, 0)
}

// healthy checks that the healthy routes of the hostile project and of
// another tenant answer.
func (e *hostileEnv) healthy(t *testing.T) {
	t.Helper()
	for _, hr := range hostileHealthy {
		if a := e.getHealthy(hr[0], hr[1]); a.err != nil || a.status != 200 || string(a.body) != "hello" || a.elapsed > 2*time.Second {
			t.Errorf("healthy %s%s: %d %q in %v, err %v; want 200 \"hello\" within 2s", hr[0], hr[1], a.status, a.body, a.elapsed, a.err)
		}
	}
}

// hostileHealthy are the tenant and path of each healthy route.
var hostileHealthy = [][2]string{{"hostile", "/healthy"}, {"other", "/hello"}}

// logSince returns what was logged after the log was n bytes long.
func (e *hostileEnv) logSince(n int) string { return e.logs.String()[n:] }

// hostileCase is one attack and what its attacker must get.
type hostileCase struct {
	name   string
	tenant string // default "hostile"
	method string // default GET
	target string
	body   func(t *testing.T) (io.Reader, int64) // the request body and its declared length
	status int
	within time.Duration // loose: behaviour, not a benchmark
	// notBefore, when set, is how long the answer must at least take: a
	// guest stopped for its deadline must not be stopped early.
	notBefore time.Duration
	// once: run once even when the others are repeated, because the next
	// case on the same route shows whether the instance slot was freed.
	once bool
	// check, when set, checks the answer further; log is what the server
	// logged during the request.
	check func(t *testing.T, e *hostileEnv, a hostileAnswer, log string)
}

// run sends tc's request once and checks the answer.
func (e *hostileEnv) run(t *testing.T, tc hostileCase) {
	t.Helper()
	var body io.Reader
	var n int64
	if tc.body != nil {
		body, n = tc.body(t)
	}
	before := len(e.logs.String())
	a := e.call(context.Background(), cmp.Or(tc.tenant, "hostile"), cmp.Or(tc.method, "GET"), tc.target, body, n)
	if a.err != nil {
		t.Fatalf("%s %s: %v after %v", cmp.Or(tc.method, "GET"), tc.target, a.err, a.elapsed)
	}
	if a.status != tc.status {
		t.Errorf("%s %s: status %d, want %d (body %.200q)", cmp.Or(tc.method, "GET"), tc.target, a.status, tc.status, a.body)
	}
	if a.elapsed > tc.within || a.elapsed < tc.notBefore {
		t.Errorf("%s %s answered in %v, want within %v and not before %v", cmp.Or(tc.method, "GET"), tc.target, a.elapsed, tc.within, tc.notBefore)
	}
	if tc.check != nil {
		tc.check(t, e, a, e.logSince(before))
	}
}

// runCases runs each case repeat times in a row, then checks that the
// healthy routes still answer. Every hostile route has one instance
// (maxInstances 1, maxWait 1s): a repeat that gets its expected answer,
// rather than 503, proves the attack freed its instance slot.
func (e *hostileEnv) runCases(t *testing.T, cases []hostileCase, repeat int) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := repeat
			if tc.once {
				n = 1
			}
			for range n {
				e.run(t, tc)
			}
			e.healthy(t)
		})
	}
}

// hostileCases lists the attacks on e; all adds what shows nothing new
// about leaks: badptr's second kind of bad range, and 100,000 rather than
// 10,000 headers from one name.
func hostileCases(e *hostileEnv, all bool) []hostileCase {
	createPath := filepath.Join(e.dir, "escaped-by-files")
	headerTries := 10_000
	if all {
		headerTries = 100_000
	}
	cases := []hostileCase{
		{name: "loop", target: "/loop", status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/loop")},
		{name: "sleep", target: "/sleep", status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/sleep")},
		{name: "nap", target: "/nap", status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/nap")},
		{name: "membomb", target: "/membomb", status: 500, within: 15 * time.Second, check: hostileFailed("/membomb")},
		{name: "recursion", target: "/recursion", status: 500, within: 15 * time.Second, check: hostileFailed("/recursion")},
		{name: "panic", target: "/panic", status: 500, within: 5 * time.Second,
			check: hostileFailed("/panic", "hostile panic: this text must reach the log, never the client")},
		{name: "exit", target: "/exit", status: 500, within: 5 * time.Second, check: hostileFailed("/exit", "exit_code(3)")},
		{name: "exit 0 keeps the response", target: "/exit?code=0", status: 200, within: 5 * time.Second, check: hostileBody("bye")},
		{name: "files", target: "/files?dir=" + filepath.Join(e.dir, "hostile") + "&create=" + createPath, status: 200, within: 5 * time.Second,
			check: func(t *testing.T, e *hostileEnv, a hostileAnswer, _ string) {
				var got map[string]struct {
					OK  bool
					Err string
					Got string
				}
				if err := json.Unmarshal(a.body, &got); err != nil {
					t.Fatalf("files: %v in %q", err, a.body)
				}
				if len(got) != 9 {
					t.Errorf("files made %d attempts, want 9: %s", len(got), a.body)
				}
				for what, r := range got {
					if r.OK {
						t.Errorf("files: %s succeeded (%q); every attempt must fail", what, r.Got)
					}
				}
				if _, err := os.Stat(createPath); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("files created %s on the host (stat: %v)", createPath, err)
				}
			}},
		{name: "env", target: "/env", status: 200, within: 5 * time.Second,
			check: hostileEnviron("GLOBAL_VAR=global", "PROJECT_VAR=hostile", "ROUTE_VAR=env")},
		{name: "env of another tenant", tenant: "other", target: "/env", status: 200, within: 5 * time.Second,
			check: hostileEnviron("GLOBAL_VAR=global", "PROJECT_VAR=other")},
		{name: "clock", target: "/clock", status: 200, within: 5 * time.Second, check: hostileClock},
		{name: "headers/one name", target: fmt.Sprintf("/headers?mode=add&n=%d", headerTries), status: 200, within: 10 * time.Second,
			check: hostileHeaders(headerTries, 50, func(h http.Header) int { return len(h.Values("X-Flood")) })},
		{name: "headers/many names", target: "/headers?mode=names&n=10000", status: 200, within: 10 * time.Second,
			check: hostileHeaders(10_000, 50, func(h http.Header) int {
				n := 0
				for k := range h {
					if strings.HasPrefix(k, "X-Flood-") {
						n++
					}
				}
				return n
			})},
		// Each value counts len("x-flood") + 1 KiB against 16 KiB.
		{name: "headers/big values", target: "/headers?mode=bytes&n=10000", status: 200, within: 10 * time.Second,
			check: hostileHeaders(10_000, 16<<10/(len("x-flood")+1024), func(h http.Header) int { return len(h.Values("X-Flood")) })},
		{name: "flood", target: "/flood", status: 200, within: 10 * time.Second,
			check: func(t *testing.T, e *hostileEnv, a hostileAnswer, log string) {
				if len(a.body) > 1<<20 {
					t.Errorf("flood: client got %d bytes, over maxResponse 1MiB", len(a.body))
				}
				// 64 KiB chunks fill 1 MiB exactly; the next write and a 1-byte
				// one are both refused.
				if want := "flood: wrote 1048576 bytes, then: route: size limit reached; then: route: size limit reached"; !strings.Contains(log, want) {
					t.Errorf("flood: log lacks %q:\n%.2000s", want, log)
				}
			}},
		{name: "slowbody/chunked", method: "POST", target: "/slowbody", body: hostileTrickle(-1),
			status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/slowbody")},
		{name: "slowbody/content-length", method: "POST", target: "/slowbody", body: hostileTrickle(1000),
			status: 504, within: 3 * time.Second, notBefore: 250 * time.Millisecond, check: hostileStopped("/slowbody")},
		{name: "slowbody/then a quick body", method: "POST", target: "/slowbody",
			body:   func(*testing.T) (io.Reader, int64) { return strings.NewReader("hello"), 0 },
			status: 200, within: time.Second, check: hostileBody(`{"len":5}`)},
		{name: "output", target: "/output", status: 200, within: 5 * time.Second,
			check: func(t *testing.T, e *hostileEnv, a hostileAnswer, log string) {
				if string(a.body) != "printed" {
					t.Errorf("output: body %q, want %q", a.body, "printed")
				}
				line := hostileLogLine(log, `msg="guest output"`, "route=/output")
				if line == "" {
					t.Fatalf("output: no guest output logged for /output:\n%.2000s", log)
				}
				if n := strings.Count(line, "Q"); n > maxGuestOutput || n < maxGuestOutput/2 {
					t.Errorf("output: the log kept %d of the 1 MiB printed; want at most, and about, %d", n, maxGuestOutput)
				}
				if !strings.Contains(line, "dropped") || !strings.Contains(line, "method=GET") || !strings.Contains(line, "tenant=hostile") {
					t.Errorf("output: log line lacks the dropped note, method or tenant: %.300s…%s", line, line[max(0, len(line)-300):])
				}
			}},
		{name: "trap frees the only instance", target: "/sleepthenok?panic=1", status: 500, within: 5 * time.Second,
			check: func(t *testing.T, e *hostileEnv, _ hostileAnswer, _ string) {
				if a := e.get("hostile", "/sleepthenok"); a.status != 200 || string(a.body) != "ok" || a.elapsed > time.Second {
					t.Errorf("after a trap, GET /sleepthenok (maxInstances 1): %d %q in %v; want 200 \"ok\" within 1s", a.status, a.body, a.elapsed)
				}
			}},
	}
	cases = append(cases, hostilePathCases()...)
	for _, f := range abi.Funcs {
		pairs := hostilePointerPairs(f)
		if pairs == 0 {
			// No pointer to abuse: the huge value is an argument like any
			// other and the guest carries on.
			want := map[string]string{abi.FuncSetStatus: "set_status=-1", abi.FuncFlush: "flush=0", abi.FuncFetchClose: "fetch_close=-1"}[f.Name]
			cases = append(cases, hostileCase{name: "badptr/" + f.Name, target: "/badptr?fn=" + f.Name,
				status: 200, within: 5 * time.Second, once: true, check: hostileBody(want)})
			continue
		}
		for arg := 1; arg <= pairs; arg++ {
			for _, mode := range []string{"huge", "wrap"} {
				if mode != "huge" && !all {
					continue
				}
				cases = append(cases, hostileCase{
					name:   fmt.Sprintf("badptr/%s/arg%d/%s", f.Name, arg, mode),
					target: fmt.Sprintf("/badptr?fn=%s&arg=%d&mode=%s", f.Name, arg, mode),
					status: 500, within: 5 * time.Second, once: true, check: hostileFailed("/badptr", f.Name),
				})
			}
		}
	}
	return cases
}

// hostilePointerPairs returns how many (pointer, length) pairs f takes, as
// testdata/hostile/app/badptr passes them: its i32 parameters in twos, but
// for set_status, flush and fetch_close, which take none; fetch_poll, whose
// (handles, count) is one pair of 4×count bytes; fetch_head and
// fetch_body_read, whose one pair (buf, buf_len) follows the handle;
// respond, whose two pairs follow the status.
func hostilePointerPairs(f abi.Func) int {
	switch f.Name {
	case abi.FuncSetStatus, abi.FuncFlush, abi.FuncFetchClose:
		return 0
	case abi.FuncFetchPoll, abi.FuncFetchHead, abi.FuncFetchBodyRead:
		return 1
	case abi.FuncKVIncr:
		return 2 // key, and inout: a pointer to 8 bytes
	}
	return f.Params / 2 // kv_set's fifth argument is a ttl
}

// hostileStopped checks that the request was stopped at its deadline and logged.
func hostileStopped(route string) func(*testing.T, *hostileEnv, hostileAnswer, string) {
	return func(t *testing.T, e *hostileEnv, a hostileAnswer, log string) {
		t.Helper()
		if len(a.body) != 0 {
			t.Errorf("body %.200q, want none", a.body)
		}
		if hostileLogLine(log, "over its time limit", "route="+route) == "" {
			t.Errorf("log lacks the stop of %s:\n%.2000s", route, log)
		}
	}
}

// hostileFailed checks that the guest's failure left the client an empty answer
// without the guest's headers, and the log a line with the route and what.
func hostileFailed(route string, what ...string) func(*testing.T, *hostileEnv, hostileAnswer, string) {
	return func(t *testing.T, e *hostileEnv, a hostileAnswer, log string) {
		t.Helper()
		if len(a.body) != 0 {
			t.Errorf("body %.200q, want none", a.body)
		}
		if c := a.header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("Set-Cookie %q reached the client with the error", c)
		}
		if hostileLogLine(log, append([]string{`msg="guest failed"`, "route=" + route, "method=GET", "tenant=hostile"}, what...)...) == "" {
			t.Errorf("log lacks a guest failure of %s naming %q:\n%.3000s", route, what, log)
		}
	}
}

func hostileBody(want string) func(*testing.T, *hostileEnv, hostileAnswer, string) {
	return func(t *testing.T, e *hostileEnv, a hostileAnswer, _ string) {
		t.Helper()
		if string(a.body) != want {
			t.Errorf("body %.200q, want %q", a.body, want)
		}
	}
}

// hostileEnviron checks a guest's whole environment.
func hostileEnviron(want ...string) func(*testing.T, *hostileEnv, hostileAnswer, string) {
	return func(t *testing.T, e *hostileEnv, a hostileAnswer, _ string) {
		t.Helper()
		if strings.Contains(string(a.body), hostileSecret) {
			t.Errorf("the host's WASMROUTE_SECRET reached the guest: %s", a.body)
		}
		var got []string
		if err := json.Unmarshal(a.body, &got); err != nil {
			t.Fatalf("%v in %q", err, a.body)
		}
		slices.Sort(got)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("guest environment (-want +got):\n%s", diff)
		}
	}
}

// hostileClock checks the wall clock against the host's, that a sleep took real
// monotonic time, and that random reads differ within a request, between
// requests and between fresh instances (wazero's default is a fixed seed).
func hostileClock(t *testing.T, e *hostileEnv, a hostileAnswer, _ string) {
	t.Helper()
	seen := map[string]bool{}
	check := func(a hostileAnswer) {
		t.Helper()
		var got struct {
			Now   int64
			Slept int64
			Rand  []string
		}
		if err := json.Unmarshal(a.body, &got); err != nil {
			t.Fatalf("clock: %v in %q", err, a.body)
		}
		if d := time.Since(time.Unix(0, got.Now)).Abs(); d > 5*time.Second {
			t.Errorf("clock: guest's wall clock %v is %v off the host's", time.Unix(0, got.Now), d)
		}
		if d := time.Duration(got.Slept); d < 20*time.Millisecond || d > 5*time.Second {
			t.Errorf("clock: a 20ms sleep took %v by the guest's monotonic clock", d)
		}
		for _, r := range got.Rand {
			if len(r) != 32 || seen[r] {
				t.Errorf("clock: random value %q is malformed or repeated", r)
			}
			seen[r] = true
		}
	}
	check(a)
	// Two fresh instances: each exits cleanly after answering.
	for _, target := range []string{"/clock?exit=1", "/clock?exit=1", "/clock"} {
		a := e.get("hostile", target)
		if a.status != 200 {
			t.Fatalf("GET %s: %d %q", target, a.status, a.body)
		}
		check(a)
	}
}

// hostileHeaders checks a guest that tried to add tries header values and
// was allowed exactly want of them.
func hostileHeaders(tries, want int, count func(http.Header) int) func(*testing.T, *hostileEnv, hostileAnswer, string) {
	return func(t *testing.T, e *hostileEnv, a hostileAnswer, _ string) {
		t.Helper()
		var got struct {
			Added, Failed int
			TooLarge      bool
			Err           string
		}
		if err := json.Unmarshal(a.body, &got); err != nil {
			t.Fatalf("headers: %v in %q", err, a.body)
		}
		if got.Added != want || got.Added+got.Failed != tries || !got.TooLarge {
			t.Errorf("headers: the host took %d header values and refused %d (first error %q); want %d taken, then every one refused with ErrTooLarge", got.Added, got.Failed, got.Err, want)
		}
		if n := count(a.header); n != got.Added {
			t.Errorf("headers: the client got %d of the guest's header values, want the %d the host took", n, got.Added)
		}
	}
}

// hostileTrickle returns a slow-loris body: one byte every 20ms, for at most 10s,
// declared as length bytes (-1: chunked). It ends when the test does.
func hostileTrickle(length int64) func(t *testing.T) (io.Reader, int64) {
	return func(t *testing.T) (io.Reader, int64) {
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			end := time.After(10 * time.Second)
			for {
				select {
				case <-tick.C:
				case <-end:
					pw.Close()
					return
				}
				if _, err := pw.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() {
			pr.Close()
			<-done
		})
		return pr, length
	}
}

// hostileLogLine returns the first line of log holding every one of want, or "".
func hostileLogLine(log string, want ...string) string {
	for line := range strings.Lines(log) {
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(line, w) }) {
			return line
		}
	}
	return ""
}

// TestHostile runs every attack twice in a row (the second run proves the
// first freed the route's only instance slot) while a hostileProber checks that
// the healthy routes of the same project and of another tenant keep
// answering.
func TestHostile(t *testing.T) {
	e := newHostileEnv(t)
	start := time.Now()
	p := e.probe(hostileHealthy...)
	e.runCases(t, hostileCases(e, true), 2)
	p.check(t)
	t.Logf("cases in %v", time.Since(start).Round(time.Millisecond))
}

// hostileProber sends requests to healthy routes, one after another, until stopped.
type hostileProber struct {
	limit      time.Duration // each must answer within it
	stop, done chan struct{}
	mu         sync.Mutex
	latencies  []time.Duration
	failures   []string
}

func (e *hostileEnv) probe(targets ...[2]string) *hostileProber {
	return e.probeWithin(2*time.Second, targets...)
}

// probeWithin probes targets, each to answer within limit.
func (e *hostileEnv) probeWithin(limit time.Duration, targets ...[2]string) *hostileProber {
	p := &hostileProber{limit: limit, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		// The first probe goes at once, so that even a test over in a few
		// milliseconds has one.
		for i := 0; ; i++ {
			tt := targets[i%len(targets)]
			a := e.getHealthy(tt[0], tt[1])
			p.mu.Lock()
			p.latencies = append(p.latencies, a.elapsed)
			if a.err != nil || a.status != 200 || string(a.body) != "hello" || a.elapsed > p.limit {
				p.failures = append(p.failures, fmt.Sprintf("%s%s: %d %q in %v, err %v", tt[0], tt[1], a.status, a.body, a.elapsed, a.err))
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return p
}

// check stops p and checks that every probe answered 200 within its limit.
func (p *hostileProber) check(t *testing.T) {
	t.Helper()
	close(p.stop)
	<-p.done
	if len(p.latencies) == 0 {
		t.Fatal("no healthy request was sent")
	}
	for _, f := range p.failures {
		t.Errorf("healthy route failed while under attack: %s (want 200 \"hello\" within %v)", f, p.limit)
	}
	lat := slices.Clone(p.latencies)
	slices.Sort(lat)
	t.Logf("healthy routes: %d requests, median %v, max %v", len(lat), lat[len(lat)/2], lat[len(lat)-1])
}

// TestHostileRunaway saturates a route with runaway guests while healthy
// routes must keep answering, then saturates a whole tenant.
func TestHostileRunaway(t *testing.T) {
	// As wasmroute serve does (see the package doc on GOMAXPROCS): spare Ps
	// keep the healthy routes responsive beside the runaway guests.
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(8 * goruntime.NumCPU()))
	e := newHostileEnv(t, "none")

	t.Run("eight loops", func(t *testing.T) {
		p := e.probe(hostileHealthy...)
		var wg sync.WaitGroup
		answers := make([]hostileAnswer, 8)
		for i := range answers {
			wg.Go(func() { answers[i] = e.get("hostile", "/runaway") })
		}
		time.Sleep(500 * time.Millisecond) // all 8 are spinning
		// A ninth finds the route at its maxInstances, 8.
		if a := e.get("hostile", "/runaway"); a.status != 503 || a.header.Get("Retry-After") == "" || a.elapsed > 1500*time.Millisecond {
			t.Errorf("a ninth runaway: %d (Retry-After %q) in %v; want 503 with Retry-After after maxWait 200ms", a.status, a.header.Get("Retry-After"), a.elapsed)
		}
		wg.Wait()
		p.check(t)
		for i, a := range answers {
			if a.err != nil || a.status != 504 || a.elapsed > 6*time.Second {
				t.Errorf("runaway %d: %d in %v, err %v; want 504 soon after maxDuration 2s", i, a.status, a.elapsed, a.err)
			}
		}
	})

	t.Run("tenant at its limit", func(t *testing.T) {
		// greedy may run 2 instances in all: two runaways take both.
		var wg sync.WaitGroup
		answers := make([]hostileAnswer, 2)
		for i := range answers {
			wg.Go(func() { answers[i] = e.get("greedy", "/runaway") })
		}
		time.Sleep(300 * time.Millisecond)
		if a := e.get("greedy", "/healthy"); a.status != 503 || a.header.Get("Retry-After") == "" || a.elapsed > 900*time.Millisecond {
			t.Errorf("greedy's healthy route while greedy is at maxTenantInstances: %d (Retry-After %q) in %v; want 503 with Retry-After after maxWait 200ms", a.status, a.header.Get("Retry-After"), a.elapsed)
		}
		e.healthy(t) // the other tenants do not starve
		wg.Wait()
		for i, a := range answers {
			if a.status != 504 {
				t.Errorf("greedy runaway %d: %d in %v, err %v; want 504", i, a.status, a.elapsed, a.err)
			}
		}
		if a := e.get("greedy", "/healthy"); a.status != 200 {
			t.Errorf("greedy's healthy route after its runaways stopped: %d, want 200", a.status)
		}
	})
}

// TestHostileDisconnect checks that a client leaving stops its guest and
// frees the instance, long before the guest's maxDuration.
func TestHostileDisconnect(t *testing.T) {
	// As wasmroute serve does: the two spinning guests below hold a P each
	// until their next check, and the client leaving runs in this process.
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(8 * goruntime.NumCPU()))
	e := newHostileEnv(t, "sleepthenok")
	leave := func(tenant, target string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if a := e.call(ctx, tenant, "GET", target, nil, 0); !errors.Is(a.err, context.DeadlineExceeded) {
			t.Fatalf("GET %s: %d %q, err %v; want the client to give up after 100ms", target, a.status, a.body, a.err)
		}
	}

	t.Run("asleep", func(t *testing.T) {
		// sleepthenok has one instance, maxDuration 30s and maxWait 3s.
		before := len(e.logs.String())
		leave("hostile", "/sleepthenok?sleep=1")
		if a := e.get("hostile", "/sleepthenok"); a.status != 200 || string(a.body) != "ok" || a.elapsed > time.Second {
			t.Errorf("after the client left a sleeping guest: %d %q in %v; want 200 \"ok\" within 1s (the instance freed)", a.status, a.body, a.elapsed)
		}
		if hostileLogLine(e.logSince(before), `msg="client left"`, "route=/sleepthenok") == "" {
			t.Errorf("log lacks the client leaving /sleepthenok:\n%s", e.logSince(before))
		}
	})

	t.Run("spinning", func(t *testing.T) {
		// greedy has 2 instances in all; its runaways stop after 1s.
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { leave("greedy", "/runaway") })
		}
		wg.Wait()
		if a := e.get("greedy", "/healthy"); a.status != 200 || a.elapsed > 500*time.Millisecond {
			t.Errorf("after two clients left spinning guests: %d in %v; want 200 within 500ms (their instances freed before their 1s deadline)", a.status, a.elapsed)
		}
	})
}

// TestHostileKeepAlive checks that a request stopped at its deadline leaves
// nothing behind on its connection: the next requests of a keep-alive
// client, which sends them all on one connection while the server keeps it
// open, get their own answers in their own time.
func TestHostileKeepAlive(t *testing.T) {
	e := newHostileEnv(t, "loop", "sleep", "sleepthenok", "exit")
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for _, step := range []struct {
		target    string
		status    int
		body      string
		notBefore time.Duration
	}{
		{"/loop", 504, "", 250 * time.Millisecond},
		{"/sleepthenok", 200, "ok", 0},
		{"/exit?code=0", 200, "bye", 0},
		{"/healthy", 200, "hello", 0},
		{"/sleep", 504, "", 250 * time.Millisecond},
		{"/sleep", 504, "", 250 * time.Millisecond},
		{"/sleepthenok", 200, "ok", 0},
		{"/nap", 504, "", 250 * time.Millisecond},
		{"/sleepthenok", 200, "ok", 0},
		{"/nap", 504, "", 250 * time.Millisecond},
		{"/healthy", 200, "hello", 0},
	} {
		a := e.callWith(client, context.Background(), "hostile", "GET", step.target, nil, 0)
		if a.err != nil || a.status != step.status || string(a.body) != step.body || a.elapsed < step.notBefore {
			t.Errorf("GET %s after a stopped request on a kept-alive connection: %d %q in %v, err %v; want %d %q, not before %v",
				step.target, a.status, a.body, a.elapsed, a.err, step.status, step.body, step.notBefore)
		}
	}
}

// TestHostileLeaks runs every attack for rounds after a warm-up, then checks
// that goroutines and the Go heap came back, and again after Close.
func TestHostileLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("rounds of attacks take seconds")
	}
	const rounds = 5
	hostileSource(t)
	startG, startHeap := hostileGoroutines(0), hostileHeap()
	e := newHostileEnv(t)
	cases := hostileCases(e, false)
	start := time.Now()
	t.Run("warm-up", func(t *testing.T) { e.runCases(t, cases, 1) })
	e.client.CloseIdleConnections()
	e.healthyClient.CloseIdleConnections()
	baseG, baseHeap := hostileGoroutines(0), hostileHeap()
	for i := range rounds {
		t.Run(fmt.Sprintf("round %d", i+1), func(t *testing.T) { e.runCases(t, cases, 1) })
	}
	elapsed := time.Since(start)
	e.client.CloseIdleConnections()
	e.healthyClient.CloseIdleConnections()
	const slack = 4
	afterG, afterHeap := hostileGoroutines(baseG+slack), hostileHeap()
	e.close()
	closedG, closedHeap := hostileGoroutines(startG+slack), hostileHeap()
	t.Logf("%d requests a round; warm-up and %d rounds in %v", len(cases), rounds, elapsed.Round(time.Millisecond))
	t.Logf("goroutines: %d before the server, %d after the warm-up, %d after %d rounds, %d after Close", startG, baseG, afterG, rounds, closedG)
	t.Logf("heap in use: %s before the server, %s after the warm-up, %s after %d rounds, %s after Close", hostileMiB(startHeap), hostileMiB(baseHeap), hostileMiB(afterHeap), rounds, hostileMiB(closedHeap))
	if afterG > baseG+slack {
		t.Errorf("%d goroutines after %d rounds, %d after the warm-up: leaked\n%s", afterG, rounds, baseG, hostileStacks())
	}
	if closedG > startG+slack {
		t.Errorf("%d goroutines after Close, %d before the server: leaked\n%s", closedG, startG, hostileStacks())
	}
	// The pools keep at most one idle instance per hostile route; a round
	// discards 30 instances of a few MiB each, so keeping them would pass
	// 64 MiB within the rounds.
	if afterHeap > baseHeap+64<<20 {
		t.Errorf("heap grew from %s after the warm-up to %s after %d rounds", hostileMiB(baseHeap), hostileMiB(afterHeap), rounds)
	}
	if closedHeap > startHeap+32<<20 {
		t.Errorf("heap %s after Close, %s before the server", hostileMiB(closedHeap), hostileMiB(startHeap))
	}
}

// hostileGoroutines waits up to 5s for the goroutine count to fall to at
// most want (0: to stop changing) and returns it.
func hostileGoroutines(want int) int {
	n := goruntime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := goruntime.NumGoroutine()
		if (want > 0 && m <= want) || (want == 0 && m == n) {
			return m
		}
		n = m
	}
	return n
}

func hostileHeap() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func hostileMiB(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func hostileStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:goruntime.Stack(buf, true)])
}

// TestHostileWATFixtures checks that each committed .wasm in
// testdata/hostile/wat is what wat2wasm makes of its .wat source, as
// TestWATFixtures does for testdata/wat.
func TestHostileWATFixtures(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatal("wat2wasm (Debian package wabt) is needed to check the WAT fixtures; .ci/run installs it")
	}
	sources, _ := filepath.Glob(filepath.Join("..", "testdata", "hostile", "wat", "*.wat"))
	if len(sources) == 0 {
		t.Fatal("no WAT fixtures found")
	}
	for _, src := range sources {
		wasm := strings.TrimSuffix(src, ".wat") + ".wasm"
		fresh := filepath.Join(t.TempDir(), "out.wasm")
		if out, err := exec.Command(wat2wasm, src, "-o", fresh).CombinedOutput(); err != nil {
			t.Errorf("wat2wasm %s: %v\n%s", src, err, out)
			continue
		}
		want, _ := os.ReadFile(fresh)
		if got, err := os.ReadFile(wasm); err != nil || !slices.Equal(want, got) {
			t.Errorf("%s is missing or stale (%v): run wat2wasm %s -o %s", wasm, err, src, wasm)
		}
	}
}

// TestHostileState has the state guest try to see what earlier requests
// left behind — a counter, the previous request's secret, a map — in
// request isolation, and in instance isolation as the control that shows
// it would have.
func TestHostileState(t *testing.T) {
	e := newHostileEnv(t, "state")
	type state struct {
		Served   int
		Secret   string
		Seen     int
		Random   string
		MathRand uint64
	}
	get := func(target string) state {
		t.Helper()
		a := e.get("hostile", target)
		var s state
		if a.err != nil || a.status != 200 || json.Unmarshal(a.body, &s) != nil {
			t.Fatalf("GET %s = %d %q, %v", target, a.status, a.body, a.err)
		}
		return s
	}
	random := map[string]bool{}
	var mathRand []uint64
	var got []state
	for _, target := range []string{"/state?secret=a", "/state?secret=b", "/state?grow=8&secret=c", "/state?secret=d", "/statereuse?secret=a", "/statereuse?secret=b", "/statereuse"} {
		s := get(target)
		random[s.Random] = true
		if strings.HasPrefix(target, "/state?") {
			mathRand = append(mathRand, s.MathRand)
		}
		s.Random, s.MathRand = "", 0
		got = append(got, s)
	}
	want := []state{
		{}, {}, {}, {}, // request: nothing left behind, after memory growth too
		{}, {Served: 1, Secret: "a", Seen: 1}, {Served: 2, Secret: "b", Seen: 2}, // instance
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if len(random) != len(got) {
		t.Errorf("crypto/rand gave %d distinct values in %d requests, want all distinct", len(random), len(got))
	}
	// What the initialization computed is shared, math/rand's seed with it:
	// documented, and checked so that the documentation stays true.
	for _, v := range mathRand[1:] {
		if v != mathRand[0] {
			t.Errorf("math/rand in request isolation: %d, want the snapshot's %d every time", v, mathRand[0])
		}
	}
	e.healthy(t)
}
