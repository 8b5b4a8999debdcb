package build

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// files lists the names in dir and what each is: a symlink's target, or
// a regular file's content.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(name)
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name()] = "-> " + target
		case e.Type().IsRegular():
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name()] = string(b)
		default:
			got[e.Name()] = e.Type().String()
		}
	}
	return got
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// TestWriteDepsSymlink checks that WriteDeps writes no file through a
// wasmroute_deps.go that is a symlink, dangling or to another project's
// generated file, and refuses it naming it, while a regular one is
// rewritten by a rename, leaving no temporary file.
func TestWriteDepsSymlink(t *testing.T) {
	const route = "//go:build wasip1\n\npackage main\n\nimport _ \"github.com/google/go-cmp/cmp\"\n\nfunc main() {}\n"
	project := func(t *testing.T) (root, outside string) {
		base := t.TempDir()
		root, outside = filepath.Join(base, "project"), filepath.Join(base, "outside")
		write(t, filepath.Join(root, "go.mod"), "module example.com/p\n\ngo 1.25\n\nignore ./app\n")
		write(t, filepath.Join(root, "app", "x", "route.go"), route)
		write(t, filepath.Join(outside, "keep.txt"), "keep")
		return root, outside
	}
	victim := depsHeader + "\n// another project's\npackage other\n"

	tests := []struct {
		name   string
		target func(outside string) string // the link's target; "" for no link
	}{
		{"dangling", func(outside string) string { return filepath.Join(outside, "planted.go") }},
		{"dangling, relative", func(string) string { return "../outside/planted.go" }},
		{"to a generated file", func(outside string) string {
			return filepath.Join(outside, DepsFile)
		}},
		{"to a folder", func(outside string) string { return outside }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, outside := project(t)
			write(t, filepath.Join(outside, DepsFile), victim)
			target := tt.target(outside)
			symlink(t, target, filepath.Join(root, DepsFile))
			wantOutside := files(t, outside)
			for _, dirs := range [][]string{{"x"}, nil} { // to write, then to remove
				_, err := WriteDeps(t.Context(), root, dirs)
				if err == nil || !strings.Contains(err.Error(), filepath.Join(root, DepsFile)+": a symlink, not a file") {
					t.Errorf("WriteDeps(%q) = %v, want an error naming %s, a symlink", dirs, err, DepsFile)
				}
			}
			if diff := cmp.Diff(wantOutside, files(t, outside)); diff != "" {
				t.Errorf("outside the project (-want +got):\n%s", diff)
			}
			if got := files(t, root)[DepsFile]; got != "-> "+target {
				t.Errorf("%s is now %q, want the link left alone", DepsFile, got)
			}
			if _, err := os.Lstat(filepath.Join(outside, "planted.go")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("planted.go outside the project: %v, want none", err)
			}
		})
	}

	t.Run("regular", func(t *testing.T) {
		root, _ := project(t)
		write(t, filepath.Join(root, DepsFile), depsHeader+"\npackage main\n")
		if _, err := WriteDeps(t.Context(), root, []string{"x"}); err != nil {
			t.Fatal(err)
		}
		got := files(t, root)
		if !strings.Contains(got[DepsFile], "\t_ \"github.com/google/go-cmp/cmp\"\n") {
			t.Errorf("%s:\n%s\nwant it to import go-cmp", DepsFile, got[DepsFile])
		}
		if diff := cmp.Diff([]string{"app", "go.mod", DepsFile}, sortedKeys(got)); diff != "" {
			t.Errorf("project files (-want +got):\n%s", diff)
		}
		if _, err := WriteDeps(t.Context(), root, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(root, DepsFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s without Go routes: %v, want it removed", DepsFile, err)
		}
	})
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// goProject lays out a project with one Go route, app/x, and a
// middleware.go, and a folder beside it, outside.
func goProject(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "project"), filepath.Join(base, "outside")
	src := filepath.Join("..", "..", "testdata", "build", "app", "ok", "[x]")
	for _, name := range []string{"route.go", "helper.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(root, "app", "x", name), string(b))
	}
	write(t, filepath.Join(root, "middleware.go"), "//go:build wasip1\n\npackage main\n\n//go:wasmexport middleware\nfunc middleware() {}\n\nfunc main() {}\n")
	write(t, filepath.Join(outside, "victim.wasm"), "\x00asm\x01\x00\x00\x00 another project's module")
	return root, outside
}

// TestOutputSymlink checks that a route.wasm or middleware.wasm that is a
// symlink, dangling or to another project's module, is refused, naming
// it, and nothing outside the project is written. The go command puts its
// output in place by a rename, which replaces a link, or by a copy, which
// writes through it: into a folder with the setgid bit (to keep its group),
// from the build cache, or across file systems.
func TestOutputSymlink(t *testing.T) {
	builds := []struct {
		name  string
		out   string // relative to the project
		build func(root string) error
	}{
		{"route", "app/x/route.wasm", func(root string) error { return Go(t.Context(), root, []string{"x"}, nil) }},
		{"middleware", "middleware.wasm", func(root string) error { return Middleware(t.Context(), root) }},
	}
	targets := []struct {
		name   string
		target func(outside string) string
	}{
		{"dangling", func(outside string) string { return filepath.Join(outside, "planted.wasm") }},
		{"to a module", func(outside string) string { return filepath.Join(outside, "victim.wasm") }},
	}
	for _, b := range builds {
		for _, tt := range targets {
			for _, setgid := range []bool{false, true} {
				name := b.name + "/" + tt.name
				if setgid {
					name += "/setgid"
				}
				t.Run(name, func(t *testing.T) {
					root, outside := goProject(t)
					target := tt.target(outside)
					out := filepath.Join(root, filepath.FromSlash(b.out))
					if setgid {
						if err := os.Chmod(filepath.Dir(out), 0o755|os.ModeSetgid); err != nil {
							t.Fatal(err)
						}
					}
					symlink(t, target, out)
					wantOutside := files(t, outside)
					wantFolder := files(t, filepath.Dir(out))
					err := b.build(root)
					var be *Error
					if !errors.As(err, &be) || !strings.Contains(err.Error(), b.out+": a symlink, not a file") {
						t.Errorf("build: %v, want a *build.Error naming %s, a symlink", err, b.out)
					}
					if diff := cmp.Diff(wantOutside, files(t, outside)); diff != "" {
						t.Errorf("outside the project (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff(wantFolder, files(t, filepath.Dir(out))); diff != "" {
						t.Errorf("%s (-want +got):\n%s", filepath.Dir(b.out), diff)
					}
				})
			}
		}
	}
}

// TestOutputReplaced checks the build of a healthy route: route.wasm is
// written by a rename, no temporary file is left, an up-to-date module is
// not rewritten, and a route.wasm that turns into a symlink during the
// build is replaced, not written through.
func TestOutputReplaced(t *testing.T) {
	root, outside := goProject(t)
	folder := filepath.Join(root, "app", "x")
	out := filepath.Join(folder, "route.wasm")
	if err := Go(t.Context(), root, []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	first, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"helper.go", "route.go", "route.wasm"}, sortedKeys(files(t, folder))); diff != "" {
		t.Errorf("route folder (-want +got):\n%s", diff)
	}
	start := time.Now()
	if err := Go(t.Context(), root, []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("building the up-to-date route: %v", time.Since(start))
	again, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(first, again) {
		t.Errorf("an up-to-date route.wasm was replaced")
	}

	// replace, which puts the go command's output in place, checks
	// route.wasm again: it may have turned into a symlink meanwhile.
	dir, err := os.OpenRoot(folder)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	tmp, err := tempCopy(dir, "route.wasm", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Join(outside, "victim.wasm"), out)
	wantOutside := files(t, outside)
	if err := replace(dir, tmp, "route.wasm", true); err == nil || !strings.Contains(err.Error(), "a symlink, not a file") {
		t.Errorf("replace over a symlink: %v, want it refused", err)
	}
	if diff := cmp.Diff(wantOutside, files(t, outside)); diff != "" {
		t.Errorf("outside the project (-want +got):\n%s", diff)
	}
}

// TestOutputHardLink checks that a route.wasm that is a hard link to a
// file outside the project (a tar archive can hold one) is replaced, not
// written into, even where the go command copies its output (a setgid
// folder).
func TestOutputHardLink(t *testing.T) {
	root, outside := goProject(t)
	folder := filepath.Join(root, "app", "x")
	if err := os.Chmod(folder, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(outside, "victim.wasm"), filepath.Join(folder, "route.wasm")); err != nil {
		t.Fatal(err)
	}
	wantOutside := files(t, outside)
	if err := Go(t.Context(), root, []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantOutside, files(t, outside)); diff != "" {
		t.Errorf("outside the project (-want +got):\n%s", diff)
	}
	got := files(t, folder)
	if wasm := got["route.wasm"]; !strings.HasPrefix(wasm, "\x00asm") || wasm == wantOutside["victim.wasm"] {
		t.Errorf("route.wasm is %.40q, want the module built", wasm)
	}
	if diff := cmp.Diff([]string{"helper.go", "route.go", "route.wasm"}, sortedKeys(got)); diff != "" {
		t.Errorf("route folder (-want +got):\n%s", diff)
	}
}
