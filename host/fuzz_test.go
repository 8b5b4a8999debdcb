package host

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmroute/wasmroute/abi"
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
		flags := uint32(fn) / uint32(len(hostFuncs)) // fetch_start's fifth argument
		args := []uint32{a, b, c, d, flags}[:len(hf.params)]
		if hf.name == abi.FuncFetchPoll && int32(c) > 2 {
			args[2] = c % 3 // a timeout of at most 2ms (an Exchange without fetches has no handle)
		}
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
			case "len", "len_or_err":
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

// FuzzHeaderLimits applies any sequence of header_set, header_add and
// header_del: the running count must match a recount of the header, and the
// header must never grow past a limit.
func FuzzHeaderLimits(f *testing.F) {
	f.Add(uint8(3), uint8(12), []byte("\x01A\x01\x00a\x02\x02B\x03\x00a"))
	f.Add(uint8(0), uint8(5), []byte("\x00Set-Cookie\x00\x01set-cookie"))
	mod := newGuest(f)
	f.Fuzz(func(t *testing.T, maxHeaders, maxBytes uint8, ops []byte) {
		rec := httptest.NewRecorder()
		rec.Header()["x-held"] = []string{"1"}
		r, params := testRequest()
		e := NewExchange(rec, r, params)
		e.MaxHeaders, e.MaxHeaderBytes = int(maxHeaders), int(maxBytes)
		ctx := WithExchange(context.Background(), e)
		// Each op is a byte (its low 2 bits pick the function, the next
		// 2 the name), then the value up to the next byte < 4.
		names := []string{"A", "a", "Set-Cookie", "x-held"}
		fns := []hostFunc{fnByName("header_set"), fnByName("header_add"), fnByName("header_del"), fnByName("header_add")}
		for len(ops) > 0 {
			op := ops[0]
			end := 1
			for end < len(ops) && ops[end] >= 4 {
				end++
			}
			name, value := names[op>>2&3], ops[1:end]
			ops = ops[end:]
			reset(mod, region{0, []byte(name)}, region{0x100, value})
			fn := fns[op&3]
			count, size := headerSize(rec.Header())
			got, err := call(ctx, fn.fn, mod, 0, uint32(len(name)), 0x100, uint32(len(value)))
			if err != nil {
				t.Fatal(err)
			}
			newCount, newSize := headerSize(rec.Header())
			if e.headerCounted && (e.headerCount != newCount || e.headerBytes != newSize) {
				t.Fatalf("after %s(%q, %q): counted %d values, %d bytes; the header has %d, %d", fn.name, name, value, e.headerCount, e.headerBytes, newCount, newSize)
			}
			grew := newCount > count || newSize > size
			if grew && (maxHeaders > 0 && newCount > int(maxHeaders) || maxBytes > 0 && newSize > int(maxBytes)) {
				t.Fatalf("%s(%q, %q) returned %d and took the header to %d values, %d bytes", fn.name, name, value, got, newCount, newSize)
			}
		}
	})
}

// FuzzPollOneoff calls poll_oneoff with any subscriptions and arguments,
// its request already cancelled so that no sleep lasts: it must return an
// errno or end the call with a *sys.ExitError, and write nothing outside out
// and result.nevents.
func FuzzPollOneoff(f *testing.F) {
	clock := make([]byte, 48)
	clock[16] = 1    // monotonic
	clock[24] = 0x10 // a relative 16ns
	f.Add(clock, uint32(0x100), uint32(0x1000), uint32(1), uint32(0x2000))
	f.Add(append(clock, clock...), uint32(0x100), uint32(0x1000), uint32(2), uint32(0x2000))
	f.Add([]byte{}, uint32(0), uint32(0), uint32(0xFFFFFFFF), uint32(0))
	poll, mod, _ := newPoll(f)
	e := NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
	done := make(chan struct{})
	close(done)
	e.Done = done
	ctx := WithExchange(context.Background(), e)
	f.Fuzz(func(t *testing.T, subs []byte, in, out, n, nevents uint32) {
		if len(subs) > 0x800 {
			subs = subs[:0x800]
		}
		reset(mod, region{0x100, subs})
		initial, _ := mod.Memory().Read(0, memSize)
		initial = bytes.Clone(initial)
		_, err := callExit(ctx, poll, mod, in, out, n, nevents)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
		got, _ := mod.Memory().Read(0, memSize)
		got = bytes.Clone(got)
		for _, r := range [][2]uint64{{uint64(out), uint64(n) * eventSize}, {uint64(nevents), 4}} {
			if r[0]+r[1] <= memSize {
				copy(got[r[0]:r[0]+r[1]], initial[r[0]:])
			}
		}
		if !bytes.Equal(initial, got) {
			t.Errorf("poll_oneoff(%#x, %#x, %d, %#x) wrote memory outside out and result.nevents", in, out, n, nevents)
		}
	})
}
