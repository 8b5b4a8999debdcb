package wasmbin

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tetratelabs/wazero/api"
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
			// wazero lists exported functions and memories only: a
			// global's or table's export (methods.wasm's VERSION) is not
			// compared here.
			opts := cmp.Options{cmpopts.IgnoreMapEntries(func(_ string, x Export) bool {
				return x.Kind != ExternFunc && x.Kind != ExternMemory
			})}
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
