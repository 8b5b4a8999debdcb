package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/scrape"
	"github.com/wasmroute/wasmroute/runtime"
)

// workerTenants are the tenants of the --workers tests: over 3 workers,
// each worker gets some.
var workerTenants = []string{"acme", "globex", "hooli", "initech", "umbrella", "wayne"}

// workersProject writes one folder per tenant, each with /hello (hello.wat)
// and /client (client.wat).
func workersProject(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		copyFixture(t, "hello", filepath.Join(dir, name), "hello")
		copyFixture(t, "client", filepath.Join(dir, name), "client")
	}
	return dir
}

// workerTable reads the tenant → worker table and the workers' pids that
// the supervisor printed.
func workerTable(t *testing.T, s *server) (assign map[string]int, pids map[int]int) {
	t.Helper()
	assign, pids = map[string]int{}, map[int]int{}
	for _, m := range regexp.MustCompile(`(?m)^(\S+)\s+http://\S+\s+(\d+)$`).FindAllStringSubmatch(s.stdout.String(), -1) {
		assign[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, m := range regexp.MustCompile(`(?m)^worker (\d+): pid (\d+)$`).FindAllStringSubmatch(s.stdout.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		pids[n], _ = strconv.Atoi(m[2])
	}
	return assign, pids
}

// getHost sends GET path with the Host header host, and returns the status
// and body.
func getHost(client *http.Client, url, host, path string) (int, string, error) {
	req, err := http.NewRequest("GET", url+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// alive reports whether process pid exists and is no zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: whether it can be signalled
	}
	// pid (comm) state ...: comm may hold spaces, not ')'.
	_, after, _ := bytes.Cut(b, []byte(") "))
	return len(after) > 0 && after[0] != 'Z'
}

// TestServeWorkers serves tenants from 3 workers: each tenant answers from
// the worker the table shows, with the real client's address; a worker
// killed with SIGKILL is restarted and its tenants answer again while a
// load on the other workers' tenants sees no failure; SIGHUP reaches the
// workers; SIGTERM drains and stops them all.
func TestServeWorkers(t *testing.T) {
	dir := workersProject(t, workerTenants...)
	s := start(t, "--tenants", "--workers", "3", "--domain", "example.test", "--admin-addr", "127.0.0.1:0", dir)
	assign, pids := workerTable(t, s)
	want := map[string]int{}
	for _, name := range workerTenants {
		want[name] = workerOf(name, 3)
	}
	if diff := cmp.Diff(want, assign); diff != "" {
		t.Fatalf("printed assignment (-want +got):\n%s\nstdout:\n%s", diff, s.stdout)
	}
	byWorker := map[int][]string{}
	for _, name := range workerTenants {
		byWorker[assign[name]] = append(byWorker[assign[name]], name)
	}
	if len(byWorker) != 3 || len(pids) != 3 {
		t.Fatalf("want tenants on each of 3 workers and 3 pids, got %v and %v", byWorker, pids)
	}

	t.Run("every tenant answers, an unknown one 404s", func(t *testing.T) {
		for _, name := range workerTenants {
			status, body, err := getHost(http.DefaultClient, s.url, name+".example.test", "/hello")
			if err != nil || status != 200 || body != "hello" {
				t.Errorf("%s /hello = %d %q, %v; want 200 hello", name, status, body, err)
			}
		}
		status, body, err := getHost(http.DefaultClient, s.url, "nobody.example.test", "/hello")
		if err != nil || status != 404 || body != "404 page not found\n" {
			t.Errorf("unknown tenant = %d %q, %v; want 404 as in one process", status, body, err)
		}
	})

	t.Run("the admin listener's metrics hold the workers' and the assignment", func(t *testing.T) {
		got, err := scrape.Get(adminURL(t, s)+"/metrics", "wasmroute_")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range workerTenants {
			n := assign[name]
			if v := got[fmt.Sprintf(`wasmroute_tenant_worker{tenant=%q,worker="%d"}`, name, n)]; v != 1 {
				t.Errorf("wasmroute_tenant_worker of %s on worker %d = %v, want 1", name, n, v)
			}
			if v := got[fmt.Sprintf(`wasmroute_requests_total{code="2xx",method="GET",route="/hello",tenant=%q,worker="%d"}`, name, n)]; v < 1 {
				t.Errorf("requests of %s counted by worker %d = %v, want at least 1", name, n, v)
			}
		}
		for n := 1; n <= 3; n++ {
			if v, ok := got[fmt.Sprintf(`wasmroute_worker_up{worker="%d"}`, n)]; !ok || v != 1 {
				t.Errorf("wasmroute_worker_up of worker %d = %v (%v), want 1", n, v, ok)
			}
		}
		if t.Failed() {
			t.Logf("scraped:\n%v", got)
		}
	})

	t.Run("the guest sees the real client, which cannot forge it", func(t *testing.T) {
		for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
			var local atomic.Value
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err == nil {
					local.Store(c.LocalAddr().String())
				}
				return c, err
			}}
			if proto == "HTTP/2.0" {
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetUnencryptedHTTP2(true)
			}
			req, _ := http.NewRequest("GET", s.url+"/client", nil)
			req.Host = "hooli.example.test"
			req.Header.Set(clientHeader, "203.0.113.66:666 HTTP/0.9")
			req.Header.Set("X-Forwarded-For", "198.51.100.7")
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			tr.CloseIdleConnections()
			head, list, _ := bytes.Cut(b, []byte("\n"))
			if got, want := string(head), fmt.Sprintf("%s %s", local.Load(), proto); got != want {
				t.Errorf("%s: the guest saw client %q, want %q", proto, got, want)
			}
			var names []string
			for item, rest, ok := abi.NextItem(list); ok; item, rest, ok = abi.NextItem(rest) {
				names = append(names, string(item))
			}
			if slices.Contains(names, strings.ToLower(clientHeader)) || !slices.Contains(names, "x-forwarded-for") {
				t.Errorf("%s: the guest saw the headers %q: want X-Forwarded-For as the client sent it and no %s", proto, names, clientHeader)
			}
		}
		// X-Forwarded-For reaches the guest as the client sent it, as in
		// one process: the supervisor adds nothing to it.
		req, _ := http.NewRequest("POST", s.url+"/client", nil)
		req.Host = "hooli.example.test"
		req.Header.Add("X-Forwarded-For", "198.51.100.7")
		req.Header.Add("X-Forwarded-For", "192.0.2.1, 192.0.2.2")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var got []string
		for item, rest, ok := abi.NextItem(b); ok; item, rest, ok = abi.NextItem(rest) {
			got = append(got, string(item))
		}
		if diff := cmp.Diff([]string{"198.51.100.7", "192.0.2.1, 192.0.2.2"}, got); diff != "" {
			t.Errorf("X-Forwarded-For seen by the guest (-want +got):\n%s", diff)
		}
	})

	t.Run("ready once every worker is", func(t *testing.T) {
		admin := adminURL(t, s)
		deadline := time.Now().Add(10 * time.Second)
		for getProbe(t, admin+"/readyz").Status != 200 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if diff := cmp.Diff(probe{200, "ready\n"}, getProbe(t, admin+"/readyz")); diff != "" {
			t.Errorf("/readyz (-want +got):\n%s", diff)
		}
	})

	t.Run("a killed worker is restarted; the others fail no request", func(t *testing.T) {
		victim := assign["acme"]
		var others []string
		for _, name := range workerTenants {
			if assign[name] != victim {
				others = append(others, name)
			}
		}
		var (
			stop             atomic.Bool
			wg               sync.WaitGroup
			served, failures atomic.Int64
			mu               sync.Mutex
			firstFailure     error
		)
		for i := range 4 {
			wg.Go(func() {
				client := &http.Client{Transport: &http.Transport{}}
				for j := i; !stop.Load(); j++ {
					name := others[j%len(others)]
					status, body, err := getHost(client, s.url, name+".example.test", "/hello")
					if err == nil && (status != 200 || body != "hello") {
						err = fmt.Errorf("%d %q", status, body)
					}
					if err != nil {
						failures.Add(1)
						mu.Lock()
						if firstFailure == nil {
							firstFailure = fmt.Errorf("%s: %w", name, err)
						}
						mu.Unlock()
					}
					served.Add(1)
				}
			})
		}
		time.Sleep(200 * time.Millisecond)
		before := served.Load()
		killed := time.Now()
		if err := syscall.Kill(pids[victim], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The victim's tenants answer again: the first request after the
		// kill may fail (it was in flight), later ones wait for the restart.
		var back time.Duration
		for back == 0 && time.Since(killed) < 10*time.Second {
			if status, body, err := getHost(http.DefaultClient, s.url, "acme.example.test", "/hello"); err == nil && status == 200 && body == "hello" {
				back = time.Since(killed)
			}
		}
		time.Sleep(300 * time.Millisecond) // the load goes on past the restart
		stop.Store(true)
		wg.Wait()
		t.Logf("the killed worker's tenant answered again %v after SIGKILL; %d requests to the other workers' tenants meanwhile, %d failed", back.Round(time.Millisecond), served.Load()-before, failures.Load())
		if back == 0 || back > time.Second {
			t.Errorf("acme answered again %v after its worker was killed, want within 1 s", back)
		}
		if failures.Load() > 0 || served.Load() == before {
			t.Errorf("the other workers' tenants: %d requests during the kill, %d failed (first: %v); want some and none failed", served.Load()-before, failures.Load(), firstFailure)
		}
		for _, name := range byWorker[victim] {
			if status, body, err := getHost(http.DefaultClient, s.url, name+".example.test", "/hello"); err != nil || status != 200 || body != "hello" {
				t.Errorf("%s on the restarted worker: %d %q, %v", name, status, body, err)
			}
		}
		for _, want := range []string{
			fmt.Sprintf(`msg="worker exited; restarting it" worker=%d pid=%d status="signal: killed"`, victim, pids[victim]),
			fmt.Sprintf(`msg="worker restarted" worker=%d`, victim),
		} {
			if !strings.Contains(s.stderr.String(), want) {
				t.Errorf("the supervisor did not log %q:\n%s", want, s.stderr)
			}
		}
		if alive(pids[victim]) {
			t.Errorf("the killed worker %d is still there", pids[victim])
		}
		// What the metrics will show: the victim restarted once, and up.
		var restarts []int
		for _, m := range regexp.MustCompile(`msg="worker restarted" worker=(\d+)`).FindAllStringSubmatch(s.stderr.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			restarts = append(restarts, n)
		}
		if diff := cmp.Diff([]int{victim}, restarts); diff != "" {
			t.Errorf("workers restarted (-want +got):\n%s", diff)
		}
	})

	t.Run("SIGHUP reloads the tenants in every worker", func(t *testing.T) {
		copyFixture(t, "hello", filepath.Join(dir, "newco"), "hello")
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, body, err := getHost(http.DefaultClient, s.url, "newco.example.test", "/hello")
			if err == nil && status == 200 && body == "hello" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("newco after SIGHUP: %d %q, %v; want 200 hello", status, body, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("SIGTERM drains and stops every worker", func(t *testing.T) {
		// The pids printed at start, and those of restarted workers.
		for _, m := range regexp.MustCompile(`msg="worker restarted" worker=(\d+) pid=(\d+)`).FindAllStringSubmatch(s.stderr.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			pids[n], _ = strconv.Atoi(m[2])
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		if err := s.cmd.Wait(); err != nil {
			t.Fatalf("serve exited with %v, want 0:\n%s", err, s.stderr)
		}
		for n, pid := range pids {
			if alive(pid) {
				t.Errorf("worker %d (pid %d) outlived the supervisor", n, pid)
			}
		}
	})
}

// TestServeWorkersDieWithSupervisor: a supervisor killed with SIGKILL
// takes its workers with it, and the same tenants are on the same workers
// when it starts again.
func TestServeWorkersDieWithSupervisor(t *testing.T) {
	dir := workersProject(t, workerTenants...)
	s := start(t, "--tenants", "--workers", "2", dir)
	assign, pids := workerTable(t, s)
	if len(pids) != 2 {
		t.Fatalf("want 2 workers, got %v:\n%s", pids, s.stdout)
	}
	stale := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", socketDirPrefix, s.cmd.Process.Pid))
	if dirs, _ := filepath.Glob(stale); len(dirs) != 1 {
		t.Fatalf("the supervisor's socket folders: %v, want one", dirs)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for n, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("worker %d (pid %d) outlived its supervisor's SIGKILL", n, pid)
		}
	}
	again, _ := workerTable(t, start(t, "--tenants", "--workers", "2", dir))
	if diff := cmp.Diff(assign, again); diff != "" {
		t.Errorf("assignment after a restart (-first +second):\n%s", diff)
	}
	// The killed supervisor could not remove its socket folder: the next
	// one did.
	if dirs, _ := filepath.Glob(stale); len(dirs) != 0 {
		t.Errorf("a killed supervisor's socket folder outlived the next start: %v", dirs)
	}
}

// TestWorkersFlags: --workers is for --tenants, within its bound, and a
// worker's environment is the supervisor's to set.
func TestWorkersFlags(t *testing.T) {
	dir := workersProject(t, "acme")
	tests := []struct {
		args []string
		env  string
		code int
		want string
	}{
		{[]string{"serve", "--workers", "2", dir}, "", 2, "--workers is for --tenants, from 1 to 64"},
		{[]string{"serve", "--tenants", "--workers", "-1", dir}, "", 2, "--workers is for --tenants"},
		{[]string{"serve", "--tenants", "--workers", "65", dir}, "", 2, "--workers is for --tenants"},
		{[]string{"serve", "--tenants", dir}, "0/2", 2, `WASMROUTE_WORKER="0/2", WASMROUTE_WORKER_SOCKET="": not set by a wasmroute supervisor`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " ")+" "+tt.env, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(workerEnv, tt.env)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run = %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}

// TestWorkerOf: the assignment spreads tenants, and going from n to n+1
// workers moves only tenants to the new worker.
func TestWorkerOf(t *testing.T) {
	const tenants = 3000
	for n := 1; n <= 8; n++ {
		count := make([]int, n+1)
		for i := range tenants {
			name := fmt.Sprintf("tenant-%d", i)
			w := workerOf(name, n)
			if w < 1 || w > n {
				t.Fatalf("workerOf(%q, %d) = %d", name, n, w)
			}
			count[w]++
			if next := workerOf(name, n+1); next != w && next != n+1 {
				t.Errorf("%s moved from worker %d to %d when going from %d to %d workers", name, w, next, n, n+1)
			}
		}
		for w := 1; w <= n; w++ {
			if share := float64(count[w]) * float64(n) / tenants; share < 0.8 || share > 1.2 {
				t.Errorf("%d workers: worker %d serves %d of %d tenants, beyond ±20%% of a fair share", n, w, count[w], tenants)
			}
		}
	}
}

// TestServeWorkersBodies: through the supervisor, a guest's stream reaches
// the client as it flushes it, over HTTP/1.1 and h2c, and a request body
// reaches the guest whole.
func TestServeWorkersBodies(t *testing.T) {
	dir := workersProject(t, "acme")
	wasm, err := os.ReadFile(filepath.Join(demo, "app", "api", "stream", "route.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "demo", "app", "api", "stream", "route.wasm"), wasm)
	s := start(t, "--tenants", "--workers", "2", "--host", "127.0.0.1=demo", "--max-body", "1MiB", dir)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		t.Run("stream "+proto, func(t *testing.T) { testStream(t, s.url, proto) })
	}
	t.Run("request body", func(t *testing.T) {
		body := bytes.Repeat([]byte("0123456789abcdef"), 40000)
		req, _ := http.NewRequest("POST", s.url+"/hello", bytes.NewReader(body))
		req.Host = "acme.localhost"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 201 || !bytes.Equal(got, body) {
			t.Errorf("POST of %d bytes = %d, %d bytes back, %v; want 201 and the body echoed", len(body), res.StatusCode, len(got), err)
		}
	})
}

// TestServeWorkersRestartFails: while a worker cannot start again (its
// tenants' folder is gone), its tenants get 503 after waiting for it, the
// other worker's answer, and it serves again once it can.
func TestServeWorkersRestartFails(t *testing.T) {
	dir := workersProject(t, workerTenants...)
	s := start(t, "--tenants", "--workers", "2", dir)
	assign, pids := workerTable(t, s)
	victim := assign["acme"]
	other := ""
	for _, name := range workerTenants {
		if assign[name] != victim {
			other = name
		}
	}
	if other == "" {
		t.Fatalf("every tenant is on worker %d", victim)
	}
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pids[victim], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A request sent as the worker dies may be in flight on it (502): ask
	// once the supervisor knows.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.stderr.String(), fmt.Sprintf("pid=%d status=", pids[victim])); {
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor did not log the death of worker %d:\n%s", victim, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", s.url+"/hello", nil)
	req.Host = "acme.localhost"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got, want := fmt.Sprintf("%d %s %q", res.StatusCode, res.Header.Get("Retry-After"), b), `503 1 "tenant unavailable: its worker is restarting\n"`; got != want {
		t.Errorf("acme while its worker cannot start: %s, want %s", got, want)
	}
	if status, body, err := getHost(http.DefaultClient, s.url, other+".localhost", "/hello"); err != nil || status != 200 || body != "hello" {
		t.Errorf("%s on the other worker: %d %q, %v; want 200 hello", other, status, body, err)
	}
	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body, err := getHost(http.DefaultClient, s.url, "acme.localhost", "/hello")
		if err == nil && status == 200 && body == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme once its folder is back: %d %q, %v; want 200 hello\n%s", status, body, err, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := fmt.Sprintf(`msg="worker exited; restarting it" worker=%d`, victim); !strings.Contains(s.stderr.String(), want+` pid=`) || !strings.Contains(s.stderr.String(), `status="exit status 1"`) {
		t.Errorf("the supervisor did not log the failed restarts (%q, exit status 1):\n%s", want, s.stderr)
	}
}

// TestSupervisorInProcess runs the supervisor in the test's process (so
// that -race sees it) with workers of the built command: the states the
// metrics read follow a worker's death and restart, the probes say ready
// once every worker compiled, and a cancelled context drains and stops
// every worker.
func TestSupervisorInProcess(t *testing.T) {
	dir := workersProject(t, workerTenants...)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	probes := newAdmin()
	s, err := newSupervisor(supervisorConfig{
		exe: binary, args: []string{"--tenants", "--cache-dir", cacheDir, "--domain", "example.test", dir},
		addr: "127.0.0.1:0", workers: 2,
		tenants: runtime.TenantsConfig{Dir: dir, Domain: "example.test"},
		probes:  probes, logger: slog.New(slog.NewTextHandler(stderr, nil)), stdout: stdout, stderr: stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() { code <- s.serve(ctx) }()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; time.Sleep(10 * time.Millisecond) {
		if m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor did not listen:\n%s\n%s", stdout, stderr)
		}
	}
	// await waits until ok holds, or fails the test.
	await := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s; states %+v\n%s", what, s.States(), stderr)
			}
		}
	}
	await("every worker compiled", probes.compiled.Load)
	first := s.States()
	for i, st := range first {
		if st.N != i+1 || !st.Up || st.PID == 0 || st.Restarts != 0 {
			t.Errorf("state of worker %d at start: %+v", i+1, st)
		}
	}
	victim := s.Assignment()["acme"]
	if err := syscall.Kill(first[victim-1].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	await("the probes see the death", func() bool { return !probes.loaded.Load() })
	await("the victim restarted", func() bool { st := s.States()[victim-1]; return st.Up && st.Restarts == 1 })
	await("every worker compiled again", probes.compiled.Load)
	if st := s.States()[victim-1]; st.PID == first[victim-1].PID {
		t.Errorf("the restarted worker has the dead one's pid: %+v", st)
	}
	for _, name := range workerTenants {
		if status, body, err := getHost(http.DefaultClient, url, name+".example.test", "/hello"); err != nil || status != 200 || body != "hello" {
			t.Errorf("%s after the restart: %d %q, %v", name, status, body, err)
		}
	}
	cancel()
	if got := <-code; got != 0 {
		t.Errorf("serve = %d, want 0:\n%s", got, stderr)
	}
	for _, st := range s.States() {
		if alive(st.PID) {
			t.Errorf("worker %d (pid %d) outlived the supervisor", st.N, st.PID)
		}
	}
	if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the sockets' folder %s is left behind: %v", s.dir, err)
	}
}

// TestRoutesTenantsWorkers: routes --tenants --workers N lists each tenant's
// routes and the worker serve --workers N gives it (TestServeWorkers checks
// that serve's is workerOf's too).
func TestRoutesTenantsWorkers(t *testing.T) {
	dir := workersProject(t, workerTenants...)
	out, err := exec.Command(binary, "routes", "--tenants", "--workers", "3", "--domain", "example.test", "--cache-dir", cacheDir, dir).Output()
	if err != nil {
		t.Fatalf("routes --tenants --workers 3: %v\n%s", err, out)
	}
	got, want := map[string]int{}, map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^tenant (\S+) \(http://\S+\.example\.test\) on worker (\d+) of 3\n((?:.+\n)+)`).FindAllStringSubmatch(string(out), -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
		if !strings.Contains(m[3], "/hello ") || !strings.Contains(m[3], "/client ") {
			t.Errorf("tenant %s's table lacks its routes:\n%s", m[1], m[3])
		}
	}
	for _, name := range workerTenants {
		want[name] = workerOf(name, 3)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes' assignment (-want +got):\n%s\n%s", diff, out)
	}
	if out, err := exec.Command(binary, "routes", "--workers", "2", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "--workers is for --tenants") {
		t.Errorf("routes --workers without --tenants = %v\n%s", err, out)
	}
}

// TestServeWorkersSameRequest: a guest sees the same request with workers
// as in one process: the raw query (with what net/http's proxy drops,
// "x;y" and "100%"), Forwarded, and the headers a client names in
// Connection.
func TestServeWorkersSameRequest(t *testing.T) {
	dir := workersProject(t, "acme")
	wasm, err := os.ReadFile(filepath.Join(demo, "app", "api", "query", "route.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "acme", "app", "api", "query", "route.wasm"), wasm)
	one := start(t, "--tenants", dir)
	workers := start(t, "--tenants", "--workers", "2", dir)
	ask := func(base, method, path string, header http.Header) string {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Host = "acme.localhost"
		for name, v := range header {
			req.Header[name] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprintf("%d %q", res.StatusCode, b)
	}
	for _, tc := range []struct {
		method, path string
		header       http.Header
	}{
		{"GET", "/api/query?name=wasm&tag=x;y&tag=100%&tag=b", nil},
		{"POST", "/client", http.Header{"X-Forwarded-For": {"198.51.100.7"}}},
		{"GET", "/client", http.Header{"Forwarded": {"for=192.0.2.60"}, "Connection": {"keep-alive, Authorization, X-Custom"},
			"Authorization": {"Bearer t"}, "X-Custom": {"1"}}},
	} {
		want := ask(one.url, tc.method, tc.path, tc.header)
		got := ask(workers.url, tc.method, tc.path, tc.header)
		if tc.path == "/client" && tc.method == "GET" {
			// The first line is the client's address, which differs
			// between the two servers' connections; after it, the header
			// names, where Connection alone is the supervisor's (the
			// client's connection to it, hop by hop).
			_, want, _ = strings.Cut(want, `\n`)
			_, got, _ = strings.Cut(got, `\n`)
			want = strings.Replace(want, `\n\x00\x00\x00connection`, "", 1)
		}
		if want != got {
			t.Errorf("%s %s %v: one process answered %s, workers %s", tc.method, tc.path, tc.header, want, got)
		}
	}
}
