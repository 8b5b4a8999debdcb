package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCacheMaxSize: wasmroute routes trims a cache folder above
// --cache-max-size, oldest first, and keeps what it just compiled.
func TestCacheMaxSize(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	copyFixture(t, "hello", dir, "hello")
	old := filepath.Join(cache, "wazero-v0.0.0-old", "stale")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, when, when); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"routes", "--cache-dir", cache, "--cache-max-size", "1MiB", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the stale entry survived (%v):\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "trimmed the cache folder") {
		t.Errorf("stderr lacks the trim:\n%s", stderr.String())
	}
	fresh, _ := filepath.Glob(filepath.Join(cache, "wazero-v1*", "*"))
	if len(fresh) != 1 {
		t.Errorf("cache holds %q after compiling one module, want its entry kept", fresh)
	}
}
