package host

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// benchExchange returns a guest, a context with an Exchange whose response
// is discarded, and "accept" at 0 and 64 bytes of body at 0x100 in memory.
func benchExchange(b *testing.B) (api.Module, context.Context, *httptest.ResponseRecorder, *Exchange) {
	mod := newGuest(b)
	reset(mod, region{0, []byte("accept")}, region{0x100, []byte(strings.Repeat("x", 64))})
	r, params := testRequest()
	rec := httptest.NewRecorder()
	rec.Body = nil // discard
	e := NewExchange(rec, r, params)
	return mod, WithExchange(context.Background(), e), rec, e
}

// BenchmarkBodyWrite writes 64 bytes from guest memory to the response,
// against writing them natively.
func BenchmarkBodyWrite(b *testing.B) {
	mod, ctx, rec, _ := benchExchange(b)
	body := []byte(strings.Repeat("x", 64))
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec.Write(body)
		}
	})
	b.Run("host", func(b *testing.B) {
		stack := make([]uint64, 2)
		b.ReportAllocs()
		for b.Loop() {
			stack[0], stack[1] = 0x100, 64
			bodyWriteFn(ctx, mod, stack)
		}
	})
}

// BenchmarkHeaderValues gets the two values of "Accept": natively, through
// header_values for the name asked last (the guest's second call), and for a
// new name each time.
func BenchmarkHeaderValues(b *testing.B) {
	mod, ctx, _, e := benchExchange(b)
	reset(mod, region{0, []byte("acceptx-empty")})
	b.Run("native", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.r.Header.Values("Accept")
		}
	})
	b.Run("host/cached", func(b *testing.B) {
		stack := make([]uint64, 4)
		b.ReportAllocs()
		for b.Loop() {
			stack[0], stack[1], stack[2], stack[3] = 0, 6, 0x200, 0x100
			headerValuesFn(ctx, mod, stack)
		}
	})
	b.Run("host/uncached", func(b *testing.B) {
		stack := make([]uint64, 4)
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i ^= 1
			stack[0], stack[1], stack[2], stack[3] = 6*i, 6+i, 0x200, 0x100 // "accept" and "x-empty" in turn
			headerValuesFn(ctx, mod, stack)
		}
	})
}

// BenchmarkMethod is the floor of every getter: find the Exchange, check the
// buffer, copy.
func BenchmarkMethod(b *testing.B) {
	mod, ctx, _, _ := benchExchange(b)
	stack := make([]uint64, 2)
	b.ReportAllocs()
	for b.Loop() {
		stack[0], stack[1] = 0x200, 0x100
		methodFn(ctx, mod, stack)
	}
}

// BenchmarkPollOneoff polls a relative monotonic clock with a zero timeout,
// as Go's scheduler does when it checks for ready timers: with wazero's
// poll_oneoff (the baseline), then with this package's without an Exchange
// in the context and with one that has a Done channel. "absolute" polls a
// realtime deadline in the past, which reads the guest's clock.
func BenchmarkPollOneoff(b *testing.B) {
	poll, mod, now := newPoll(b)
	ctx := context.Background()
	stock := wazero.NewRuntime(ctx)
	defer stock.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, stock); err != nil {
		b.Fatal(err)
	}
	stockPoll := stock.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()[wasiPollOneoff].GoFunction().(api.GoModuleFunction)
	stockMod, err := stock.Instantiate(ctx, memoryModule)
	if err != nil {
		b.Fatal(err)
	}
	relative := encode([]sub{clock(1, clockMonotonic, 0)}, now)
	absolute := encode([]sub{clockAt(1, clockRealtime, -time.Hour)}, now)
	e := NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
	e.Done = make(chan struct{})
	withExchange := WithExchange(ctx, e)
	for _, bc := range []struct {
		name string
		poll api.GoModuleFunc
		mod  api.Module
		ctx  context.Context
		sub  []byte
	}{
		{"wazero", stockPoll.Call, stockMod, ctx, relative},
		{"host", poll, mod, ctx, relative},
		{"host/exchange", poll, mod, withExchange, relative},
		{"host/exchange/absolute", poll, mod, withExchange, absolute},
	} {
		b.Run(bc.name, func(b *testing.B) {
			reset(bc.mod, region{0x100, bc.sub})
			stack := make([]uint64, 4)
			b.ReportAllocs()
			for b.Loop() {
				stack[0], stack[1], stack[2], stack[3] = 0x100, 0x1000, 1, 0x2000
				bc.poll(bc.ctx, bc.mod, stack)
			}
			if stack[0] != errnoSuccess {
				b.Fatalf("errno %d", stack[0])
			}
		})
	}
}
