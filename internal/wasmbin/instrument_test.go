package wasmbin

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"

	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmroute/wasmroute/internal/wasmgen"
)

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

// TestInstrumentRenumber instruments renumber.wat, which does not import
// sched_yield, and checks that every export answers as before: the
// functions moved up by one everywhere they are named. It does so with a
// stack budget of 4 KiB, which 100 calls of each would pass if an exit
// forgot to take its frame off, and with the name section wat2wasm
// --debug-names writes, whose function names must follow.
func TestInstrumentRenumber(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatal("wat2wasm (Debian package wabt) is needed; .ci/run installs it")
	}
	file := filepath.Join(t.TempDir(), "renumber.wasm")
	if out, err := exec.Command(wat2wasm, "--debug-names", filepath.Join("..", "..", "testdata", "wat", "renumber.wat"), "-o", file).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := Instrument(bin, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !ins.AddedYield || !ins.MutatesTables || ins.Calls != 7 {
		t.Errorf("added sched_yield %v, mutates tables %v, %d functions with calls; want true, true (table.set), 7",
			ins.AddedYield, ins.MutatesTables, ins.Calls)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		args []uint64
	}{
		{"apply", []uint64{0, 5}}, {"apply", []uint64{1, 5}}, {"apply", []uint64{2, 5}},
		{"direct", []uint64{7}}, {"viaGlobal", []uint64{4}}, {"started", nil},
		{"multi", []uint64{10}}, {"early", []uint64{0}}, {"early", []uint64{3}}, {"fib", []uint64{15}},
	}
	results := func(bin []byte) (got []string, names []string) {
		mod, err := rt.InstantiateWithConfig(ctx, bin, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		for range 100 {
			got = got[:0]
			for _, c := range calls {
				res, err := mod.ExportedFunction(c.name).Call(ctx, c.args...)
				got = append(got, fmt.Sprint(c.name, c.args, res, err))
			}
		}
		for _, name := range []string{"apply", "fib", "early"} {
			names = append(names, mod.ExportedFunction(name).Definition().DebugName())
		}
		return got, names
	}
	want, wantNames := results(bin)
	got, gotNames := results(ins.Bin)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("instrumented (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	t.Logf("%v", want)
}

// TestInstrumentStack checks the stack budget: recursion traps past it,
// and stays within it otherwise.
func TestInstrumentStack(t *testing.T) {
	bin := recursionModule(0, 0, false)
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	ins, err := Instrument(bin, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, ins.Bin)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	down := mod.ExportedFunction("down")
	// Within the budget: returns, many times over.
	for range 100 {
		if _, err := down.Call(ctx, 100); err != nil {
			t.Fatalf("100 frames of %d bytes in 64 KiB: %v", frameOverhead+localBytes+2*valueBytes, err)
		}
	}
	if _, err := down.Call(ctx, 1<<30); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("unbounded recursion: %v, want the unreachable trap", err)
	}
}

// recursionModule makes a module exporting down(limit i32) -> i32, which
// calls itself to depth limit with, live across each call, locals more
// i64 locals and height more values on the operand stack; depth() is the
// deepest it went. With yield it imports sched_yield.
func recursionModule(locals, height int, yield bool) []byte {
	var b []byte
	sec := func(id byte, body []byte) {
		b = append(b, id)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	b = append(b, "\x00asm\x01\x00\x00\x00"...)
	// Types: 0 (i32) -> i32, 1 () -> i32.
	sec(1, []byte{2, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 1, 0x7f})
	imports := 0
	if yield {
		imp := []byte{1}
		imp = appendName(imp, wasiModule)
		imp = appendName(imp, "sched_yield")
		sec(2, append(imp, 0, 1))
		imports = 1
	}
	sec(3, []byte{2, 0, 1})
	sec(5, []byte{1, 0, 1})
	sec(6, []byte{1, 0x7f, 1, 0x41, 0, 0x0b}) // $depth
	var ex []byte
	ex = append(ex, 3)
	ex = append(appendName(ex, "down"), 0, byte(imports))
	ex = append(appendName(ex, "depth"), 0, byte(imports+1))
	ex = append(appendName(ex, "memory"), 2, 0)
	sec(7, ex)
	// down: depth = max(depth, limit); if limit == 0 return 0;
	// push height values, set locals, call down(limit-1), add them all.
	var c []byte
	if locals > 0 {
		c = append(c, 1)
		c = binary.AppendUvarint(c, uint64(locals))
		c = append(c, 0x7e)
	} else {
		c = append(c, 0)
	}
	c = append(c, 0x20, 0, 0x24, 0) // global.set $depth (local.get 0)
	c = append(c, 0x20, 0, 0x45, 0x04, 0x40, 0x41, 0, 0x0f, 0x0b)
	for i := range height {
		c = append(c, 0x20, 0, 0x41)
		c = appendSLEB(c, int64(i+1))
		c = append(c, 0x6c) // i32.mul: a value computed, not a constant
	}
	for i := range locals {
		c = append(c, 0x20, 0, 0xac, 0x42) // i64.extend_i32_s, i64.const
		c = appendSLEB(c, int64(i+3))
		c = append(c, 0x7e, 0x21) // i64.mul, local.set
		c = binary.AppendUvarint(c, uint64(i+1))
	}
	c = append(c, 0x20, 0, 0x41, 1, 0x6b, 0x10)
	c = binary.AppendUvarint(c, uint64(imports))
	for i := range locals {
		c = append(c, 0x20)
		c = binary.AppendUvarint(c, uint64(i+1))
		c = append(c, 0xa7, 0x6a) // i32.wrap_i64, i32.add
	}
	for range height {
		c = append(c, 0x6a)
	}
	c = append(c, 0x0b)
	g := []byte{0x23, 0, 0x0b}
	code := []byte{2}
	code = binary.AppendUvarint(code, uint64(len(c)))
	code = append(code, c...)
	code = binary.AppendUvarint(code, uint64(len(g)+1))
	code = append(code, 0)
	code = append(code, g...)
	sec(10, code)
	return b
}

// TestFrameCost compares the frame cost Instrument estimates with what
// wazero really uses, for frames of few and many locals and of short and
// tall operand stacks: recursing until wazero's stack overflows gives the
// real bytes a frame (its stack ends at ~84 MB: doubled from 10 KiB until
// past its 50 MB ceiling), and the instrumented module, recursing to an 8
// MiB budget, the Go heap it allocates.
func TestFrameCost(t *testing.T) {
	if testing.Short() {
		t.Skip("recursion to ~84 MB of stack")
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		t.Fatal(err)
	}
	// The stack's length when wazero refuses to grow it again.
	stackLen := uint64(10240)
	for stackLen <= 50_000_000 {
		stackLen = 2*stackLen + 16
	}
	const budget = 8 << 20
	for _, shape := range []struct{ locals, height int }{{0, 0}, {4, 0}, {32, 0}, {200, 0}, {0, 32}, {0, 200}, {32, 32}} {
		t.Run(fmt.Sprintf("locals %d height %d", shape.locals, shape.height), func(t *testing.T) {
			bin := recursionModule(shape.locals, shape.height, true)
			depth := func(bin []byte) (uint64, uint64, error) {
				mod, err := rt.Instantiate(ctx, bin)
				if err != nil {
					t.Fatal(err)
				}
				defer mod.Close(ctx)
				var before, after goruntime.MemStats
				goruntime.GC()
				goruntime.ReadMemStats(&before)
				_, err = mod.ExportedFunction("down").Call(ctx, 1<<31-1)
				goruntime.ReadMemStats(&after)
				res, _ := mod.ExportedFunction("depth").Call(ctx)
				return 1<<31 - 1 - res[0], after.TotalAlloc - before.TotalAlloc, err
			}
			realDepth, realAlloc, err := depth(bin)
			if err == nil {
				t.Fatal("unbounded recursion returned")
			}
			ins, err := Instrument(bin, budget)
			if err != nil {
				t.Fatal(err)
			}
			insDepth, insAlloc, err := depth(ins.Bin)
			if err == nil {
				t.Fatal("unbounded recursion returned")
			}
			real := float64(stackLen) / float64(realDepth)
			est := float64(budget) / float64(insDepth)
			t.Logf("real %.0f B/frame (depth %d, %.0f MiB allocated); estimated %.0f B/frame (depth %d at 8 MiB, %.1f MiB allocated, %.1f MiB of real stack): ratio %.2f",
				real, realDepth, float64(realAlloc)/(1<<20), est, insDepth, float64(insAlloc)/(1<<20), real*float64(insDepth)/(1<<20), est/real)
			if real*float64(insDepth) > 1.25*budget {
				t.Errorf("%d frames at the budget use %.1f MiB of real stack, over 1.25 × the 8 MiB budget", insDepth, real*float64(insDepth)/(1<<20))
			}
			if insAlloc > 4*budget {
				t.Errorf("recursion to the budget allocated %.1f MiB, want at most 4 × the budget", float64(insAlloc)/(1<<20))
			}
		})
	}
}

// TestInstrumentRefused checks that a module with an instruction the
// instrumenter does not know (here the exception proposal's try) is
// refused: nothing would bound it. The error names the reason (the
// runtime's TestLoadRefusesUninstrumentable: the route does not load).
func TestInstrumentRefused(t *testing.T) {
	var b []byte
	sec := func(id byte, body ...byte) {
		b = append(b, id, byte(len(body)))
		b = append(b, body...)
	}
	b = append(b, "\x00asm\x01\x00\x00\x00"...)
	sec(1, 1, 0x60, 0, 0)
	sec(3, 1, 0)
	sec(5, 1, 0, 1)
	sec(7, 2, 3, 'G', 'E', 'T', 0, 0, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0)
	sec(10, 1, 5, 0, 0x06, 0x40, 0x0b, 0x0b) // try end end
	if _, err := Instrument(b, 1<<20); !errors.Is(err, errNoInstrument) || !strings.Contains(err.Error(), "opcode 0x06") {
		t.Errorf("Instrument: %v, want errNoInstrument naming opcode 0x06", err)
	}
}

// TestInstrumentStructureBounds checks that a body nested deeper than
// maxNesting, or with a br_table of more than maxBrTable targets, is
// refused before wazero's compiler spends memory on it, and that one at
// the bounds is instrumented and compiles.
func TestInstrumentStructureBounds(t *testing.T) {
	module := func(code []byte) []byte {
		m := &wasmgen.Module{Memories: []wasmgen.Limits{{Min: 1}}}
		m.Export("GET", wasmgen.KindFunc, m.Func(nil, nil, nil, code))
		m.Export("memory", wasmgen.KindMemory, 0)
		return m.Encode()
	}
	nested := func(op byte, depth int) []byte {
		code := bytes.Repeat([]byte{op, 0x40}, depth) // block or loop
		return append(code, bytes.Repeat([]byte{0x0b}, depth)...)
	}
	brTable := func(targets int) []byte {
		return wasmgen.Block(wasmgen.I32Const(0), wasmgen.BrTable(make([]uint32, targets), 0))
	}
	rt := wazero.NewRuntime(context.Background())
	defer rt.Close(context.Background())
	if _, err := wasi_snapshot_preview1.Instantiate(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		code []byte
		want string // "": accepted
	}{
		{"nesting at the bound", nested(0x02, maxNesting), ""},
		{"nesting past it", nested(0x02, maxNesting+1), "function body 0: blocks nested more than 2000 deep"},
		{"loops at the bound", nested(0x03, maxLoopNesting), ""},
		{"loops past it", nested(0x03, maxLoopNesting+1), "function body 0: loops nested more than 100 deep"},
		{"br_table at the bound", brTable(maxBrTable), ""},
		{"br_table past it", brTable(maxBrTable + 1), "function body 0: a br_table of 65521 targets, more than 65520"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ins, err := Instrument(module(tt.code), 1<<20)
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Errorf("Instrument: %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rt.CompileModule(context.Background(), ins.Bin); err != nil {
				t.Errorf("instrumented module: %v", err)
			}
		})
	}
}
