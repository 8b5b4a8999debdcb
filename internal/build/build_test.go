package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGo(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "build")
	var seen []string
	err := Go(context.Background(), root, []string{"ok/[x]", "broken"}, func(done, total int, dir string) {
		if total != 2 {
			t.Errorf("progress total = %d, want 2", total)
		}
		seen = append(seen, dir)
	})
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("Go: %v, want a *build.Error for app/broken", err)
	}
	if be.File != "app/broken/route.go" || !strings.Contains(be.Error(), "cannot use") {
		t.Errorf("error = %v, want it to name app/broken/route.go and quote the compiler", be)
	}
	if len(seen) != 2 {
		t.Errorf("progress saw %q, want both folders", seen)
	}
	wasm, err := os.ReadFile(filepath.Join(root, "app", "ok", "[x]", "route.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(wasm), "\x00asm") {
		t.Errorf("app/ok/[x]/route.wasm is not a WebAssembly module")
	}
}
