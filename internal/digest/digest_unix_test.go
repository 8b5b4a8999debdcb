//go:build unix

package digest

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProjectPipe: a named pipe is listed by its kind and never opened,
// which would wait for a writer for ever.
func TestProjectPipe(t *testing.T) {
	dir := project(t, map[string]string{"app/route.js": "home"})
	if err := syscall.Mkfifo(filepath.Join(dir, "app", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{"other", hexSum(""), "app/pipe"},
		{"file", hexSum("home"), "app/route.js"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
}
