package wasmbin

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// defaultMaxMemory is runtime.DefaultLimits.MaxMemory, the limit most
// routes run under.
const defaultMaxMemory = 128 << 20

// wasmModule builds a module binary from its sections, each given as its id
// and body.
func wasmModule(sections ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		writeSection(&b, s[0], s[1:])
	}
	return b.Bytes()
}

// sec is a section: its id and the concatenation of parts.
func sec(id byte, parts ...[]byte) []byte { return append([]byte{id}, bytes.Join(parts, nil)...) }

func u(v uint64) []byte { return binary.AppendUvarint(nil, v) }

// Sections of a minimal valid route module: one type () -> (), one
// function exported as GET, one memory exported as "memory".
var (
	secType1   = sec(1, u(1), []byte{0x60, 0, 0})
	secFunc1   = sec(3, u(1), u(0))
	secMemory1 = sec(5, u(1), []byte{0, 1})
	secExports = sec(7, u(2), u(3), []byte("GET\x00\x00"), u(6), []byte("memory\x02\x00"))
	secCode1   = sec(10, u(1), u(2), []byte{0, 0x0b}) // no locals; end
)

// attackBodies is the 47-byte module of the first attack: a route that
// passes the load checks, whose code section declares 2^32-1 function
// bodies. wazero's decoder allocated 2^32-1 wasm.Code (~300 GiB) for it.
var attackBodies = wasmModule(secType1, secFunc1, secMemory1, secExports,
	sec(10, u(1<<32-1), bytes.Repeat([]byte{0}, 1)))

// attackLocals declares 2^32-1 i32 locals in its one function: wazero's
// decoder allocated 4 GiB for their types.
var attackLocals = wasmModule(secType1, secFunc1, secMemory1, secExports,
	sec(10, u(1), u(8), u(1), u(1<<32-1), []byte{0x7f, 0x0b}))

// hostileBinaries are the fixtures of testdata/hostile/wat that no WAT
// source can express, by file name (the runtime's TestHostileModules
// serves them): TestHostileBinaryFixtures checks the committed files
// against them (WASMROUTE_UPDATE_FIXTURES=1 writes them).
var hostileBinaries = map[string][]byte{
	"bodies.wasm": attackBodies,
	"locals.wasm": attackLocals,
}

func TestHostileBinaryFixtures(t *testing.T) {
	for name, want := range hostileBinaries {
		file := filepath.Join("..", "..", "testdata", "hostile", "wat", name)
		if os.Getenv("WASMROUTE_UPDATE_FIXTURES") != "" {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (%v): run WASMROUTE_UPDATE_FIXTURES=1 go test -run TestHostileBinaryFixtures ./internal/wasmbin", file, err)
		}
	}
}

// manyLocals is a module of funcs functions declaring locals i32 locals each.
func manyLocals(funcs, locals uint64) []byte {
	body := append(append(u(1), u(locals)...), 0x7f, 0x0b)
	var code []byte
	for range funcs {
		code = append(code, u(uint64(len(body)))...)
		code = append(code, body...)
	}
	return wasmModule(secType1, sec(3, u(funcs), bytes.Repeat([]byte{0}, int(funcs))), sec(10, u(funcs), code))
}

// wasmFixtures are the committed and built modules every check must accept.
func wasmFixtures(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "wat", "*.wasm"))
	hostile, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "hostile", "wat", "*.wasm"))
	files = append(files, hostile...)
	files = slices.DeleteFunc(files, func(f string) bool {
		switch filepath.Base(f) {
		case "invalid.wasm", "bigtable.wasm", "bodies.wasm", "locals.wasm": // refused by wazero or by us
			return true
		}
		return false
	})
	dir := demo(t)
	for _, route := range []string{"api/hello", "api/echo", "blog/[slug]"} {
		files = append(files, filepath.Join(dir, "app", route, "route.wasm"))
	}
	return files
}

// TestCheckModuleAccepts checks that Prepare accepts every
// fixture and Go guest, and that wazero compiles what capTables makes.
func TestCheckModuleAccepts(t *testing.T) {
	ctx := context.Background()
	rt := cachedRuntime(t)
	for _, file := range wasmFixtures(t) {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			bin, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			capped, err := Prepare(bin, defaultMaxMemory)
			if err != nil {
				t.Fatal(err)
			}
			cm, err := rt.CompileModule(ctx, capped)
			if err != nil {
				t.Fatalf("capped module: %v", err)
			}
			cm.Close(ctx)
		})
	}
}

// TestCheckModuleRefuses checks each check on a hand-built module.
func TestCheckModuleRefuses(t *testing.T) {
	ok := wasmModule(secType1, secFunc1, secMemory1, secExports, secCode1)
	if _, err := checkModule(ok); err != nil {
		t.Fatalf("the minimal module: %v", err)
	}
	code := func(locals ...byte) []byte { // one body: its locals, then end
		body := append(slices.Clone(locals), 0x0b)
		return sec(10, u(1), u(uint64(len(body))), body)
	}
	tests := []struct {
		name string
		bin  []byte
		want string
	}{
		{"2^32-1 bodies", attackBodies, "code section declares 4294967295 function bodies in 1 bytes"},
		{"2^32-1 locals", attackLocals, "code section: function 0 declares at least 4294967295 locals, parameters included; the limit is 50000"},
		{"locals in two declarations", wasmModule(secType1, secFunc1, code(2, 0xc0, 0x84, 0x3d, 0x7f, 1, 0x7e)),
			"code section: function 0 declares at least 1000000 locals, parameters included; the limit is 50000"},
		{"locals of all functions", manyLocals(201, 50_000),
			"code section: the functions up to 200 declare 10050000 locals together, parameters included; the limit is 10000000"},
		{"declarations past the body", wasmModule(secType1, secFunc1, code(0x80, 0x80, 0x04, 0x7f)),
			"code section: function 0 declares 65536 local declarations in 2 bytes"},
		{"body past the section", wasmModule(secType1, secFunc1, sec(10, u(1), u(100), []byte{0, 0x0b})),
			"code section: function 0's body declares 100 bytes, 2 are left"},
		{"bodies and functions differ", wasmModule(secType1, secFunc1, sec(10, u(0))),
			"code section declares 0 function bodies for 1 functions"},
		{"no code section", wasmModule(secType1, secFunc1), "declares 1 functions and no code section"},
		{"types", wasmModule(sec(1, u(1<<32-1))), "type section declares 4294967295 types in 0 bytes"},
		{"types over the limit", wasmModule(sec(1, u(1_000_001), make([]byte, 3_000_003))),
			"type section declares 1000001 types, more than the limit of 1000000"},
		{"parameters", wasmModule(sec(1, u(1), []byte{0x60}, u(1<<31), []byte{0})), "type section: type 0 declares 2147483648 parameters in 1 bytes"},
		{"parameters over the limit", wasmModule(sec(1, u(1), []byte{0x60}, u(1001), bytes.Repeat([]byte{0x7f}, 1001), u(0))),
			"type section: type 0 declares 1001 parameters, more than the limit of 1000"},
		{"not a function type", wasmModule(sec(1, u(1), []byte{0x5f, 0, 0})), "type section: type 0 is not a function type (0x5f)"},
		{"value type", wasmModule(sec(1, u(1), []byte{0x60, 1, 0x40, 0})), "type section: type 0 has unknown value type 0x40"},
		{"imports", wasmModule(sec(2, u(1<<32-1), []byte{0, 0, 0, 0})), "import section declares 4294967295 imports in 4 bytes"},
		{"import name", wasmModule(sec(2, u(1), u(1<<32-1), []byte{0, 0, 0, 0})), "import section: import 0's module of 4294967295 bytes in 4"},
		{"import type", wasmModule(sec(2, u(1), u(1), []byte("e"), u(1), []byte("f"), []byte{0, 0})), "import section: import 0 has no type 0"},
		{"functions", wasmModule(secType1, sec(3, u(1<<32-1), []byte{0})), "function section declares 4294967295 functions in 1 bytes"},
		{"tables", wasmModule(sec(4, u(1<<32-1), []byte{0x70, 0, 0})), "table section declares 4294967295 tables in 3 bytes"},
		{"table size", wasmModule(sec(4, u(1), []byte{0x70, 0}, u(10_000_001))), "table section: table 0 starts with 10000001 entries, more than the limit of 10000000"},
		{"table limits", wasmModule(sec(4, u(1), []byte{0x70, 1}, u(5), u(4))), "table section: table 0's maximum 4 is below its minimum 5"},
		{"64-bit table", wasmModule(sec(4, u(1), []byte{0x70, 4, 0})), "table section: table 0 has unknown limits flags 0x04"},
		{"two memories", wasmModule(sec(5, u(2), []byte{0, 1, 0, 1})), "memory section declares 2 memories, more than the limit of 1"},
		{"globals", wasmModule(sec(6, u(1<<32-1), []byte{0x7f, 0, 0x0b})), "global section declares 4294967295 globals in 3 bytes"},
		{"exports", wasmModule(sec(7, u(1<<32-1), []byte{0, 0, 0})), "export section declares 4294967295 exports in 3 bytes"},
		{"element segments", wasmModule(sec(9, u(1<<32-1), []byte{1, 0})), "element section declares 4294967295 element segments in 2 bytes"},
		{"element entries", wasmModule(sec(9, u(1), []byte{1, 0}, u(1<<32-1))), "element section: element segment 0 declares 4294967295 entries in 0 bytes"},
		{"data segments", wasmModule(sec(11, u(1<<32-1), []byte{1, 0})), "data section declares 4294967295 data segments in 2 bytes"},
		{"data bytes", wasmModule(sec(11, u(1), []byte{1}, u(1<<32-1))), "data section: data segment 0 declares 4294967295 bytes in 0 bytes"},
		{"data count", wasmModule(sec(12, u(1<<32-1))), "data count section declares 4294967295 data segments, more than the limit of 100000"},
		{"function names", wasmModule(sec(0, u(4), []byte("name"), []byte{1}, u(5), u(1<<32-1))),
			"custom section: name subsection 1 declares 4294967295 function names in 0 bytes"},
		{"local names", wasmModule(sec(0, u(4), []byte("name"), []byte{2}, u(7), u(1), u(0), u(1<<32-1))),
			"custom section: name subsection 2: a function declares 4294967295 local names in 0 bytes"},
		{"name subsection past the end", wasmModule(sec(0, u(4), []byte("name"), []byte{1}, u(100), u(0))),
			"custom section: name subsection 1 declares 100 bytes, 1 are left"},
		{"custom section name", wasmModule(sec(0, u(1<<32-1))), "custom section: custom section name of 4294967295 bytes in 0"},
		{"section past the end", append(wasmModule(), 1, 0xff, 0xff, 0xff, 0xff, 0x0f), "section 1 declares 4294967295 bytes, 0 are left"},
		{"sections out of order", wasmModule(secType1, secMemory1, secFunc1), "function section out of order or repeated"},
		{"unknown section", wasmModule(sec(14)), "unknown section 14"},
		{"tags", wasmModule(sec(13, u(0))), "tag section: exception handling is not supported"},
		{"bytes left over", wasmModule(sec(1, u(0), []byte{0})), "type section: 1 bytes after its last entry"},
		{"too large", wasmModule(sec(0, u(1), []byte("x"), make([]byte, MaxModuleSize-14))), "is 67108865 bytes, more than the limit of 64MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkModule(tt.bin)
			if err == nil || err.Error() != tt.want {
				t.Errorf("checkModule: %v\nwant %q", err, tt.want)
			}
		})
	}
}

// TestPrepareModule checks the bounds Prepare sets by maxMemory on
// what wazero allocates for each instance outside linear memory.
func TestPrepareModule(t *testing.T) {
	globals := func(n int) []byte {
		return wasmModule(sec(6, u(uint64(n)), bytes.Repeat([]byte{0x7f, 0, 0x41, 0, 0x0b}, n)))
	}
	elements := func(n int) []byte { // one passive segment of n references to function 0
		return wasmModule(secType1, secFunc1, sec(9, u(1), []byte{1, 0}, u(uint64(n)), make([]byte, n)), secCode1)
	}
	table := func(min int) []byte { return wasmModule(sec(4, u(1), []byte{0x70, 0}, u(uint64(min)))) }
	tests := []struct {
		name string
		bin  []byte
		want string
	}{
		{"globals at the limit", globals(1024), ""},
		{"globals past the limit", globals(1025), "it declares 1025 globals, more than the 1024 its maxMemory of 1MiB allows (one per KiB)"},
		{"elements at the limit", elements(4096), ""},
		{"elements past the limit", elements(4097), "its element segments hold 4097 entries, more than the 4096 its maxMemory of 1MiB allows (one per 256 bytes)"},
		{"table at the limit", table(16384), ""},
		{"table past the limit", table(16385), "table 0 starts with 16385 entries, more than its share of 16384 (16384 in all, for 1 tables)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(tt.bin, 1<<20)
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
				t.Errorf("Prepare: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCapTables checks that every table gets a maximum within its share,
// and that a table starting past its share is refused.
func TestCapTables(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	tables := func(limits ...[]byte) []byte {
		return wasmModule(sec(4, u(uint64(len(limits))), bytes.Join(limits, nil)))
	}
	tests := []struct {
		name string
		bin  []byte
		max  []uint32 // each table's maximum after capTables
		err  string
	}{
		{"no maximum", tables([]byte{0x70, 0, 10}), []uint32{1000}, ""},
		{"a larger maximum", tables([]byte{0x70, 1, 10, 0xff, 0xff, 0xff, 0xff, 0x0f}), []uint32{1000}, ""},
		{"a smaller maximum", tables([]byte{0x70, 1, 10, 20}), []uint32{20}, ""},
		{"two tables", tables([]byte{0x70, 0, 0}, []byte{0x6f, 1, 0, 0xe8, 0x07}), []uint32{500, 500}, ""},
		{"three tables", tables([]byte{0x70, 0, 0}, []byte{0x70, 0, 0}, []byte{0x70, 0, 0}), []uint32{333, 333, 333}, ""},
		{"at the share", tables([]byte{0x70, 0, 0xe8, 0x07}), []uint32{1000}, ""},
		{"past the share", tables([]byte{0x70, 0, 0xe9, 0x07}), nil, "table 0 starts with 1001 entries, more than its share of 1000 (1000 in all, for 1 tables)"},
		{"past the share of two", tables([]byte{0x70, 0, 0}, []byte{0x70, 0, 0xf5, 0x03}), nil, "table 1 starts with 501 entries, more than its share of 500 (1000 in all, for 2 tables)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := checkModule(tt.bin); err != nil {
				t.Fatal(err)
			}
			out, err := capTables(tt.bin, 1000)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("capTables: %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkModule(out); err != nil {
				t.Fatalf("the capped module: %v", err)
			}
			// Read the maxima back.
			secs, _ := splitSections(out)
			s := &reader{b: secs[0].body}
			var got []uint32
			for n := s.count(); n > 0; n-- {
				s.byte()
				_, max, hasMax := s.limitsOf(named("table"), 1)
				if !hasMax {
					t.Fatal("a table without a maximum")
				}
				got = append(got, uint32(max))
			}
			if !slices.Equal(got, tt.max) {
				t.Errorf("maxima %v, want %v", got, tt.max)
			}
			if _, err := rt.CompileModule(ctx, out); err != nil && !strings.Contains(err.Error(), "multiple tables") {
				t.Errorf("wazero refuses the capped module: %v", err)
			}
		})
	}
	if out, err := capTables(wasmModule(secType1), 1000); err != nil || len(out) != len(wasmModule(secType1)) {
		t.Errorf("a module without tables: %v", err)
	}
}

// TestCompileMemory measures wazero's compile memory for modules of many
// locals and for the Go guests, by bytes of code (WASMROUTE_MEASURE=1 go
// test -run TestCompileMemory -v ./internal/wasmbin; one case per run for a true
// peak: WASMROUTE_MEASURE=funcs,locals).
func TestCompileMemory(t *testing.T) {
	spec := os.Getenv("WASMROUTE_MEASURE")
	if spec == "" {
		t.Skip("WASMROUTE_MEASURE unset")
	}
	var funcs, locals uint64
	var bin []byte
	if _, err := fmt.Sscanf(spec, "%d,%d", &funcs, &locals); err == nil {
		bin = manyLocals(funcs, locals)
	} else {
		var err error
		if bin, err = os.ReadFile(spec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := checkModule(bin); err != nil {
		t.Logf("checkModule: %v", err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	goruntime.GC()
	var before goruntime.MemStats
	goruntime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	start := time.Now()
	cm, err := rt.CompileModule(ctx, bin)
	close(done)
	if err != nil {
		t.Logf("compile: %v", err)
	} else {
		defer cm.Close(ctx)
	}
	var after goruntime.MemStats
	goruntime.ReadMemStats(&after)
	status, _ := os.ReadFile("/proc/self/status")
	hwm := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	t.Logf("%s: %d bytes, compiled in %v; heap peak +%d MiB, allocated %d MiB in all; peak RSS %s kB",
		spec, len(bin), time.Since(start).Round(time.Millisecond), (peak.Load()-before.HeapAlloc)>>20,
		(after.TotalAlloc-before.TotalAlloc)>>20, hwm[1])
}

// BenchmarkCheckModule checks the demo's Go hello (3 MiB), as compile
// does before anything else.
func BenchmarkCheckModule(b *testing.B) {
	bin, err := os.ReadFile(filepath.Join(demo(b), "app", "api", "hello", "route.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(bin)))
	for b.Loop() {
		if _, err := Prepare(bin, defaultMaxMemory); err != nil {
			b.Fatal(err)
		}
	}
}
