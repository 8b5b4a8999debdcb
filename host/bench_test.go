package host

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"
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
