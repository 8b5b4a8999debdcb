package runtime

// Attacks on connections rather than on the sandbox: a time limit that
// passes as the guest returns, and clients that reset their HTTP/2 streams.
// The timer that stops a guest must never touch a connection once its
// handler has returned, and an aborted handler must never look like a
// success to its client.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connEnv serves two tenants behind a real HTTP server speaking HTTP/1.1
// and h2c: "racy" with healthy and doze routes whose time limits are about
// the 100 ms doze sleeps (so its return races its timer), and "other" with
// healthy.
type connEnv struct {
	srv   *httptest.Server
	dozes []string // the doze routes' paths
}

func newConnEnv(t *testing.T) *connEnv {
	t.Helper()
	dir := t.TempDir()
	hello := filepath.Join("..", "testdata", "wat", "hello.wasm")
	doze := filepath.Join("..", "testdata", "hostile", "wat", "doze.wasm")
	racy := filepath.Join(dir, "racy")
	e := &connEnv{}
	hostileAddRoute(t, racy, "healthy", hello, "")
	for ms := 96; ms <= 104; ms += 2 {
		route := fmt.Sprintf("doze%d", ms)
		hostileAddRoute(t, racy, route, doze, fmt.Sprintf(`{"maxDuration": "%dms"}`, ms))
		e.dozes = append(e.dozes, "/"+route)
	}
	hostileAddRoute(t, filepath.Join(dir, "other"), "healthy", hello, "")
	e.srv = serveTenantsDir(t, dir, Config{Limits: Limits{MaxInstances: 64}, MaxTenantInstances: 256})
	return e
}

// serveTenantsDir loads the tenants in dir with project as their template
// and serves them behind a real HTTP server speaking HTTP/1.1 and h2c,
// closed when the test ends.
func serveTenantsDir(t *testing.T, dir string, project Config) *httptest.Server {
	t.Helper()
	project.Logger = slog.New(slog.DiscardHandler)
	ts, err := NewTenants(context.Background(), TenantsConfig{Dir: dir, Domain: hostileDomain, Project: project})
	if err != nil {
		t.Fatal(err)
	}
	if errs := ts.Errors(); len(errs) > 0 {
		ts.Close(context.Background())
		t.Fatal(errs)
	}
	srv := httptest.NewUnstartedServer(ts)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		ts.Close(context.Background())
	})
	return srv
}

// repeat runs f in n goroutines, again and again until stop is closed.
func repeat(wg *sync.WaitGroup, n int, stop <-chan struct{}, f func()) {
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					f()
				}
			}
		})
	}
}

// get sends GET target to tenant with client and returns the status and
// body, or the error.
func (e *connEnv) get(ctx context.Context, client *http.Client, tenant, target string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+target, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = tenant + "." + hostileDomain
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// TestHostileLateTimer alternates, on kept-alive HTTP/1.1 connections,
// requests whose guest returns as its time limit passes with healthy
// requests. On main before the fix, the limit's timer set a read deadline
// on the connection after the first handler returned: the next request's
// context was cancelled, its guest abandoned, and its client got 200 with
// an empty body. Every doze must get either its whole answer or 504, and
// every healthy request its "hello".
func TestHostileLateTimer(t *testing.T) {
	e := newConnEnv(t)
	const conns, rounds = 8, 25
	var (
		wg                 sync.WaitGroup
		done, stopped, bad atomic.Int64
	)
	for c := range conns {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
		defer client.CloseIdleConnections()
		wg.Go(func() {
			for i := range rounds {
				target := e.dozes[(c+i)%len(e.dozes)]
				status, body, err := e.get(context.Background(), client, "racy", target)
				switch {
				case err == nil && status == 200 && body == "done":
					done.Add(1)
				case err == nil && status == 504 && body == "":
					stopped.Add(1)
				default:
					bad.Add(1)
					t.Errorf("GET %s: %d %q, err %v; want 200 \"done\" or 504", target, status, body, err)
				}
				for _, tenant := range []string{"racy", "other"} {
					if status, body, err := e.get(context.Background(), client, tenant, "/healthy"); err != nil || status != 200 || body != "hello" {
						bad.Add(1)
						t.Errorf("GET %s/healthy after %s on the same connection: %d %q, err %v; want 200 \"hello\"", tenant, target, status, body, err)
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d dozes answered, %d stopped at their limit, %d wrong answers", done.Load(), stopped.Load(), bad.Load())
	if done.Load() == 0 || stopped.Load() == 0 {
		t.Errorf("the limits did not race the guest (%d answered, %d stopped): the test shows nothing", done.Load(), stopped.Load())
	}
}

// TestHostileH2Resets sends h2c requests that the client resets
// (RST_STREAM) at random moments around their time limit, beside healthy
// requests on the same connections. On main before the fix, a timer called
// SetReadDeadline on a stream's writer after its handler returned: a
// nil-pointer panic that took the process down within a fraction of a
// second.
func TestHostileH2Resets(t *testing.T) {
	e := newConnEnv(t)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	defer client.CloseIdleConnections()
	var (
		wg                sync.WaitGroup
		resets, completed atomic.Int64
	)
	deadline := time.Now().Add(3 * time.Second)
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for time.Now().Before(deadline) {
				target := e.dozes[rng.IntN(len(e.dozes))]
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(80+rng.IntN(40))*time.Millisecond)
				_, _, err := e.get(ctx, client, "racy", target)
				cancel()
				if err != nil {
					resets.Add(1)
				} else {
					completed.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for time.Now().Before(deadline) {
			for _, tenant := range []string{"racy", "other"} {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				start := time.Now()
				status, body, err := e.get(ctx, client, tenant, "/healthy")
				cancel()
				if err != nil || status != 200 || body != "hello" || time.Since(start) > time.Second {
					t.Errorf("GET %s/healthy over h2c among resets: %d %q in %v, err %v; want 200 \"hello\" within 1s", tenant, status, body, time.Since(start), err)
				}
			}
		}
	})
	wg.Wait()
	t.Logf("%d requests reset by their client, %d completed", resets.Load(), completed.Load())
	if resets.Load() == 0 {
		t.Error("no request was reset: the test shows nothing")
	}
}

// TestHostileQueueFairness floods two routes of a tenant — one with
// requests whose guest takes 100 ms, one with bodies trickled a byte at a
// time — far past their instances, and checks that the tenant's healthy
// route still answers at once. The bound: a request waits for its tenant
// only while the tenant's instances are all serving requests; requests
// queued for a busy route hold none of the tenant's. Here the flooded
// routes' instances (2 + 2) stay below the tenant's 6. On main before the
// fix, queued requests held tenant tokens: the healthy route waited up to
// maxWait (0.5 ms became 4 s) or got 503.
func TestHostileQueueFairness(t *testing.T) {
	dir := t.TempDir()
	hello := filepath.Join("..", "testdata", "wat", "hello.wasm")
	doze := filepath.Join("..", "testdata", "hostile", "wat", "doze.wasm")
	tenant := filepath.Join(dir, "busy")
	writeFile(t, filepath.Join(tenant, "wasmroute.json"), `{"maxTenantInstances": 6, "maxWait": "3s"}`)
	hostileAddRoute(t, tenant, "healthy", hello, "")
	hostileAddRoute(t, tenant, "slow", doze, `{"maxInstances": 2}`)
	hostileAddRoute(t, tenant, "upload", hello, `{"maxInstances": 2, "maxDuration": "2s"}`)
	hostileAddRoute(t, filepath.Join(dir, "other"), "healthy", hello, "")
	e := &connEnv{srv: serveTenantsDir(t, dir, Config{})}
	flood := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}
	defer flood.CloseIdleConnections()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	repeat(&wg, 24, stop, func() { e.get(context.Background(), flood, "busy", "/slow") })
	repeat(&wg, 8, stop, func() {
		req, _ := http.NewRequest("POST", e.srv.URL+"/upload", &trickle{n: 100, every: 20 * time.Millisecond, stop: stop})
		req.Host = "busy." + hostileDomain
		if res, err := flood.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
	time.Sleep(300 * time.Millisecond) // let the queues form
	healthy := &http.Client{Timeout: 10 * time.Second}
	var worst time.Duration
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		for _, tenant := range []string{"busy", "other"} {
			start := time.Now()
			status, body, err := e.get(context.Background(), healthy, tenant, "/healthy")
			took := time.Since(start)
			worst = max(worst, took)
			if err != nil || status != 200 || body != "hello" || took > 500*time.Millisecond {
				t.Errorf("GET %s/healthy during the floods: %d %q in %v, err %v; want 200 \"hello\" within 500ms", tenant, status, body, took, err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("healthy routes beside the floods: worst %v", worst)
}

// trickle is a request body of n bytes, one every every, ending early when
// stop is closed.
type trickle struct {
	n     int
	every time.Duration
	stop  chan struct{}
}

func (r *trickle) Read(p []byte) (int, error) {
	if r.n == 0 || len(p) == 0 {
		return 0, io.EOF
	}
	select {
	case <-r.stop:
		return 0, io.EOF
	case <-time.After(r.every):
	}
	r.n--
	p[0] = 'x'
	return 1, nil
}
