package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReplicasFailover runs the scenario of go run ./internal/replicas
// briefly: 3 replicas behind a real haproxy sharing a real redis-server,
// r1 killed with SIGKILL and r2 restarted with SIGTERM under load. No GET
// may fail, no acknowledged write may be lost, no request may fail but
// those in flight on the killed replica, and r2 must drain, exit 0 and
// serve again.
func TestReplicasFailover(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("WASMROUTE_REQUIRE_HAPROXY") == "" {
			t.Skip("haproxy is not installed (Debian: apt-get install haproxy); set WASMROUTE_REQUIRE_HAPROXY=1 to fail instead, as CI does")
		}
		t.Fatalf("WASMROUTE_REQUIRE_HAPROXY is set and %v", err)
	}
	cfg := defaultConfig
	cfg.Duration, cfg.Rate, cfg.Conns, cfg.Tail = 6*time.Second, 200, 8, time.Second
	cfg.Dir, cfg.Log = t.TempDir(), testLog{t}
	t.Cleanup(func() { // before the folder goes
		if t.Failed() {
			logTails(t, cfg.Dir)
		}
	})
	res, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	res.print(&report)
	t.Logf("\n%s", report.String())

	if diff := cmp.Diff([]string(nil), res.problems()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// The load ran, through every phase.
	if min := cfg.Rate * int(cfg.Duration/time.Second) / 4; len(res.records) < min {
		t.Errorf("%d requests in %v at %d req/s; want at least %d", len(res.records), cfg.Duration, cfg.Rate, min)
	}
	if _, ok := res.firstServed(); !ok {
		t.Error("the restarted r2 answered no request")
	}
	for _, rec := range res.records {
		if rec.Replica == "r1" && rec.Start > res.kill+res.killOut {
			t.Errorf("r1 answered a request sent %v after its SIGKILL", rec.Start-res.kill)
			break
		}
	}
	for _, name := range []string{"r1", "r3"} {
		served := false
		for _, rec := range res.records {
			served = served || rec.Replica == name
		}
		if !served {
			t.Errorf("%s answered no request", name)
		}
	}
}

// logTails logs the end of the replicas' and haproxy's logs.
func logTails(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("%s:\n%s", filepath.Base(name), b)
	}
}

// testLog writes the scenario's progress to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
