package wasmbin

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmroute/wasmroute/internal/build"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// TestParseModuleMatchesWazero checks Parse against wazero's own
// decoding on every WAT fixture and the demo's Go modules.
func TestParseModuleMatchesWazero(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "invalid.wasm" }) // wazero refuses it: nothing to compare
	dir := demo(t)
	for _, route := range []string{"api/hello", "api/echo", "blog/[slug]"} {
		files = append(files, filepath.Join(dir, "app", route, "route.wasm"))
	}
	ctx := context.Background()
	rt := cachedRuntime(t)
	types := func(ts []api.ValueType) []byte {
		b := []byte{}
		for _, t := range ts {
			b = append(b, t)
		}
		return b
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			bin, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(bin)
			if err != nil {
				t.Fatal(err)
			}
			cm, err := rt.CompileModule(ctx, bin)
			if err != nil {
				t.Fatal(err)
			}
			want := &Info{Exports: map[string]Export{}, MemoryMin: map[string]uint64{}}
			for name, def := range cm.ExportedFunctions() {
				want.Exports[name] = Export{Kind: ExternFunc, Sig: FuncType{types(def.ParamTypes()), types(def.ResultTypes())}}
			}
			for name, mem := range cm.ExportedMemories() {
				want.Exports[name] = Export{Kind: ExternMemory}
				want.MemoryMin[name] = uint64(mem.Min())
			}
			for _, def := range cm.ImportedFunctions() {
				module, name, _ := def.Import()
				want.Imports = append(want.Imports, FuncImport{module, name, FuncType{types(def.ParamTypes()), types(def.ResultTypes())}})
			}
			opts := cmp.Options{}
			if diff := cmp.Diff(want, got, opts); diff != "" {
				t.Errorf("(-wazero +Parse):\n%s", diff)
			}
			root, err := os.OpenRoot(filepath.Dir(file))
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			head, size, err := ReadHead(root, filepath.Base(file))
			if err != nil || size != int64(len(bin)) {
				t.Fatalf("ReadHead: size %d, %v; want %d", size, err, len(bin))
			}
			if diff := cmp.Diff(want, head, opts); diff != "" {
				t.Errorf("(-wazero +ReadHead):\n%s", diff)
			}
		})
	}
}

func TestParseModuleErrors(t *testing.T) {
	hello, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wat", "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		bin  []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly 1.0 binary (bad magic number or version)"},
		{"text", []byte("(module)"), "not a WebAssembly 1.0 binary (bad magic number or version)"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "not a WebAssembly 1.0 binary (bad magic number or version)"},
		{"truncated", hello[:40], "import section: unexpected end"},
		{"section past the end", []byte("\x00asm\x01\x00\x00\x00\x01\x7f"), "type section: unexpected end"},
		{"export of a missing function", []byte("\x00asm\x01\x00\x00\x00\x07\x07\x01\x03GET\x00\x05"), `export "GET": no function 5`},
		{"endless number", []byte("\x00asm\x01\x00\x00\x00\x01\x0b\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), "type section: number too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.bin)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse: %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzParseModule checks that Parse never panics, nor formatting what it
// returns.
func FuzzParseModule(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	for _, file := range files {
		if bin, err := os.ReadFile(file); err == nil {
			f.Add(bin)
		}
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		info, err := Parse(bin)
		if err != nil {
			return
		}
		// What the runtime's ABI check formats must not panic on whatever
		// parsed (runtime's FuzzLoadCompile runs the check itself).
		for _, x := range info.Exports {
			_ = x.Sig.String()
		}
		for _, im := range info.Imports {
			_ = im.Sig.String()
		}
		for _, im := range info.OtherImports {
			_ = KindName(im.Kind)
		}
	})
}

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

// cachedRuntime returns a runtime compiling through the test cache
// runtime's tests share (testCacheDir), so that the demo's Go modules compile once across test runs.
func cachedRuntime(t *testing.T) wazero.Runtime {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(testCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	t.Cleanup(func() { rt.Close(ctx); cache.Close(ctx) })
	return rt
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

// TestInstrument instruments every WAT fixture and the demo's Go hello
// module and checks that each gets a check in each of its loops, as
// wasm-objdump counts them, and still compiles; those without sched_yield
// get the import.
func TestInstrument(t *testing.T) {
	objdump, err := exec.LookPath("wasm-objdump")
	if err != nil {
		t.Fatal("wasm-objdump (Debian package wabt) is needed; .ci/run installs it")
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "invalid.wasm" })
	files = append(files, filepath.Join(demo(t), "app", "api", "hello", "route.wasm"))
	ctx := context.Background()
	rt := cachedRuntime(t)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			bin, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ins, err := Instrument(bin, 8<<20)
			if err != nil {
				t.Fatal(err)
			}
			if want := !bytes.Contains(bin, []byte("sched_yield")); ins.AddedYield != want {
				t.Errorf("added sched_yield: %v, want %v", ins.AddedYield, want)
			}
			out, loops := ins.Bin, ins.Loops
			dump, err := exec.Command(objdump, "-d", file).Output()
			if err != nil {
				t.Fatal(err)
			}
			if want := objdumpLoops(dump); loops != want {
				t.Errorf("instrumented %d loops, wasm-objdump counts %d", loops, want)
			}
			if _, err := rt.CompileModule(ctx, out); err != nil {
				t.Errorf("instrumented module: %v", err)
			}
		})
	}
}

// objdumpLoops counts the loop instructions in wasm-objdump -d's output,
// lines such as "000123: 03 40 |   loop". (A regular expression over the
// 100 MB dump of a Go guest takes minutes under the race detector.)
func objdumpLoops(dump []byte) int {
	n := 0
	for line := range bytes.Lines(dump) {
		if _, insn, ok := bytes.Cut(line, []byte("|")); ok && bytes.HasPrefix(bytes.TrimLeft(insn, " "), []byte("loop")) {
			n++
		}
	}
	return n
}

// FuzzInstrument checks that Instrument never panics, and that what it
// makes of a module wazero accepts, wazero accepts too.
func FuzzInstrument(f *testing.F) {
	fuzzTransform(f, func(bin []byte) ([]byte, error) {
		ins, err := Instrument(bin, 1<<20)
		if err != nil {
			return nil, err
		}
		return ins.Bin, nil
	})
}

// fuzzTransform fuzzes a module transformation from the WAT fixtures.
func fuzzTransform(f *testing.F, transform func([]byte) ([]byte, error)) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	for _, file := range files {
		if bin, err := os.ReadFile(file); err == nil {
			f.Add(bin)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := transform(bin)
		if err != nil {
			return
		}
		// wazero allocates by the counts it reads: only what the server
		// would hand it (checkModule) may reach it, else the fuzzer finds
		// wazero's out-of-memory, not ours.
		if _, err := checkModule(bin); err != nil {
			return
		}
		if cm, err := rt.CompileModule(ctx, bin); err == nil {
			cm.Close(ctx)
			cm, err := rt.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("wazero accepts the module but not its transformed form: %v", err)
			}
			cm.Close(ctx)
		}
	})
}

var (
	demoOnce sync.Once
	demoErr  error
)

// demo builds examples/demo's route.go sources once per test binary (as
// the runtime's tests do: the build is locked across test binaries).
func demo(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "..", "examples", "demo")
	demoOnce.Do(func() {
		folders, err := routes.Scan(dir)
		if err != nil {
			demoErr = err
			return
		}
		var dirs []string
		for _, f := range folders {
			dirs = append(dirs, f.Dir)
		}
		demoErr = build.Go(context.Background(), dir, dirs, nil)
	})
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return dir
}

// testCacheDir is the compilation cache the runtime's hostile suite keeps
// (runtime.hostileCacheDir): the demo's Go modules compile once across
// test binaries and runs.
func testCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "wasmroute", "test-hostile")
}
