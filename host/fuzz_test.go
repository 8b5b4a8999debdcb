package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/kv"
	"github.com/wasmroute/wasmroute/internal/outbound"
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
	ns := kvNamespace(f, kvStore(f), "fuzz", kv.Limits{MaxKeys: 100, MaxValue: 64})
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
		e.KV = ns

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
			case "len_or_err":
				if got >= 0 && uint32(got) <= n {
					copy(mem[buf:], initial[buf:buf+uint32(got)])
				}
			case "n_or_err":
				copy(mem[buf:], initial[buf:buf+n])
			}
			if hf.name == abi.FuncKVIncr && got == abi.OK { // the new value in inout
				copy(mem[c:], initial[c:c+8])
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

// FuzzFetchStart calls fetch_start with any request list, body and flags,
// through a client that answers at once: it must return a handle or an
// abi error explained by error_message, write no guest memory, and send
// only requests a server can take (a method that is a token, an absolute
// http or https URL, valid headers, none of those the host frames).
func FuzzFetchStart(f *testing.F) {
	f.Add(list("GET", "https://example.com/x?a=1", "accept", "*/*"), []byte(nil), uint8(0))
	f.Add(list("POST", "http://127.0.0.1:8080/", "content-type", "text/plain", "content-length", "99", "host", "evil"), []byte("body"), uint8(1))
	f.Add(list("GET", "http://[::1]/", "x", "a\r\nb"), []byte(nil), uint8(2))
	f.Add(list("CONNECT", "http://x:1/"), []byte(nil), uint8(0))
	f.Add(list("GET", "http://u:p@x/", "a"), []byte(nil), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 'G'}, []byte(nil), uint8(0))
	sent := make(chan string, 1)
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent <- checkSent(r)
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
	})}
	p, err := outbound.Parse([]string{"*://*:*"}, "wasmroute.json")
	if err != nil {
		f.Fatal(err)
	}
	o := &Outbound{Client: client, Allow: p.Allow, MaxFetches: 1}
	mod := newGuest(f)
	f.Fuzz(func(t *testing.T, req, body []byte, flags uint8) {
		req, body = req[:min(len(req), 0x3000)], body[:min(len(body), 0x1000)]
		reset(mod, region{reqAt, req}, region{bodyAt, body})
		initial, _ := mod.Memory().Read(0, memSize)
		initial = bytes.Clone(initial)
		e := NewExchange(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil)
		e.Outbound = o
		defer e.End()
		ctx := WithExchange(context.Background(), e)
		h, err := call(ctx, fetchStartFn, mod, reqAt, uint32(len(req)), bodyAt, uint32(len(body)), uint32(flags))
		if err != nil {
			t.Fatalf("fetch_start trapped for ranges inside memory: %v", err)
		}
		switch {
		case h > 0:
			if h != 1 {
				t.Errorf("first handle %d", h)
			}
			select {
			case got := <-sent:
				if got != "" {
					t.Errorf("fetch_start(%q) sent a request it should not have: %s", req, got)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("fetch_start(%q) = %d, but its request was not sent", req, h)
			}
		case h == abi.ErrInvalid || h == abi.ErrDenied:
			if e.errMsg == "" {
				t.Errorf("fetch_start(%q) = %d without a message", req, h)
			}
		default:
			t.Errorf("fetch_start(%q) = %d", req, h)
		}
		if got, _ := mod.Memory().Read(0, memSize); !bytes.Equal(initial, got) {
			t.Errorf("fetch_start(%q) wrote guest memory", req)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// checkSent says what is wrong with a request the host sent, or "".
func checkSent(r *http.Request) string {
	switch {
	case !abi.ValidHeaderName(r.Method) || r.Method == "CONNECT" || r.Method == "TRACE" || r.Method == "TRACK":
		return fmt.Sprintf("method %q", r.Method)
	case r.URL.Scheme != "http" && r.URL.Scheme != "https" || r.URL.Host == "" || r.URL.User != nil || r.URL.Opaque != "":
		return fmt.Sprintf("URL %q", r.URL)
	case r.Host != r.URL.Host:
		return fmt.Sprintf("Host %q for URL %q", r.Host, r.URL)
	}
	for k, vs := range r.Header {
		if !abi.ValidHeaderName(k) || droppedHeader(k) || k != http.CanonicalHeaderKey(k) {
			return fmt.Sprintf("header %q", k)
		}
		for _, v := range vs {
			if !abi.ValidHeaderValue(v) {
				return fmt.Sprintf("header %s: %q", k, v)
			}
		}
	}
	return ""
}
