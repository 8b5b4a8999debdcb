package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/internal/testredis"
)

// servicesOnce builds testdata/services (guests that fetch and use the
// key-value store) once per test binary.
var (
	servicesOnce sync.Once
	servicesErr  error
)

// servicesProject returns a new project folder holding testdata/services'
// modules.
func servicesProject(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "services")
	servicesOnce.Do(func() {
		if out, err := exec.Command(binary, "build", src).CombinedOutput(); err != nil {
			servicesErr = fmt.Errorf("wasmroute build %s: %v\n%s", src, err, out)
		}
	})
	if servicesErr != nil {
		t.Fatal(servicesErr)
	}
	dir := t.TempDir()
	for _, route := range []string{"kv", "env", "proxy", "parallel"} {
		b, err := os.ReadFile(filepath.Join(src, "app", route, "route.wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "app", route), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "app", route, "route.wasm"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// incr increments key through the kv route and returns the new value, or
// an error for anything but a 200.
func incr(client *http.Client, url, key string) (int64, error) {
	resp, err := client.Get(url + "/kv?op=incr&key=" + key)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	var v struct{ Value int64 }
	err = json.Unmarshal(b, &v)
	return v.Value, err
}

// kvValue returns the body of GET /kv?op=get&key=KEY, or of target if
// given.
func kvValue(t *testing.T, url, key string, target ...string) string {
	t.Helper()
	path := "/kv?op=get&key=" + key
	if len(target) > 0 {
		path = target[0]
	}
	resp, err := http.Get(url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestServeKVSurvivesKill9 checks that a write acknowledged to a guest
// survives kill -9 of the server: increments run from 8 connections, the
// server is killed in their midst, and once it is back the counter holds
// at least the highest value any request was answered.
func TestServeKVSurvivesKill9(t *testing.T) {
	dir, data := servicesProject(t), t.TempDir()
	s := start(t, "--data-dir", data, dir)
	var (
		acked atomic.Int64 // the highest value answered
		sent  atomic.Int64
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for range 8 {
		wg.Go(func() {
			for {
				sent.Add(1)
				v, err := incr(client, s.url, "hits")
				if err != nil {
					return // the server is gone
				}
				for m := acked.Load(); v > m && !acked.CompareAndSwap(m, v); m = acked.Load() {
				}
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); acked.Load() < 200 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.cmd.Process.Kill(); err != nil { // SIGKILL, by PID
		t.Fatal(err)
	}
	s.cmd.Wait()
	wg.Wait()
	if acked.Load() < 200 {
		t.Fatalf("only %d increments answered in 10s:\n%s", acked.Load(), s.stderr)
	}

	s = start(t, "--data-dir", data, dir)
	var got struct{ Value string }
	json.Unmarshal([]byte(kvValue(t, s.url, "hits")), &got)
	var n int64
	fmt.Sscan(got.Value, &n)
	if n < acked.Load() || n > sent.Load() {
		t.Errorf("after kill -9: hits = %d; want at least %d (the highest answered) and at most %d (sent)", n, acked.Load(), sent.Load())
	}
	t.Logf("%d answered, %d sent, %d after restart", acked.Load(), sent.Load(), n)
}

// TestServeReplicasShareRedis runs two servers on one redis-server, as
// replicas behind a load balancer would: what one writes the other reads,
// and increments through both add up exactly.
func TestServeReplicasShareRedis(t *testing.T) {
	redis := testredis.Start(t)
	dir := servicesProject(t)
	a := start(t, "--kv", redis, dir)
	b := start(t, "--kv", redis, dir)
	if _, err := http.Get(a.url + "/kv?op=set&key=greeting&value=hi"); err != nil {
		t.Fatal(err)
	}
	if got := kvValue(t, b.url, "greeting"); got != `{"value":"hi"}` {
		t.Errorf("replica b reads %s", got)
	}
	const n = 200
	var (
		wg     sync.WaitGroup
		failed atomic.Int32
		sem    = make(chan struct{}, 16)
	)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			url := a.url
			if i%2 == 1 {
				url = b.url
			}
			if _, err := incr(http.DefaultClient, url, "count"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := kvValue(t, a.url, "count"); failed.Load() != 0 || got != fmt.Sprintf(`{"value":"%d"}`, n) {
		t.Errorf("%d increments through two replicas: %s, %d failed", n, got, failed.Load())
	}
}

// TestServeSecrets checks that a secret mapped from the server's
// environment reaches its guest, and neither the log nor wasmroute routes.
func TestServeSecrets(t *testing.T) {
	const secret = "sk-live-e2e-0123456789"
	dir := servicesProject(t)
	if err := os.WriteFile(filepath.Join(dir, "wasmroute.json"), []byte(`{"env": {"API_KEY": {"fromEnv": "ACME_API_KEY"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_API_KEY", secret)
	s := start(t, dir)
	if got := kvValue(t, s.url, "x", "/env?name=API_KEY"); got != secret {
		t.Errorf("guest reads API_KEY = %q", got)
	}
	kvValue(t, s.url, "x", "/env?print=API_KEY")
	out, err := exec.Command(binary, "routes", "--cache-dir", cacheDir, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("wasmroute routes: %v\n%s", err, out)
	}
	for name, text := range map[string]string{"serve's stdout": s.stdout.String(), "serve's log": s.stderr.String(), "routes": string(out)} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the secret:\n%s", name, text)
		}
	}
	if !strings.Contains(s.stderr.String(), "[redacted]") {
		t.Errorf("the guest's print of the secret is not in the log, redacted:\n%s", s.stderr)
	}
}
