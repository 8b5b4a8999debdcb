package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// write makes the files of tree under dir: a path ending in "/" is an empty
// folder, a content starting with "->" a symlink to the rest, a path ending
// in "*" an executable file.
func write(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
}

func project(t *testing.T, tree map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, tree)
	return dir
}

func mustDigest(t *testing.T, dir string) string {
	t.Helper()
	d, err := Project(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var base = map[string]string{
	"app/route.js":                "export function GET() { return new Response('home') }",
	"app/api/hello/route.ts":      "export function GET() { return Response.json({hi: 1}) }",
	"app/api/hello/route.json":    `{"maxDuration": "5s"}`,
	"app/blog/[slug]/route.wasm*": "\x00asm\x01\x00\x00\x00",
	"wasmroute.json":              `{"env": {}}`,
	"package-lock.json":           `{"lockfileVersion": 3}`,
}

// TestProjectFormat computes the digest of a small project from the
// package documentation's listing format, by hand: a machine elsewhere
// that follows the documentation gets the same digest.
func TestProjectFormat(t *testing.T) {
	dir := project(t, base)
	var listing strings.Builder
	for _, e := range []struct{ kind, content, path string }{ // sorted by path
		{"file", base["app/api/hello/route.json"], "app/api/hello/route.json"},
		{"file", base["app/api/hello/route.ts"], "app/api/hello/route.ts"},
		{"exec", base["app/blog/[slug]/route.wasm*"], "app/blog/[slug]/route.wasm"},
		{"file", base["app/route.js"], "app/route.js"},
		{"file", base["package-lock.json"], "package-lock.json"},
		{"file", base["wasmroute.json"], "wasmroute.json"},
	} {
		listing.WriteString(e.kind + " " + hexSum(e.content) + " " + e.path + "\x00")
	}
	if diff := cmp.Diff("sha256:"+hexSum(listing.String()), mustDigest(t, dir)); diff != "" {
		t.Errorf("digest (-by hand +Project):\n%s", diff)
	}
}

// TestProjectStable: the same files give the same digest whatever the
// order they were written in, the folder they are in, their times and the
// permission bits other than the owner's execute bit.
func TestProjectStable(t *testing.T) {
	want := mustDigest(t, project(t, base))
	// Another folder, files written in reverse path order, a day apart.
	dir := t.TempDir()
	names := make([]string, 0, len(base))
	for name := range base {
		names = append(names, name)
	}
	for i := len(names) - 1; i >= 0; i-- {
		write(t, dir, map[string]string{names[i]: base[names[i]]})
		p := filepath.Join(dir, strings.TrimSuffix(names[i], "*"))
		old := time.Now().Add(-time.Duration(i) * 24 * time.Hour)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "wasmroute.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mustDigest(t, dir); got != want {
		t.Errorf("same files, another folder and order: %s, want %s", got, want)
	}
}

// TestProjectChanges: every change to what the server reads changes the
// digest, and each to something else leaves it.
func TestProjectChanges(t *testing.T) {
	want := mustDigest(t, project(t, base))
	outside := t.TempDir()
	write(t, outside, map[string]string{"secret": "outside"})
	tests := []struct {
		name    string
		change  map[string]string // on top of base
		remove  string
		changes bool
	}{
		{name: "a route's code", change: map[string]string{"app/route.js": "export function GET() { return new Response('changed') }"}, changes: true},
		{name: "a route's config", change: map[string]string{"app/api/hello/route.json": `{"maxDuration": "6s"}`}, changes: true},
		{name: "the project's config", change: map[string]string{"wasmroute.json": `{}`}, changes: true},
		{name: "a new route", change: map[string]string{"app/new/route.js": "x"}, changes: true},
		{name: "a removed route", remove: "app/route.js", changes: true},
		{name: "a moved route", remove: "app/route.js", change: map[string]string{"app/home/route.js": base["app/route.js"]}, changes: true},
		{name: "a library beside the routes", change: map[string]string{"lib/db.ts": "export const x = 1"}, changes: true},
		{name: "a private folder", change: map[string]string{"app/_lib/x.ts": "export const x = 1"}, changes: true},
		{name: "the lockfile", change: map[string]string{"package-lock.json": `{"lockfileVersion": 2}`}, changes: true},
		{name: "the execute bit", remove: "app/route.js", change: map[string]string{"app/route.js*": base["app/route.js"]}, changes: true},
		{name: "a link leaving the folder, by its target", change: map[string]string{"app/x.txt": "->" + filepath.Join(outside, "secret")}, changes: true},
		{name: "a file and a link to an equal file", change: map[string]string{"lib/a.ts": "a", "lib/b.ts": "->a.ts"}, changes: true},

		{name: "the embedded store and caches in .wasmroute", change: map[string]string{".wasmroute/data/kv.db": "data", ".wasmroute/cache/x": "y"}},
		{name: "node_modules", change: map[string]string{"node_modules/left-pad/index.js": "module.exports = 1", "app/node_modules/x/index.js": "1"}},
		{name: "hidden files and folders", change: map[string]string{".git/HEAD": "ref", ".DS_Store": "x", "app/.route.ts.swp": "x", "app/.cache/y": "z"}},
		{name: "an empty folder", change: map[string]string{"app/empty/": ""}},
		{name: "a hidden link to outside", change: map[string]string{".env": "->" + filepath.Join(outside, "secret")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, base)
			if tt.remove != "" {
				if err := os.Remove(filepath.Join(dir, tt.remove)); err != nil {
					t.Fatal(err)
				}
			}
			write(t, dir, tt.change)
			if got := mustDigest(t, dir); (got != want) != tt.changes {
				t.Errorf("digest %s, before %s: changed %v, want %v", got, want, got != want, tt.changes)
			}
		})
	}
}

// TestProjectLinks: links inside the folder are followed as the server
// follows them, so a folder mounted the way Kubernetes mounts a ConfigMap
// (every name a link into a hidden ..data folder) has the digest of the
// same files copied; a link leaving the folder is listed by its target and
// nothing outside is read; a link loop ends.
func TestProjectLinks(t *testing.T) {
	want := mustDigest(t, project(t, map[string]string{
		"app/route.js":           "home",
		"app/api/hello/route.ts": "hello",
		"wasmroute.json":         "{}",
	}))
	configMap := project(t, map[string]string{
		"..2026_11_26_15_00_00.123/app/route.js":           "home",
		"..2026_11_26_15_00_00.123/app/api/hello/route.ts": "hello",
		"..2026_11_26_15_00_00.123/wasmroute.json":         "{}",
		"..data":         "->..2026_11_26_15_00_00.123",
		"app":            "->..data/app",
		"wasmroute.json": "->..data/wasmroute.json",
	})
	if got := mustDigest(t, configMap); got != want {
		t.Errorf("mounted through links: %s, want the copy's %s", got, want)
	}

	outside := t.TempDir()
	write(t, outside, map[string]string{"secret": "one", "dir/x": "two"})
	dir := project(t, map[string]string{
		"app/route.js":    "home",
		"app/secret":      "->" + filepath.Join(outside, "secret"),
		"app/up":          "->../..",
		"app/dir":         "->" + filepath.Join(outside, "dir"),
		"app/loop/self":   "->..",
		"app/loop/x.ts":   "x",
		"app/dangling":    "->nowhere",
		"app/inside/file": "->../route.js",
	})
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]Entry{}
	for _, e := range got {
		paths[e.Path] = e
	}
	for _, w := range []Entry{
		{"file", hexSum("home"), "app/route.js"},
		{"link", hexSum(filepath.Join(outside, "secret")), "app/secret"},
		{"link", hexSum("../.."), "app/up"},
		{"link", hexSum(filepath.Join(outside, "dir")), "app/dir"},
		{"link", hexSum(".."), "app/loop/self"},
		{"file", hexSum("x"), "app/loop/x.ts"},
		{"link", hexSum("nowhere"), "app/dangling"},
		{"file", hexSum("home"), "app/inside/file"},
	} {
		if diff := cmp.Diff(w, paths[w.Path]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", w.Path, diff)
		}
	}
	// Changing what is outside changes nothing: it is never read.
	before := Sum(got)
	write(t, outside, map[string]string{"dir/y": "three"})
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if after := mustDigest(t, dir); after != before {
		t.Errorf("a change outside the folder changed the digest: %s, then %s", before, after)
	}
}

// TestProjectBounds: past maxEntries, Project fails saying so; a missing
// folder is an error naming it.
func TestProjectBounds(t *testing.T) {
	dir := project(t, base)
	defer func(n int) { maxEntries = n }(maxEntries)
	maxEntries = 5
	if _, err := Project(dir); err == nil || !strings.Contains(err.Error(), "more than 5 files and folders in "+dir) {
		t.Errorf("past the bound: %v", err)
	}
	maxEntries = 100
	if _, err := Project(dir); err != nil {
		t.Errorf("under the bound: %v", err)
	}
	missing := filepath.Join(dir, "nope")
	if _, err := Project(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing folder: %v, want an error naming %s", err, missing)
	}
}
