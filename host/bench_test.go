package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmroute/wasmroute/abi"
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

// BenchmarkFetch makes one GET of a 5-byte body from a loopback server:
// through the host functions as a guest makes it (fetch_start, fetch_poll,
// fetch_head, fetch_body_read to the end, fetch_close, then End as at the
// end of a request), against a plain http.Client. Both reuse their
// keep-alive connection.
func BenchmarkFetch(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	b.Run("native", func(b *testing.B) {
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer client.CloseIdleConnections()
		buf := make([]byte, readLen)
		b.ReportAllocs()
		for b.Loop() {
			req, err := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/", nil)
			if err != nil {
				b.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
	})
	b.Run("host", func(b *testing.B) {
		ft := newFetchTest(b, Outbound{MaxFetches: 50, MaxConcurrency: 6, MaxBody: 10 << 20})
		l := list("GET", srv.URL+"/")
		reset(ft.mod, region{reqAt, l}, region{handlesAt, []byte{1, 0, 0, 0}})
		start, poll := fnByName(abi.FuncFetchStart).fn, fnByName(abi.FuncFetchPoll).fn
		head, read := fnByName(abi.FuncFetchHead).fn, fnByName(abi.FuncFetchBodyRead).fn
		closeFn := fnByName(abi.FuncFetchClose).fn
		stack := make([]uint64, 5)
		b.ReportAllocs()
		for b.Loop() {
			copy(stack, []uint64{reqAt, uint64(len(l)), bodyAt, 0, 0})
			start(ft.ctx, ft.mod, stack)
			if h := api.DecodeI32(stack[0]); h != 1 {
				b.Fatalf("fetch_start = %d (%s)", h, ft.e.errMsg)
			}
			for taken, done := false, false; !done; {
				copy(stack, []uint64{handlesAt, 1, api.EncodeI32(-1)})
				poll(ft.ctx, ft.mod, stack)
				if !taken {
					copy(stack, []uint64{1, headAt, headLen})
					head(ft.ctx, ft.mod, stack)
					taken = true
					continue
				}
				copy(stack, []uint64{1, readAt, readLen})
				read(ft.ctx, ft.mod, stack)
				switch n := api.DecodeI32(stack[0]); {
				case n == 0:
					done = true
				case n < 0 && n != abi.ErrPending:
					b.Fatalf("fetch_body_read = %d (%s)", n, ft.e.errMsg)
				}
			}
			stack[0] = 1
			closeFn(ft.ctx, ft.mod, stack)
			ft.e.End()
		}
	})
}
