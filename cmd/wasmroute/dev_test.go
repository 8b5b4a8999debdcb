package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// devProject lays out a project with a TypeScript and a Go route; its
// go.mod takes wasmroute from this checkout.
func devProject(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{
		"go.mod":           fmt.Sprintf("module devtest\n\ngo 1.26.8\n\nrequire github.com/wasmroute/wasmroute v0.0.0\n\nreplace github.com/wasmroute/wasmroute => %s\n", repo),
		"go.sum":           string(sum),
		"app/ts/route.ts":  tsRoute("ts1"),
		"app/go/route.go":  goRoute("go1"),
		"app/env/route.ts": `export function GET() { return new Response(process.env.GREETING ?? "none") }`,
	} {
		writeProjectFile(t, dir, name, src)
	}
	return dir
}

func tsRoute(body string) string {
	return fmt.Sprintf("export function GET() {\n  return new Response(%q, {headers: {'x-version': %q}})\n}\n", body, body)
}

func goRoute(body string) string {
	return fmt.Sprintf(`//go:build wasip1

package main

import "github.com/wasmroute/wasmroute/guest-sdk/route"

//go:wasmexport GET
func get() {
	route.Serve(func(w *route.Response, r *route.Request) {
		w.SetHeader("x-version", %q)
		w.Write([]byte(%q))
	})
}

func main() {}
`, body, body)
}

func writeProjectFile(t testing.TB, dir, name, src string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reply is a response's status and body.
type reply struct {
	Status int
	Body   string
}

func fetch(url string) (reply, error) {
	res, err := http.Get(url)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, string(b)}, err
}

// await asks url until ok accepts its reply, at most within, and returns
// how long that took.
func await(t testing.TB, url string, within time.Duration, ok func(reply) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last reply
	for time.Since(start) < within {
		a, err := fetch(url)
		if err == nil && ok(a) {
			return time.Since(start)
		}
		last = a
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("GET %s: still %+v after %v", url, last, within)
	return 0
}

func body(want string) func(reply) bool {
	return func(a reply) bool { return a.Status == 200 && a.Body == want }
}

func failing(with string) func(reply) bool {
	return func(a reply) bool { return a.Status == 500 && strings.Contains(a.Body, with) }
}

func TestDev(t *testing.T) {
	dir := devProject(t)
	s := launch(t, "dev", dir)
	await(t, s.url+"/ts", 10*time.Second, body("ts1"))
	await(t, s.url+"/go", 10*time.Second, body("go1"))

	writeProjectFile(t, dir, "app/ts/route.ts", tsRoute("ts2"))
	t.Logf("a saved route.ts answered in %v", await(t, s.url+"/ts", 5*time.Second, body("ts2")))
	writeProjectFile(t, dir, "app/go/route.go", goRoute("go2"))
	t.Logf("a saved route.go answered in %v", await(t, s.url+"/go", time.Minute, body("go2")))

	// A broken route answers 500 with its error, naming file, line and
	// column, in the browser and on the terminal; the others serve on.
	writeProjectFile(t, dir, "app/go/route.go", "//go:build wasip1\n\npackage main\n\nfunc main() {\n")
	await(t, s.url+"/go", time.Minute, failing("app/go/route.go:6:1: syntax error"))
	writeProjectFile(t, dir, "app/ts/route.ts", "export function GET() {\n  return new Response('x'\n}\n")
	await(t, s.url+"/ts", 5*time.Second, failing("app/ts/route.ts:3:1: Expected \")\""))
	if a, err := fetch(s.url + "/env"); err != nil || a != (reply{200, "none"}) {
		t.Errorf("GET /env beside two broken routes = %+v, %v", a, err)
	}
	for _, want := range []string{"error: app/ts/route.ts:3:1", "app/go/route.go:6:1"} {
		printed(t, s, want)
	}
	writeProjectFile(t, dir, "app/go/route.go", goRoute("go3"))
	writeProjectFile(t, dir, "app/ts/route.ts", tsRoute("ts3"))
	await(t, s.url+"/go", time.Minute, body("go3"))
	await(t, s.url+"/ts", 5*time.Second, body("ts3"))

	// New folders become routes, deleted ones reply 404; config files
	// reload too.
	writeProjectFile(t, dir, "app/new/deep/route.ts", tsRoute("new"))
	await(t, s.url+"/new/deep", 5*time.Second, body("new"))
	if err := os.RemoveAll(filepath.Join(dir, "app", "new")); err != nil {
		t.Fatal(err)
	}
	await(t, s.url+"/new/deep", 5*time.Second, func(a reply) bool { return a.Status == 404 })
	writeProjectFile(t, dir, "wasmroute.json", `{"env": {"GREETING": "from wasmroute.json"}}`)
	await(t, s.url+"/env", 5*time.Second, body("from wasmroute.json"))
	writeProjectFile(t, dir, "app/env/route.json", `{"env": {"GREETING": "from route.json"}}`)
	await(t, s.url+"/env", 5*time.Second, body("from route.json"))
	writeProjectFile(t, dir, "middleware.ts", `export function middleware(request) {
  if (request.nextUrl.pathname === '/mw') return new Response('from middleware')
}`)
	await(t, s.url+"/mw", 5*time.Second, body("from middleware"))
	if err := os.Remove(filepath.Join(dir, "middleware.ts")); err != nil {
		t.Fatal(err)
	}
	await(t, s.url+"/mw", 5*time.Second, func(a reply) bool { return a.Status == 404 })
	writeProjectFile(t, dir, "wasmroute.json", `{"maxDuration": "forever"}`)
	time.Sleep(300 * time.Millisecond)
	if a, err := fetch(s.url + "/env"); err != nil || a != (reply{200, "from route.json"}) {
		t.Errorf("GET /env after a broken wasmroute.json = %+v, %v; want the last good version", a, err)
	}
	printed(t, s, `reload failed; the previous version serves on" err="1 load error(s):\n\twasmroute.json:`)
}

// printed waits up to 10s for s to print want on stderr.
func printed(t *testing.T, s *server, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.stderr.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not printed:\n%s", want, s.stderr)
		}
	}
}

func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir := devProject(t)
	s := start(t, dir)
	await(t, s.url+"/ts", 10*time.Second, body("ts1"))
	writeProjectFile(t, dir, "app/ts/route.ts", tsRoute("ts2"))
	writeProjectFile(t, dir, "app/go/route.go", goRoute("go2"))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	await(t, s.url+"/go", time.Minute, body("go2"))
	await(t, s.url+"/ts", time.Second, body("ts2"))

	// A broken edit keeps the last good version serving.
	writeProjectFile(t, dir, "app/ts/route.ts", "export function GET() {\n  return new Response('x'\n}\n")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	printed(t, s, "reload failed")
	printed(t, s, "app/ts/route.ts:3:1")
	for path, want := range map[string]string{"/ts": "ts2", "/go": "go2"} {
		if a, err := fetch(s.url + path); err != nil || a != (reply{200, want}) {
			t.Errorf("GET %s after a failed reload = %+v, %v; want 200 %s", path, a, err, want)
		}
	}
}

// TestDevUnderLoad edits a TypeScript route 20 times, and a Go route 4
// times, while 32 connections send requests: none fails, and no response
// mixes two versions.
func TestDevUnderLoad(t *testing.T) {
	dir := devProject(t)
	s := launch(t, "dev", dir)
	// The load starts once every module is compiled: until then, a route's
	// first requests wait for its compilation (serve's lazy start), which
	// is not what this test measures.
	printed(t, s, "compiled every module")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var (
		stop     atomic.Bool
		requests atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	for c := range 32 {
		wg.Go(func() {
			path := []string{"/ts", "/go", "/env"}[c%3]
			for !stop.Load() {
				res, err := client.Get(s.url + path)
				var b []byte
				if err == nil {
					b, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				requests.Add(1)
				var problem string
				switch {
				case err != nil:
					problem = err.Error()
				case res.StatusCode != 200:
					problem = fmt.Sprintf("%d %q", res.StatusCode, b)
				case path != "/env" && res.Header.Get("x-version") != string(b):
					problem = fmt.Sprintf("mixed versions: header %s, body %s", res.Header.Get("x-version"), b)
				}
				if problem != "" {
					mu.Lock()
					failures = append(failures, "GET "+path+": "+problem)
					mu.Unlock()
				}
			}
		})
	}
	var slowest time.Duration
	for n := 2; n <= 21; n++ {
		v := fmt.Sprintf("ts%d", n)
		writeProjectFile(t, dir, "app/ts/route.ts", tsRoute(v))
		slowest = max(slowest, await(t, s.url+"/ts", 10*time.Second, body(v)))
		if n%5 == 0 {
			// The Go route too: it serves from the interpreter, then from
			// compiled code (runtime/interim.go), both under the load.
			v := fmt.Sprintf("go%d", n)
			writeProjectFile(t, dir, "app/go/route.go", goRoute(v))
			await(t, s.url+"/go", time.Minute, body(v))
		}
	}
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during 24 reloads, such as:\n%s", len(failures), requests.Load(), strings.Join(failures[:min(10, len(failures))], "\n"))
	}
	t.Logf("%d requests during 24 reloads, %d failed; the slowest edit of the TS route answered in %v", requests.Load(), len(failures), slowest)
}

func TestGoToBuild(t *testing.T) {
	goDirs := []string{"", "api/x", "blog/[slug]"}
	tests := []struct {
		changed []string
		dirs    []string
		shared  bool
	}{
		{[]string{"app/api/x/route.go"}, []string{"api/x"}, false},
		{[]string{"app/api/x/helper.go", "app/route.go"}, []string{"api/x", ""}, false},
		{[]string{"app/blog/[slug]/route.ts", "wasmroute.json"}, nil, false},
		{[]string{"middleware.go"}, nil, false},
		{[]string{"internal/db/db.go"}, goDirs, true},
		{[]string{"go.mod"}, goDirs, true},
		{[]string{"apple/x.go"}, goDirs, true},
		{[]string{"app/_lib/util.go"}, goDirs, true},
	}
	for _, tt := range tests {
		dirs, shared := goToBuild(tt.changed, goDirs)
		if diff := cmp.Diff(tt.dirs, dirs); diff != "" || shared != tt.shared {
			t.Errorf("goToBuild(%q) = %q, %v; want %q, %v", tt.changed, dirs, shared, tt.dirs, tt.shared)
		}
	}
}

// BenchmarkDevSave measures, through wasmroute dev, the time from a saved
// route file to the first response with its new code: ns/op is that time.
// For the Go route, build-ms/op is the time go build takes for the same
// edit in a twin of the project, built the way dev builds it, between two
// saves; over-build-ms/op is what dev adds to it.
func BenchmarkDevSave(b *testing.B) {
	for _, tt := range []struct {
		route string
		src   func(string) string
	}{{"ts", tsRoute}, {"go", goRoute}} {
		b.Run(tt.route, func(b *testing.B) {
			dir := devProject(b)
			s := launch(b, "dev", dir)
			await(b, s.url+"/"+tt.route, time.Minute, body(tt.route+"1"))
			var twin string // for go build alone
			if tt.route == "go" {
				twin = devProject(b)
			}
			var build time.Duration
			n := 0
			for i := 0; b.Loop(); i++ {
				v := fmt.Sprintf("%s-%d", tt.route, i)
				writeProjectFile(b, dir, "app/"+tt.route+"/route."+tt.route, tt.src(v))
				await(b, s.url+"/"+tt.route, time.Minute, body(v))
				b.StopTimer()
				if twin != "" {
					time.Sleep(2 * time.Second) // the compiler's background compilation is over (runtime/interim.go)
					writeProjectFile(b, twin, "app/go/route.go", tt.src(v))
					start := time.Now()
					goBuild(b, filepath.Join(twin, "app", "go"))
					build += time.Since(start)
				}
				n++
				time.Sleep(300 * time.Millisecond) // the watcher's batch is over
				b.StartTimer()
			}
			if build > 0 {
				perOp := func(d time.Duration) float64 { return float64(d) / float64(n) / 1e6 }
				b.ReportMetric(perOp(build), "build-ms/op")
				b.ReportMetric(perOp(b.Elapsed()-build), "over-build-ms/op")
			}
		})
	}
}

// goBuild runs the bare go command a developer would, as internal/build
// runs it (over the route.wasm built before), without build's own steps:
// the baseline is go build itself, not wasmroute's build.
func goBuild(tb testing.TB, dir string) {
	tb.Helper()
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", "route.wasm", "route.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
}
