package jsbuild

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCache(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		path := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app/x/route.ts", "import { n } from '../../lib/n'\nexport function GET() { return new Response(String(n)) }\n")
	write("lib/n.ts", "export const n = 1\n")
	c := NewCache(t.TempDir())
	builds := 0
	get := func() *Bundle {
		t.Helper()
		b, err := c.Build(dir, "app/x/route.ts", func() (*Bundle, error) {
			builds++
			return Build(dir, "app/x/route.ts")
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := get()
	if diff := cmp.Diff([]string{"app/x/route.ts", "lib/n.ts"}, first.Inputs); diff != "" {
		t.Errorf("Inputs (-want +got):\n%s", diff)
	}
	for _, step := range []struct {
		name   string
		edit   func()
		builds int
	}{
		{"unchanged: from the cache", func() {}, 1},
		{"an imported module changed", func() { write("lib/n.ts", "export const n = 2\n") }, 2},
		{"unchanged again", func() {}, 2},
		{"tsconfig.json appeared", func() { write("tsconfig.json", "{}") }, 3},
		{"the route changed", func() { write("app/x/route.ts", "export function GET() { return new Response('x') }\n") }, 4},
	} {
		step.edit()
		b := get()
		if builds != step.builds {
			t.Errorf("%s: %d builds, want %d", step.name, builds, step.builds)
		}
		if fresh, err := Build(dir, "app/x/route.ts"); err != nil {
			t.Fatal(err)
		} else if diff := cmp.Diff(fresh, b, cmpopts.IgnoreUnexported(Bundle{})); diff != "" {
			t.Errorf("%s: the cache's bundle differs from a fresh build (-fresh +cached):\n%s", step.name, diff)
		}
		if string(b.RouteInput()) != string(mustBuild(t, dir).RouteInput()) {
			t.Errorf("%s: the cache's init input differs from a fresh build's", step.name)
		}
	}
}

func mustBuild(t *testing.T, dir string) *Bundle {
	t.Helper()
	b, err := Build(dir, "app/x/route.ts")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
