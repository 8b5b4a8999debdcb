//go:build linux

package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// corsPage is the page a browser loads from one port: it calls the routes
// of the server named by its ?api= on another port, each call as a page
// would, and posts what it could read to its own server's /result.
const corsPage = `<!doctype html>
<title>cors</title>
<script type="module">
const api = new URLSearchParams(location.search).get('api')
document.cookie = 'sid=s3cret; path=/'
async function attempt(path, init, read) {
  try {
    return await read(await fetch(api + path, init))
  } catch (e) {
    return 'blocked: ' + e.name
  }
}
const text = async (res) => res.status + ' ' + await res.text()
const results = {
  credentialed: await attempt('/items', { credentials: 'include' },
    async (res) => (await text(res)) + ' x-total=' + res.headers.get('x-total') + ' x-hidden=' + res.headers.get('x-hidden')),
  preflighted: await attempt('/items', { method: 'PUT', credentials: 'include',
    headers: { 'X-Custom': '1', 'Content-Type': 'application/json' }, body: '{"a":1}' }, text),
  methodNotListed: await attempt('/items', { method: 'DELETE' }, text),
  headerNotListed: await attempt('/items', { method: 'PUT', headers: { 'X-Other': '1' }, body: 'x' }, text),
  guestFailed: await attempt('/fail', {}, text),
  everyOrigin: await attempt('/open', {}, text),
  everyOriginCredentialed: await attempt('/open', { credentials: 'include' }, text),
}
await fetch('/result', { method: 'POST', body: JSON.stringify(results) })
</script>
`

// TestCORSBrowser has headless Chromium load a page from one 127.0.0.1
// port that calls routes on another: from an allowed origin, then from an
// origin the routes do not list. It needs the chromium command; with
// WASMROUTE_REQUIRE_CHROMIUM=1 (as in CI) a missing one fails the test.
func TestCORSBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("WASMROUTE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("chromium: %v (WASMROUTE_REQUIRE_CHROMIUM=1: install Debian's chromium package)", err)
		}
		t.Skipf("chromium: %v (install Debian's chromium package to run this test)", err)
	}

	results := make(chan map[string]string, 2)
	page := func() *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/":
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, corsPage)
			case "/result":
				var got map[string]string
				if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
					t.Errorf("page %s: result: %v", r.Host, err)
				}
				results <- got
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	allowed, other := page(), page()

	files := map[string]string{
		"wasmroute.json": fmt.Sprintf(`{"cors": {"origins": [%q], "methods": ["GET", "PUT"], "headers": ["x-custom", "content-type"],
			"exposeHeaders": ["x-total"], "credentials": true, "maxAge": "10m"}}`, allowed.URL),
	}
	for _, name := range []string{"app/items/route.ts", "app/fail/route.ts", "app/open/route.ts", "app/open/route.json", "app/health/route.ts"} {
		files[name] = corsProject[name]
	}
	api, logs := jsServe(t, jsProject(t, files), Config{})
	// Each route's first request starts an engine; the page's should not
	// wait for it.
	for _, path := range []string{"/items", "/fail", "/open", "/health"} {
		jsDo(t, noRedirect, "GET", api.URL+path, nil, nil)
	}

	want := map[string]map[string]string{
		allowed.URL: {
			"credentialed":            "200 items x-total=3 x-hidden=null",
			"preflighted":             `200 put {"a":1} cookie=sid=s3cret`,
			"methodNotListed":         "blocked: TypeError",
			"headerNotListed":         "blocked: TypeError",
			"guestFailed":             "500 ",
			"everyOrigin":             "200 open",
			"everyOriginCredentialed": "blocked: TypeError",
		},
		other.URL: {
			"credentialed":            "blocked: TypeError",
			"preflighted":             "blocked: TypeError",
			"methodNotListed":         "blocked: TypeError",
			"headerNotListed":         "blocked: TypeError",
			"guestFailed":             "blocked: TypeError",
			"everyOrigin":             "200 open",
			"everyOriginCredentialed": "blocked: TypeError",
		},
	}
	for _, origin := range []string{allowed.URL, other.URL} {
		got := browse(t, chromium, origin+"/?api="+url.QueryEscape(api.URL), results)
		if diff := cmp.Diff(want[origin], got); diff != "" {
			t.Errorf("page from %s (-want +got):\n%s", origin, diff)
		}
	}
	// The preflights the browser was refused kept their requests from the
	// guest: one PUT ran, the allowed page's.
	if n := strings.Count(logs.String(), "PUT ran"); n != 1 {
		t.Errorf("the guest's PUT ran %d times, want 1; logs:\n%s", n, logs)
	}
	if a := jsDo(t, noRedirect, "GET", api.URL+"/health", nil, nil); a.Status != 200 || a.Body != "ok" {
		t.Errorf("GET /health = %d %q, want 200 ok", a.Status, a.Body)
	}
}

// browse has a headless Chromium, with a profile of its own, load pageURL
// and returns what the page posts to results. Chromium runs in a process
// group of its own, ended by its id when the page has answered.
func browse(t *testing.T, chromium, pageURL string, results <-chan map[string]string) map[string]string {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+t.TempDir(),
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--disable-sync", "--disable-component-update", "--remote-debugging-port=0", pageURL)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: the browser and its helpers
		<-exited
	}()
	select {
	case got := <-results:
		return got
	case err := <-exited:
		exited <- err // for the deferred wait
		t.Fatalf("chromium exited before the page answered: %v\n%s", err, out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("the page at %s did not answer in 2 minutes; chromium said:\n%s", pageURL, out)
	}
	return nil
}
