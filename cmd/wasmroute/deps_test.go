package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoModTidyKeepsRouteDeps: in a module whose go.mod ignores app/ (go mod
// tidy cannot read [slug] as a package), a requirement only a route.go
// needs survives go mod tidy once wasmroute build has written
// wasmroute_deps.go, and the module's native go build ./... and go vet ./...
// still pass. The go command runs offline, its proxy the module cache,
// where this repository's own go-cmp already is.
func TestGoModTidyKeepsRouteDeps(t *testing.T) {
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOWORK", "off")
	repoSum, err := os.ReadFile(filepath.Join("..", "..", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var sum []string
	for _, line := range strings.Split(string(repoSum), "\n") {
		if strings.HasPrefix(line, "github.com/google/go-cmp v0.7.0") {
			sum = append(sum, line)
		}
	}
	dir := t.TempDir()
	goMod := "module example.com/tidy\n\ngo 1.26\n\nignore ./app\n\nrequire github.com/google/go-cmp v0.7.0\n"
	for name, content := range map[string]string{
		"go.mod":  goMod,
		"go.sum":  strings.Join(sum, "\n") + "\n",
		"tidy.go": "// Package tidy is the project's own native code.\npackage tidy\n\nfunc Answer() int { return 42 }\n",
		"app/blog/[slug]/route.go": "//go:build wasip1\n\npackage main\n\nimport \"github.com/google/go-cmp/cmp\"\n\n" +
			"//go:wasmexport GET\nfunc get() { println(cmp.Equal(1, 2)) }\n\nfunc main() {}\n",
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	wasmroute := func(wantCode int) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"build", dir}, &stdout, &stderr); code != wantCode {
			t.Fatalf("wasmroute build: exit %d, want %d\n%s", code, wantCode, stderr.String())
		}
		return stderr.String()
	}
	requires := func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(b), "require github.com/google/go-cmp v0.7.0")
	}

	// Without wasmroute_deps.go, tidy drops the requirement and the build
	// then fails, saying what to do.
	goCmd("mod", "tidy")
	if requires() {
		t.Fatal("go mod tidy kept go-cmp without wasmroute_deps.go: this test no longer shows the problem")
	}
	if out := wasmroute(1); !strings.Contains(out, "run go mod tidy: wasmroute_deps.go shows it the routes' imports") {
		t.Errorf("build without the requirement: stderr lacks the advice:\n%s", out)
	}

	// That build wrote wasmroute_deps.go: tidy now keeps the requirement,
	// the build passes, and tidy again changes nothing.
	goCmd("mod", "tidy")
	if !requires() {
		t.Fatalf("go mod tidy dropped go-cmp despite wasmroute_deps.go")
	}
	wasmroute(0)
	if _, err := os.Stat(filepath.Join(dir, "app", "blog", "[slug]", "route.wasm")); err != nil {
		t.Errorf("no route.wasm: %v", err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	goCmd("mod", "tidy")
	if after, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !bytes.Equal(before, after) {
		t.Errorf("go mod tidy changed go.mod after a build:\n%s\nthen\n%s", before, after)
	}
	goCmd("build", "./...")
	goCmd("vet", "./...")
	deps, err := os.ReadFile(filepath.Join(dir, "wasmroute_deps.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"//go:build wasmroute_deps\n\npackage tidy\n", "\t_ \"github.com/google/go-cmp/cmp\"\n"} {
		if !strings.Contains(string(deps), want) {
			t.Errorf("wasmroute_deps.go lacks %q:\n%s", want, deps)
		}
	}

	// A route that no longer imports another module: the file goes.
	src := filepath.Join(dir, "app", "blog", "[slug]", "route.go")
	if err := os.WriteFile(src, []byte("//go:build wasip1\n\npackage main\n\n//go:wasmexport GET\nfunc get() {}\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wasmroute(0)
	if _, err := os.Stat(filepath.Join(dir, "wasmroute_deps.go")); !os.IsNotExist(err) {
		t.Errorf("wasmroute_deps.go outlived the last import (%v)", err)
	}
}
