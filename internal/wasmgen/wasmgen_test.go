package wasmgen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
)

// validClasses are the classes whose templates are valid modules.
var validClasses = []string{"calltree", "mutual", "indirect", "loop", "overflow", "table", "memory", "globals",
	"nesting", "brtable", "hostcall"}

// TestValidGuestsCompile compiles every valid template, in every variant
// the seeds reach, with wazero's compiler (as wasmroute does), and checks
// the route ABI's exports: memory and () -> () methods.
func TestValidGuestsCompile(t *testing.T) {
	seeds := 16
	if testing.Short() {
		seeds = 4
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer r.Close(ctx)
	var g Generator
	for _, class := range validClasses {
		t.Run(class, func(t *testing.T) {
			for seed := range uint64(seeds) {
				guest := g.Guest(class, seed)
				if !guest.Valid {
					t.Fatalf("seed %d (%s): not marked valid", seed, guest.What)
				}
				if guest.Heavy {
					continue // minutes of compiling: the adversarial suite's business
				}
				start := time.Now()
				cm, err := r.CompileModule(ctx, guest.Bin)
				if err != nil {
					t.Errorf("seed %d (%s): %v", seed, guest.What, err)
					continue
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Logf("seed %d (%s): compiled in %v", seed, guest.What, d)
				}
				if _, ok := cm.ExportedMemories()["memory"]; !ok {
					t.Errorf("seed %d (%s): no memory export", seed, guest.What)
				}
				fns := cm.ExportedFunctions()
				for _, m := range guest.Methods {
					f, ok := fns[m]
					if !ok || len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0 {
						t.Errorf("seed %d (%s): method %s not exported as () -> ()", seed, guest.What, m)
					}
				}
				cm.Close(ctx)
			}
		})
	}
}

// TestRunTemplates runs loops and overflows in wazero with sched_yield
// stubbed, to check that each attacks as documented: a loop runs until
// wazero's termination check stops it, an overflow traps. The recursive
// classes are left out: wazero checks for termination only at loop
// back-edges, so a call tree without a loop runs for ever in this process.
func TestRunTemplates(t *testing.T) {
	var g Generator
	for _, tt := range []struct {
		class string
		want  string // "stopped" or "trap"
	}{
		{"loop", "stopped"},
		{"overflow", "trap"},
	} {
		t.Run(tt.class, func(t *testing.T) {
			for seed := range uint64(6) {
				guest := g.Guest(tt.class, seed)
				if got := runGuest(t, guest); got != tt.want {
					t.Errorf("seed %d (%s): %s, want %s", seed, guest.What, got, tt.want)
				}
			}
		})
	}
}

// runGuest instantiates guest (running its start function) and calls its
// _initialize and first method, stopping it after a second.
func runGuest(t *testing.T, guest Guest) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(true))
	defer r.Close(context.Background())
	if _, err := r.NewHostModuleBuilder(wasi).NewFunctionBuilder().
		WithFunc(func() int32 { return 0 }).Export("sched_yield").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, guest.Bin, wazero.NewModuleConfig().WithStartFunctions())
	if err == nil {
		for _, name := range []string{"wasmroute.start", "_initialize", guest.Methods[0]} {
			if f := mod.ExportedFunction(name); f != nil {
				if _, err = f.Call(ctx); err != nil {
					break
				}
			}
		}
		if mod.ExportedFunction("_initialize") == nil && guest.Methods[0] == "GET" && err == nil {
			// the attack is the start function, which instantiation skipped:
			// run it the ordinary way
			_, err = r.InstantiateWithConfig(ctx, guest.Bin, wazero.NewModuleConfig().WithName("again"))
		}
	}
	switch {
	case err == nil:
		return "returned"
	case strings.Contains(err.Error(), "stack overflow"):
		return "trap"
	case ctx.Err() != nil:
		return "stopped"
	default:
		return "trap"
	}
}

func TestDeterministic(t *testing.T) {
	var g Generator
	sum := func(guests []Guest) (out []string) {
		for _, x := range guests {
			out = append(out, fmt.Sprintf("%s %d %s %x", x.Class, x.Seed, x.What, sha256.Sum256(x.Bin)))
		}
		return out
	}
	if diff := cmp.Diff(sum(g.Generate(7, 2*len(Classes))), sum(g.Generate(7, 2*len(Classes)))); diff != "" {
		t.Errorf("Generate differs between runs:\n%s", diff)
	}
}

// TestMalformed checks that the binary classes damage the module. It does
// not hand them to wazero: some kill the process that decodes them (a table
// section counting 2^32-1 tables makes wazero v1.12.0 allocate 128 GiB and
// die with "fatal error: runtime: out of memory"), which is why the
// adversarial suite in cmd/wasmroute serves them from a child process.
func TestMalformed(t *testing.T) {
	var g Generator
	for _, class := range []string{"hugecount", "leb"} {
		for seed := range uint64(40) {
			guest := g.Guest(class, seed)
			if guest.Valid {
				t.Errorf("%s seed %d (%s): marked valid", class, seed, guest.What)
			}
			if bytes.Equal(guest.Bin, full(rand.New(rand.NewPCG(seed, 0)))) || len(guest.Bin) < 8 {
				t.Errorf("%s seed %d (%s): not damaged", class, seed, guest.What)
			}
		}
	}
}

func TestSectionsRoundTrip(t *testing.T) {
	bin := full(rand.New(rand.NewPCG(1, 2)))
	secs, ok := Sections(bin)
	if !ok {
		t.Fatal("full module did not split")
	}
	var ids []byte
	for _, s := range secs {
		ids = append(ids, s.ID)
	}
	want := []byte{SecType, SecImport, SecFunction, SecTable, SecMemory, SecGlobal, SecExport, SecElement,
		SecDataCount, SecCode, SecData, SecCustom}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("section ids (-want +got):\n%s", diff)
	}
	if !bytes.Equal(Join(secs), bin) {
		t.Error("Join(Sections(bin)) != bin")
	}
	if _, ok := Sections(bin[:len(bin)-1]); ok {
		t.Error("a truncated module split cleanly")
	}
}

func TestMutators(t *testing.T) {
	bases := []string{"hello", "loop", "counter"}
	var g Generator
	for _, name := range bases {
		bin, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wat", name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		g.Bases = append(g.Bases, Base{Name: name, Bin: bin})
	}
	for _, name := range MutatorNames {
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range 50 {
			base := g.Bases[i%len(g.Bases)].Bin
			out, what := Mutators[name](rng, base)
			if bytes.Equal(out, base) && name != "swap" {
				t.Errorf("%s: %s left the module unchanged", name, what)
			}
		}
	}
	for seed := range uint64(20) {
		if guest := g.Guest("mutate", seed); len(guest.Bin) == 0 || guest.What == "" {
			t.Errorf("mutate seed %d: empty", seed)
		}
	}
}

func TestLEB(t *testing.T) {
	for _, tt := range []struct {
		got, want []byte
	}{
		{U32(0), []byte{0}},
		{U32(624485), []byte{0xe5, 0x8e, 0x26}},
		{U32(0xffffffff), []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
		{S32(-1), []byte{0x7f}},
		{S32(-123456), []byte{0xc0, 0xbb, 0x78}},
		{S32(64), []byte{0xc0, 0x00}},
		{S64(-1 << 63), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}},
		{Overlong(3, 5), []byte{0x83, 0x80, 0x80, 0x80, 0x00}},
	} {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("got % x, want % x", tt.got, tt.want)
		}
	}
	if v, n := binary.Uvarint(Overlong(300, 5)); v != 300 || n != 5 {
		t.Errorf("Overlong(300, 5) reads %d in %d bytes", v, n)
	}
}
