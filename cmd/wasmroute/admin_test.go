package main

import (
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// probe is one answer of an admin endpoint.
type probe struct {
	Status int
	Body   string
}

func getProbe(t *testing.T, url string) probe {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return probe{res.StatusCode, string(b)}
}

// adminURL is the admin listener's address serve printed.
func adminURL(t *testing.T, s *server) string {
	t.Helper()
	m := regexp.MustCompile(`admin on (http://\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("serve did not print its admin address:\n%s", s.stdout)
	}
	return m[1]
}

// TestServeProbes: /healthz answers at once, /readyz once the modules are
// compiled, and on SIGTERM /readyz turns 503 while the public listener still
// serves for --shutdown-delay, then the server drains and exits 0. The
// admin endpoints are not on the public address.
func TestServeProbes(t *testing.T) {
	s := start(t, "--no-build", "--admin-addr", "127.0.0.1:0", "--shutdown-delay", "1500ms", demo)
	admin := adminURL(t, s)
	if diff := cmp.Diff(probe{200, "ok\n"}, getProbe(t, admin+"/healthz")); diff != "" {
		t.Errorf("/healthz (-want +got):\n%s", diff)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if got := getProbe(t, s.url+path); got.Status != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404: the probes are on the admin listener only", path, got.Status)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got := getProbe(t, admin+"/readyz")
		if got == (probe{200, "ready\n"}) {
			break
		}
		if got.Status != http.StatusServiceUnavailable || !strings.HasPrefix(got.Body, "not ready: ") {
			t.Fatalf("/readyz before ready = %+v, want 503 not ready: …", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %+v after 2 minutes\n%s", got, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.stderr.String(), "compiled every module") {
		t.Errorf("ready before the modules were compiled:\n%s", s.stderr)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if diff := cmp.Diff(probe{503, "not ready: draining: shutting down\n"}, getProbe(t, admin+"/readyz")); diff != "" {
		t.Errorf("/readyz after SIGTERM (-want +got):\n%s", diff)
	}
	if got := getProbe(t, s.url+"/api/hello"); got.Status != 200 {
		t.Errorf("public route during the shutdown delay = %+v, want 200", got)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want 0\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
}

func TestServeAdminAddrErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "127.0.0.1:3999", "--admin-addr", "127.0.0.1:3999"}, "--admin-addr must differ from --addr"},
		{[]string{"--admin-addr", "127.0.0.1:99999"}, "--admin-addr: listen tcp: address 99999: invalid port"},
	} {
		out, err := exec.Command(binary, append(append([]string{"serve", "--no-build"}, tc.args...), demo)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("serve %v = %v\n%s\nwant an error containing %q", tc.args, err, out, tc.want)
		}
	}
}

// TestServeSecondSignal: a second SIGTERM during a long shutdown delay ends
// the process at once, rather than after the delay and the drain.
func TestServeSecondSignal(t *testing.T) {
	s := start(t, "--no-build", "--admin-addr", "127.0.0.1:0", "--shutdown-delay", "1m", demo)
	admin := adminURL(t, s)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); getProbe(t, admin+"/readyz").Body != "not ready: draining: shutting down\n"; {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never turned 503 after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }()
	select {
	case err := <-waited:
		if err == nil {
			t.Errorf("serve exited 0 after a second SIGTERM; want the signal's death")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve still runs 5 s after a second SIGTERM, in its 1 m shutdown delay")
	}
}
