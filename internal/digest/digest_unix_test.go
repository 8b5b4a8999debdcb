//go:build unix

package digest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// TestProjectLinkFanOut: links that fan out (six in each of seven folders,
// each to the folder below: 6^7 paths to one 1 MiB file) cost a walk of
// what is there, not of every path: each folder is walked once, then
// listed as a link. Before, this took hours.
func TestProjectLinkFanOut(t *testing.T) {
	dir := project(t, map[string]string{"L0/big.bin": strings.Repeat("x", 1<<20)})
	for i := 1; i <= 7; i++ {
		for j := range 6 {
			link := filepath.Join(dir, fmt.Sprintf("L%d", i), fmt.Sprintf("to%d", j))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(fmt.Sprintf("../L%d", i-1), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	entries, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range entries {
		if e.Kind == "file" {
			files++
		}
	}
	// L0/big.bin, and once more through the first link of L1 (which walks
	// L0 before the real L0 is reached, in path order); at most twice.
	if files > 2 || time.Since(start) > 5*time.Second {
		t.Errorf("%d entries, %d files hashed, in %v: want each folder walked once or twice", len(entries), files, time.Since(start))
	}
}

// TestProjectByteBound: past maxBytes hashed, Project fails saying so, so
// that links to one large file cannot make it read for ever.
func TestProjectByteBound(t *testing.T) {
	defer func(n int64) { maxBytes = n }(maxBytes)
	maxBytes = 10 << 10
	dir := project(t, map[string]string{"app/big.bin": strings.Repeat("x", 4<<10)})
	for i := range 5 {
		if err := os.Symlink("big.bin", filepath.Join(dir, "app", fmt.Sprintf("l%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := List(dir); err == nil || !strings.Contains(err.Error(), "more than 10240 bytes of files in "+dir) {
		t.Errorf("List of 24 KiB of files past a 10 KiB bound = %v", err)
	}
}
