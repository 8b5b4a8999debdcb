package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestProgressPlain checks progress where the output is not a terminal:
// plain lines, the first and last items and at most one a second between,
// then a summary; no carriage returns.
func TestProgressPlain(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "building")
	clock := p.started
	p.now = func() time.Time { return clock }
	step := func(d time.Duration, done int, file string) {
		clock = clock.Add(d)
		p.update(done, 6, file)
	}
	step(0, 0, "")
	step(100*time.Millisecond, 1, "app/a/route.go")
	step(100*time.Millisecond, 2, "app/b/route.go") // 0.1s after the last line: quiet
	step(time.Second, 3, "app/c/route.go")
	step(200*time.Millisecond, 4, "app/d/route.go")
	step(500*time.Millisecond, 5, "app/e/route.go")
	step(100*time.Millisecond, 6, "app/f/route.go")
	p.end()
	want := []string{
		"building 0/6",
		"building 1/6 app/a/route.go",
		"building 3/6 app/c/route.go",
		"building 6/6 app/f/route.go",
		"building: 6 done in 2s",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestBuildProgressNotTTY runs wasmroute build with its output in a
// buffer: each step still prints a plain line.
func TestBuildProgressNotTTY(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"app/[x]/route.go":     "//go:build wasip1\n\npackage main\n\n//go:wasmexport GET\nfunc get() {}\n\nfunc main() {}\n",
		"app/script/route.ts":  "export function GET(): Response { return new Response('ts') }\n",
		"app/script2/route.js": "export function GET() { return new Response('js') }\n",
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"build", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("wasmroute build: exit %d\n%s", code, stderr.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(line, "\r") || strings.Contains(line, "\033") {
			t.Errorf("terminal control in %q", line)
		}
		if strings.Contains(line, " done in ") {
			line = line[:strings.Index(line, " in ")]
		}
		got = append(got, line)
	}
	want := []string{
		"building 0/1",
		"building 1/1 app/[x]/route.go",
		"building: 1 done",
		"bundling 1/2 app/script/route.ts",
		"bundling 2/2 app/script2/route.js",
		"bundling: 2 done",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stderr lines (-want +got):\n%s\nstderr:\n%s", diff, stderr.String())
	}
}

// TestServeCompileProgress checks that serve's background compilation
// logs its progress.
func TestServeCompileProgress(t *testing.T) {
	s := start(t, demo) // the run's cache: the modules are compiled all the same
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(s.stderr.String(), "compiled every module") {
		if time.Now().After(deadline) {
			t.Fatalf("no \"compiled every module\" after 2 minutes:\n%s", s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"msg=compiling done=1 total=13 file=app/", "msg=compiling done=13 total=13 file=app/"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("serve's log lacks %q:\n%s", want, s.stderr)
		}
	}
}
