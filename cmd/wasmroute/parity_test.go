package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoutesAndBuildNoMethod checks that a module or a TypeScript route that
// exports no method is listed by routes (answering only OPTIONS), with a
// warning naming the file and the export, and that build reports the
// TypeScript one as a warning, not an error.
func TestRoutesAndBuildNoMethod(t *testing.T) {
	dir := t.TempDir()
	for file, src := range map[string]string{
		"app/lower/route.wasm": "../../testdata/wat/only_lowercase.wasm",
		"app/dav/route.wasm":   "../../testdata/wat/methods.wasm",
		"app/ok/route.wasm":    "../../testdata/wat/hello.wasm",
	} {
		bin, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, file), bin)
	}
	writeTestFile(t, filepath.Join(dir, "app/ts/route.ts"), []byte("export function get() { return new Response('x') }\n"))

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"routes", "--cache-dir", cacheDir, dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("routes: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{
		"/dav    GET, HEAD, M-SEARCH, MKCOL, OPTIONS, PROPFIND, QUERY  app/dav/route.wasm",
		"/lower  OPTIONS",
		"/ok     GET, HEAD, OPTIONS, POST",
		"/ts     OPTIONS",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("routes output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{
		`app/lower/route.wasm: export \"get\" is not a method`,
		"app/lower/route.wasm: exports no method, so it answers 405",
		`app/ts/route.ts: export \"get\" is not served`,
		"app/ts/route.ts: exports no HTTP method handler",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("routes stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"build", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr.String())
	}
	if want := "warning: app/ts/route.ts: exports no HTTP method handler"; !strings.Contains(stderr.String(), want) {
		t.Errorf("build stderr lacks %q:\n%s", want, stderr.String())
	}
}

func writeTestFile(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
}
