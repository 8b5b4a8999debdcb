package cachedir

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
)

// file writes dir/name with size bytes, last changed and used age ago.
func file(t *testing.T, dir, name string, size int, age time.Duration) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

// files lists dir's files, slash-separated, relative to dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() != ".trim.lock" {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestTrim(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	file(t, outside, "precious", 5000, 100*time.Hour)
	for i, name := range []string{"a", "b", "c", "d", "e"} { // a is the oldest
		file(t, dir, "wazero-v1.12.0-amd64-linux/"+name, 1000, time.Duration(50-i)*time.Hour)
	}
	file(t, dir, "jsengine-v1/old.snap", 1000, 60*time.Hour)
	file(t, dir, "jsbuild-v1/new.json", 1000, 10*time.Hour)
	file(t, dir, "wazero-v1.12.0-amd64-linux/being-written", 3000, 0)          // changed just now
	file(t, dir, "wazero-v1.12.0-amd64-linux/f.123.tmp", 1000, 30*time.Minute) // a slow writer's
	file(t, dir, "jsbuild-v1/tmp-456", 1000, 3*time.Hour)                      // left by a crash
	file(t, dir, "other/mine", 9000, 100*time.Hour)                            // not wasmroute's
	file(t, dir, "big-old-file", 9000, 100*time.Hour)                          // nor this
	if err := os.Symlink(filepath.Join(outside, "precious"), filepath.Join(dir, "jsbuild-v1", "link")); err != nil {
		t.Fatal(err)
	}
	// 12,000 bytes in wasmroute's folders; down to 7,500 or as near as the
	// fresh files allow: the oldest go first.
	r, err := Trim(dir, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{Files: 10, Size: 12_000, Deleted: 5, Freed: 5000}); r != want {
		t.Errorf("Trim = %+v, want %+v", r, want)
	}
	want := []string{
		"big-old-file",
		"jsbuild-v1/link",
		"jsbuild-v1/new.json",
		"other/mine",
		"wazero-v1.12.0-amd64-linux/being-written",
		"wazero-v1.12.0-amd64-linux/d",
		"wazero-v1.12.0-amd64-linux/e",
		"wazero-v1.12.0-amd64-linux/f.123.tmp",
	}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("a symlink's target outside the cache: %v", err)
	}

	// Under the bound, nothing goes.
	if r, err := Trim(dir, 10_000); err != nil || r.Deleted != 0 {
		t.Errorf("second Trim = %+v, %v; want nothing deleted", r, err)
	}
	// No bound, or no folder: nothing is done.
	for _, tt := range []struct {
		dir string
		max int64
	}{{dir, 0}, {"", 1}, {filepath.Join(dir, "missing"), 1}} {
		if r, err := Trim(tt.dir, tt.max); err != nil || r != (Result{}) {
			t.Errorf("Trim(%q, %d) = %+v, %v; want nothing", tt.dir, tt.max, r, err)
		}
	}
}

// TestTrimUsesAccessTime: a file read recently outlives one written later
// but not read since.
func TestTrimUsesAccessTime(t *testing.T) {
	dir := t.TempDir()
	file(t, dir, "jsbuild-v1/read", 1000, 50*time.Hour)
	file(t, dir, "jsbuild-v1/unread", 1000, 40*time.Hour)
	path := filepath.Join(dir, "jsbuild-v1", "read")
	if err := os.Chtimes(path, time.Now().Add(-time.Hour), time.Now().Add(-50*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := Trim(dir, 1500); err != nil {
		t.Fatal(err)
	}
	want := []string{"jsbuild-v1/read"}
	if atime(mustStat(t, path)).IsZero() {
		want = []string{"jsbuild-v1/unread"} // no access times here: by modification
	}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("left (-want +got):\n%s", diff)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestTrimWhileLocked: a second trimmer of the same folder steps aside.
func TestTrimWhileLocked(t *testing.T) {
	dir := t.TempDir()
	file(t, dir, "jsbuild-v1/x", 1000, 50*time.Hour)
	unlock, ok, err := tryLock(dir)
	if err != nil || !ok {
		t.Fatalf("tryLock = %v, %v", ok, err)
	}
	if r, err := Trim(dir, 1); err != nil || r != (Result{}) {
		t.Errorf("Trim while another holds the lock = %+v, %v; want nothing done", r, err)
	}
	unlock()
	if r, err := Trim(dir, 1); err != nil || r.Deleted != 1 {
		t.Errorf("Trim after = %+v, %v; want 1 deleted", r, err)
	}
}

// TestTrimWazeroCache trims wazero's own compilation cache: the folder it
// writes is recognized, an entry just written survives, an old one goes,
// and a runtime sharing the folder compiles again after.
func TestTrimWazeroCache(t *testing.T) {
	bin, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wat", "loop.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	compile := func() {
		t.Helper()
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer cache.Close(ctx)
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
		defer rt.Close(ctx)
		if _, err := rt.CompileModule(ctx, bin); err != nil {
			t.Fatal(err)
		}
	}
	compile()
	entries := files(t, dir)
	if len(entries) != 1 || !strings.HasPrefix(entries[0], "wazero-") {
		t.Fatalf("wazero's cache holds %q, want one entry under wazero-*/", entries)
	}
	if r, err := Trim(dir, 1); err != nil || r.Files != 1 || r.Deleted != 0 {
		t.Errorf("Trim of a fresh entry = %+v, %v; want it found and kept", r, err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(entries[0])), old, old); err != nil {
		t.Fatal(err)
	}
	if r, err := Trim(dir, 1); err != nil || r.Deleted != 1 {
		t.Errorf("Trim of an old entry = %+v, %v; want it deleted", r, err)
	}
	compile()
	if diff := cmp.Diff(entries, files(t, dir)); diff != "" {
		t.Errorf("after compiling again (-want +got):\n%s", diff)
	}
}
