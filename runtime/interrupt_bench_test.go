package runtime

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// BenchmarkInterrupt measures what stopping runaway guests costs: wazero's
// termination checks (RuntimeConfig.WithCloseOnContextDone) on a call and on
// a hot loop, and the ways of arming them per request, side by side.
//
//   - off: no checks; a runaway guest could never be stopped.
//   - on: checks compiled in; wazero (v1.12.0) starts a goroutine per call
//     to watch the call's context, whatever the context.
//   - on+deadline: what serve does per request: a deadline context, and an
//     AfterFunc (that would set the connection deadlines) and its stop.
func BenchmarkInterrupt(b *testing.B) {
	bin, err := os.ReadFile(filepath.Join("..", "testdata", "wat", "spin.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, checks := range []bool{false, true} {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(checks))
		defer rt.Close(ctx)
		mod, err := rt.Instantiate(ctx, bin)
		if err != nil {
			b.Fatal(err)
		}
		noop, spin := mod.ExportedFunction("noop"), mod.ExportedFunction("spin")
		modes := []string{"off"}
		if checks {
			modes = []string{"on", "on+deadline"}
		}
		for _, mode := range modes {
			for _, fn := range []struct {
				name string
				f    interface {
					CallWithStack(context.Context, []uint64) error
				}
			}{{"call", noop}, {"loop1e6", spin}} {
				b.Run(fn.name+"/"+mode, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						switch mode {
						case "on+deadline":
							dctx, cancel := context.WithTimeout(ctx, time.Minute)
							stop := context.AfterFunc(dctx, func() {})
							err = fn.f.CallWithStack(dctx, nil)
							stop()
							cancel()
						default:
							err = fn.f.CallWithStack(ctx, nil)
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
