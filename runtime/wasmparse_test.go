package runtime

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestParseModuleMatchesWazero checks parseModule against wazero's own
// decoding on every WAT fixture and the demo's Go modules.
func TestParseModuleMatchesWazero(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "wat", "*.wasm"))
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "invalid.wasm" }) // wazero refuses it: nothing to compare
	dir := demo(t)
	for _, route := range []string{"api/hello", "api/echo", "blog/[slug]"} {
		files = append(files, filepath.Join(dir, "app", route, "route.wasm"))
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
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
			got, err := parseModule(bin)
			if err != nil {
				t.Fatal(err)
			}
			cm, err := rt.CompileModule(ctx, bin)
			if err != nil {
				t.Fatal(err)
			}
			want := &moduleInfo{exports: map[string]export{}, memoryMin: map[string]uint64{}}
			for name, def := range cm.ExportedFunctions() {
				want.exports[name] = export{kind: externFunc, sig: funcType{types(def.ParamTypes()), types(def.ResultTypes())}}
			}
			for name, mem := range cm.ExportedMemories() {
				want.exports[name] = export{kind: externMemory}
				want.memoryMin[name] = uint64(mem.Min())
			}
			for _, def := range cm.ImportedFunctions() {
				module, name, _ := def.Import()
				want.imports = append(want.imports, funcImport{module, name, funcType{types(def.ParamTypes()), types(def.ResultTypes())}})
			}
			opts := cmp.Options{cmp.AllowUnexported(moduleInfo{}, export{}, funcType{}, funcImport{})}
			if diff := cmp.Diff(want, got, opts); diff != "" {
				t.Errorf("(-wazero +parseModule):\n%s", diff)
			}
			head, size, err := readModuleHead(file)
			if err != nil || size != int64(len(bin)) {
				t.Fatalf("readModuleHead: size %d, %v; want %d", size, err, len(bin))
			}
			if diff := cmp.Diff(want, head, opts); diff != "" {
				t.Errorf("(-wazero +readModuleHead):\n%s", diff)
			}
		})
	}
}

func TestParseModuleErrors(t *testing.T) {
	hello, err := os.ReadFile(filepath.Join("..", "testdata", "wat", "hello.wasm"))
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
			_, err := parseModule(tt.bin)
			if err == nil || err.Error() != tt.want {
				t.Errorf("parseModule: %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParseModule(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "wat", "*.wasm"))
	for _, file := range files {
		if bin, err := os.ReadFile(file); err == nil {
			f.Add(bin)
		}
	}
	f.Fuzz(func(t *testing.T, bin []byte) {
		info, err := parseModule(bin)
		if err == nil {
			check(info) // must not panic on whatever parsed
		}
	})
}
