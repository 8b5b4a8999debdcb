package runtime

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/wasmroute/wasmroute/internal/routes"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
	"github.com/wasmroute/wasmroute/internal/wasmgen"
)

// TestLoadRefuses checks the load-time refusals: imports other than
// functions, which the host never provides, and a module file past
// wasmbin.MaxModuleSize, refused by its size before it is read.
func TestLoadRefuses(t *testing.T) {
	dir := project(t, map[string]string{"imports": "hello", "huge": "hello"})
	env := func(name string) []byte { return wasmgen.Name(wasmgen.Name(nil, "env"), name) }
	imports := []byte("\x00asm\x01\x00\x00\x00")
	imports = wasmgen.AppendSection(imports, wasmgen.SecType, []byte{1, 0x60, 0, 0})
	imports = wasmgen.AppendSection(imports, wasmgen.SecImport, wasmgen.Cat(wasmgen.U32(4),
		env("table"), []byte{wasmbin.ExternTable, 0x70, 0, 1},
		env("mem"), []byte{wasmbin.ExternMemory, 0, 1},
		env("g"), []byte{wasmbin.ExternGlobal, 0x7f, 0},
		env("tag"), []byte{wasmbin.ExternTag, 0, 0}))
	imports = wasmgen.AppendSection(imports, wasmgen.SecFunction, []byte{1, 0})
	imports = wasmgen.AppendSection(imports, wasmgen.SecExport, []byte("\x02\x03GET\x00\x00\x06memory\x02\x00"))
	imports = wasmgen.AppendSection(imports, wasmgen.SecCode, []byte{1, 2, 0, 0x0b})
	writeFile(t, filepath.Join(dir, "app", "imports", "route.wasm"), string(imports))
	if err := os.Truncate(filepath.Join(dir, "app", "huge", "route.wasm"), wasmbin.MaxModuleSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := New(context.Background(), Config{Dir: dir, LazyCompile: true, Logger: slog.New(slog.DiscardHandler)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("New: %v, want a *LoadError", err)
	}
	want := []string{
		"app/huge/route.wasm: not a valid WebAssembly module: is 67108865 bytes, more than the limit of 64MiB",
		"app/imports/route.wasm: imports global env.g: the host provides functions only",
		"app/imports/route.wasm: imports memory env.mem: the host provides functions only",
		"app/imports/route.wasm: imports table env.table: the host provides functions only",
		"app/imports/route.wasm: imports tag env.tag: the host provides functions only",
	}
	if diff := gocmp.Diff(want, le.Problems); diff != "" {
		t.Errorf("load problems (-want +got):\n%s", diff)
	}
}

// TestLoadRefusesUninstrumentable checks that a module with an instruction
// the instrumenter does not know (here the exception proposal's try) does
// not load: nothing would bound it. The error names the reason.
func TestLoadRefusesUninstrumentable(t *testing.T) {
	m := &wasmgen.Module{Memories: []wasmgen.Limits{{Min: 1}}}
	m.Export("GET", wasmgen.KindFunc, m.Func(nil, nil, nil, []byte{0x06, 0x40, 0x0b})) // try end
	m.Export("memory", wasmgen.KindMemory, 0)
	b := m.Encode()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app", "try", "route.wasm"), string(b))
	_, err := New(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if want := "app/try/route.wasm: function body 0: cannot instrument: opcode 0x06"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New: %v, want an error with %q", err, want)
	}
}

// FuzzLoadCompile runs arbitrary bytes through everything a server does
// with a route module before its first request runs: the load-time parse
// and ABI checks (Server.load), then, through the route's pool as a request
// gets its instance, the structural check, the table caps, the
// instrumenter, the snapshot rewrite, wazero's compile and the module's
// initialization, bounded by a 100 ms maxDuration. After each input the Go
// heap in use must stay under 256 MiB: no input may make the host allocate
// by a count it did not check.
func FuzzLoadCompile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "wat", "*.wasm"))
	hostile, _ := filepath.Glob(filepath.Join("..", "testdata", "hostile", "wat", "*.wasm"))
	for _, file := range append(files, hostile...) {
		if bin, err := os.ReadFile(file); err == nil {
			f.Add(bin)
		}
	}
	dir := project(f, map[string]string{"fuzz": "hello"})
	ctx := context.Background()
	s, err := New(ctx, Config{Dir: dir, LazyCompile: true, Logger: slog.New(slog.DiscardHandler), IdleTimeout: -1,
		Limits: Limits{MaxDuration: 100 * time.Millisecond, MaxMemory: 16 << 20, MaxWait: time.Second}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close(ctx) })
	file := filepath.Join(dir, "app", "fuzz", "route.wasm")
	const maxHeap = 256 << 20
	f.Fuzz(func(t *testing.T, bin []byte) {
		if err := os.WriteFile(file, bin, 0o644); err != nil {
			t.Fatal(err)
		}
		if m, errs, _ := s.load(ctx, routes.Folder{Dir: "fuzz", Wasm: true}); len(errs) == 0 {
			if inst, err := m.pool.get(ctx, time.Second); err == nil {
				m.pool.put(inst, true)
			}
			m.evict()
		}
		// The heap in use, after a collection if it looks over the bound.
		var ms goruntime.MemStats
		if goruntime.ReadMemStats(&ms); ms.HeapAlloc > maxHeap {
			goruntime.GC()
			goruntime.ReadMemStats(&ms)
		}
		if ms.HeapAlloc > maxHeap {
			t.Fatalf("the Go heap holds %d MiB after this input, more than %d MiB", ms.HeapAlloc>>20, maxHeap>>20)
		}
	})
}
