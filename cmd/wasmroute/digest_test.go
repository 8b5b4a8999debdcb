package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wasmroute/wasmroute/internal/digest"
)

// TestBuildAndServeDigest: wasmroute build prints the project's digest
// alone on stdout, serve logs the same one at start, and a changed route
// gives another.
func TestBuildAndServeDigest(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, "hello", dir, "api/hello")
	build := func() string {
		t.Helper()
		cmd := exec.Command(binary, "build", dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("wasmroute build: %v\n%s", err, stderr.String())
		}
		return string(out)
	}
	want, err := digest.Project(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want+"\n", build()); diff != "" {
		t.Errorf("wasmroute build's stdout (-want +got):\n%s", diff)
	}

	s := start(t, "--no-build", dir)
	if !waitFor(func() bool { return strings.Contains(s.stderr.String(), "msg=project dir="+dir+" digest="+want) }) {
		t.Errorf("serve's log lacks the digest %s:\n%s", want, s.stderr)
	}

	copyFixture(t, "counter", dir, "api/hello")
	if got := build(); got == want+"\n" {
		t.Errorf("another route.wasm, the same digest %s", want)
	}
}

// waitFor polls ok for up to 10 s.
func waitFor(ok func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return ok()
}
