package wasmbin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRewrite rewrites every WAT fixture and the demo's Go modules for
// snapshots and checks that wazero compiles the result, with the original
// exports plus one per mutable global (and the start function), and no
// active data left.
func TestRewrite(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "invalid.wasm" })
	dir := demo(t)
	for _, route := range []string{"api/hello", "api/echo", "blog/[slug]"} {
		files = append(files, filepath.Join(dir, "app", route, "route.wasm"))
	}
	ctx := context.Background()
	rt := cachedRuntime(t)
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			bin, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rw, err := Rewrite(bin)
			if filepath.Base(file) == "no_memory.wasm" {
				if !errors.Is(err, ErrNoSnapshot) {
					t.Fatalf("Rewrite: %v, want ErrNoSnapshot", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			before, err := rt.CompileModule(ctx, bin)
			if err != nil {
				t.Fatal(err)
			}
			after, err := rt.CompileModule(ctx, rw.Bin)
			if err != nil {
				t.Fatalf("rewritten module: %v", err)
			}
			var want []string
			for name := range before.ExportedFunctions() {
				want = append(want, name)
			}
			if rw.Start {
				want = append(want, StartExport)
			}
			var got []string
			for name := range after.ExportedFunctions() {
				got = append(got, name)
			}
			if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("function exports (-want +got):\n%s", diff)
			}
			if strings.Contains(file, "demo") && len(rw.Globals) == 0 {
				t.Errorf("a Go module with no mutable global to export")
			}
			if n := activeSegments(t, rw.Bin); n != 0 {
				t.Errorf("the rewritten module has %d active data segments, want none", n)
			}
		})
	}
}

// activeSegments counts the active data segments of bin.
func activeSegments(t *testing.T, bin []byte) int {
	r := &reader{b: bin[8:]}
	for len(r.b) > 0 && r.err == nil {
		id, body := r.byte(), r.bytes(r.uleb())
		if id == 11 {
			rw := &Rewritten{}
			if _, err := rw.takeData(body, false); err != nil {
				t.Fatal(err)
			}
			return len(rw.Segments)
		}
	}
	return 0
}

// FuzzRewrite checks that Rewrite never panics, and that what it makes of
// a module wazero accepts, wazero accepts too.
func FuzzRewrite(f *testing.F) {
	fuzzTransform(f, func(bin []byte) ([]byte, error) {
		rw, err := Rewrite(bin)
		if err != nil {
			return nil, err
		}
		return rw.Bin, nil
	})
}
