package host

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHostFunctions calls any host function with any arguments: it must
// return or trap, never panic otherwise, and never write guest memory outside
// the buffer it was given.
func FuzzHostFunctions(f *testing.F) {
	const names = "acceptslugrest" // accept 0+6, slug 6+4, rest 10+4
	for i := range hostFuncs {
		f.Add(uint8(i), uint32(0), uint32(6), uint32(0x100), uint32(0x100))
		f.Add(uint8(i), uint32(6), uint32(4), uint32(memSize-3), uint32(3))
		f.Add(uint8(i), uint32(10), uint32(4), uint32(0x20), uint32(1))
		f.Add(uint8(i), uint32(0xFFFFFFF0), uint32(0x20), uint32(0), uint32(0))
	}
	mod := newGuest(f)
	initial := bytes.Repeat([]byte{marker}, memSize)
	copy(initial, names)
	f.Fuzz(func(t *testing.T, fn uint8, a, b, c, d uint32) {
		hf := hostFuncs[int(fn)%len(hostFuncs)]
		args := []uint32{a, b, c, d}[:len(hf.params)]
		reset(mod, region{0, []byte(names)})
		r, params := testRequest()
		rec := httptest.NewRecorder()
		e := NewExchange(rec, r, params)
		e.Body = strings.NewReader("hello, body")
		e.MaxResponseBytes = 8

		got, err := call(WithExchange(context.Background(), e), hf.fn, mod, args...) // panics again on anything but a trap
		mem, _ := mod.Memory().Read(0, memSize)
		mem = bytes.Clone(mem)
		if err == nil && len(args) >= 2 {
			// The buffer is the last (ptr, len) pair. A getter writes
			// [buf, buf+len) when len fits; body_read may use all of it.
			buf, n := args[len(args)-2], args[len(args)-1]
			switch hf.result {
			case "len":
				if uint32(got) <= n {
					copy(mem[buf:], initial[buf:buf+uint32(got)])
				}
			case "n_or_err":
				copy(mem[buf:], initial[buf:buf+n])
			}
		}
		if !bytes.Equal(initial, mem) {
			t.Errorf("%s%v (result %d, error %v) wrote memory outside its buffer", hf.name, args, got, err)
		}
		if rec.Body.Len() > int(e.MaxResponseBytes) {
			t.Errorf("%s%v wrote %d body bytes, past the limit of %d", hf.name, args, rec.Body.Len(), e.MaxResponseBytes)
		}
	})
}
