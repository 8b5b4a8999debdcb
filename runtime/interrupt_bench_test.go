package runtime

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmroute/wasmroute/host"
	"github.com/wasmroute/wasmroute/internal/wasmbin"
)

// BenchmarkInterrupt measures what stopping runaway guests costs, on a call,
// on a hot loop and on recursion (fib25: 242,785 calls), side by side:
//
//   - off: nothing; a runaway guest could never be stopped.
//   - instrumented: what every module gets (wasmbin.Instrument): a countdown at
//     each loop head and function entry with calls, a call into Go every
//     10,000 of them.
//   - checks: wazero's termination checks (WithCloseOnContextDone), for
//     comparison: a call into Go at every back-edge, and a goroutine per
//     call to watch the call's context, whatever the context.
//   - checks+deadline: the same with what serve arms per request: a
//     deadline context and an AfterFunc (that would set the connection
//     deadlines) and its stop.
func BenchmarkInterrupt(b *testing.B) {
	bin, err := os.ReadFile(filepath.Join("..", "testdata", "wat", "spin.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	ins, err := wasmbin.Instrument(bin, 8<<20)
	if err != nil || ins.Loops != 1 {
		b.Fatalf("instrument: %v, %v", ins, err)
	}
	instrumented := ins.Bin
	ctx := context.Background()
	for _, variant := range []struct {
		bin    []byte
		checks bool
		modes  []string
	}{
		{bin, false, []string{"off"}},
		{instrumented, false, []string{"instrumented"}},
		{bin, true, []string{"checks", "checks+deadline"}},
	} {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(variant.checks))
		defer rt.Close(ctx)
		if _, err := host.InstantiateWASI(ctx, rt); err != nil {
			b.Fatal(err)
		}
		mod, err := rt.Instantiate(ctx, variant.bin)
		if err != nil {
			b.Fatal(err)
		}
		noop, spin, fib := mod.ExportedFunction("noop"), mod.ExportedFunction("spin"), mod.ExportedFunction("fib25")
		for _, mode := range variant.modes {
			for _, fn := range []struct {
				name string
				f    interface {
					CallWithStack(context.Context, []uint64) error
				}
			}{{"call", noop}, {"loop1e6", spin}, {"fib25", fib}} {
				b.Run(fn.name+"/"+mode, func(b *testing.B) {
					b.ReportAllocs()
					stack := make([]uint64, 1) // fib25's result
					for b.Loop() {
						switch mode {
						case "checks+deadline":
							dctx, cancel := context.WithTimeout(ctx, time.Minute)
							stop := context.AfterFunc(dctx, func() {})
							err = fn.f.CallWithStack(dctx, stack)
							stop()
							cancel()
						default:
							err = fn.f.CallWithStack(ctx, stack)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
