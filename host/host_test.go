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
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/internal/routes"
)

// memoryModule is (module (memory (export "memory") 1)).
var memoryModule = []byte{
	0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, min 1 page
	0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, // export section
}

const (
	memSize = 65536
	marker  = '?'
)

// newGuest instantiates memoryModule, whose memory host functions are
// called against.
func newGuest(t testing.TB) api.Module {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.Instantiate(ctx, memoryModule)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// reset fills mod's memory with markers, then copies each region in.
func reset(mod api.Module, regions ...region) {
	mem, _ := mod.Memory().Read(0, mod.Memory().Size())
	for i := range mem {
		mem[i] = marker
	}
	for _, r := range regions {
		copy(mem[r.at:], r.data)
	}
}

type region struct {
	at   uint32
	data []byte
}

// checkMemory fails t unless mod's memory holds markers except for regions.
func checkMemory(t testing.TB, mod api.Module, regions ...region) {
	t.Helper()
	got, _ := mod.Memory().Read(0, mod.Memory().Size())
	want := bytes.Repeat([]byte{marker}, len(got))
	for _, r := range regions {
		copy(want[r.at:], r.data)
	}
	if bytes.Equal(want, got) {
		return
	}
	i := 0
	for want[i] == got[i] {
		i++
	}
	lo, hi := max(i-8, 0), min(i+40, len(got))
	t.Errorf("memory differs from offset %d; [%d:%d] (-want +got):\n%s", i, lo, hi, cmp.Diff(want[lo:hi], got[lo:hi]))
}

// call calls fn as wazero would, returning its i32 result, or the trap it
// panicked with. Any other panic fails the test.
func call(ctx context.Context, fn api.GoModuleFunc, mod api.Module, args ...uint32) (result int32, err error) {
	stack := make([]uint64, max(len(args), 1))
	for i, a := range args {
		stack[i] = api.EncodeU32(a)
	}
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(*trap)
			if !ok {
				panic(r)
			}
			err = t
		}
	}()
	fn(ctx, mod, stack)
	return api.DecodeI32(stack[0]), nil
}

func list(items ...string) []byte {
	var l []byte
	for _, it := range items {
		l = abi.AppendItem(l, it)
	}
	return l
}

func testRequest() (*http.Request, []routes.Param) {
	r := httptest.NewRequest("POST", "http://example.com/blog/hello%20world?a=1&tag=x", strings.NewReader("hello"))
	r.Header.Add("Accept", "text/html")
	r.Header.Add("Accept", "*/*")
	r.Header.Set("X-Empty", "")
	r.Header["x-lower"] = []string{"hand-built"} // not canonical
	r.Header["Host"] = []string{"ignored"}       // net/http keeps the host in r.Host
	params := []routes.Param{
		{Name: "slug", Value: "hello%20world"},
		{Name: "rest", Value: "a/b%2Fc/%zz", CatchAll: true},
		{Name: "opt", CatchAll: true},
	}
	return r, params
}

func fnByName(name string) hostFunc {
	for _, f := range hostFuncs {
		if f.name == name {
			return f
		}
	}
	panic("no host function " + name)
}

func TestGetters(t *testing.T) {
	mod := newGuest(t)
	const keyAt = 0x10
	tests := []struct {
		fn   string
		key  string // for header_values and param_values
		want string
	}{
		{fn: abi.FuncMethod, want: "POST"},
		{fn: abi.FuncPath, want: "/blog/hello%20world"},
		{fn: abi.FuncQuery, want: "a=1&tag=x"},
		{fn: abi.FuncProtocol, want: "HTTP/1.1"},
		{fn: abi.FuncRemoteAddr, want: "192.0.2.1:1234"},
		{fn: abi.FuncHeaderNames, want: string(list("accept", "host", "x-empty", "x-lower"))},
		{fn: abi.FuncHeaderValues, key: "accept", want: string(list("text/html", "*/*"))},
		{fn: abi.FuncHeaderValues, key: "aCCEPT", want: string(list("text/html", "*/*"))},
		{fn: abi.FuncHeaderValues, key: "host", want: string(list("example.com"))},
		{fn: abi.FuncHeaderValues, key: "X-Lower", want: string(list("hand-built"))},
		{fn: abi.FuncHeaderValues, key: "x-empty", want: string(list(""))},
		{fn: abi.FuncHeaderValues, key: "x-absent", want: ""},
		{fn: abi.FuncHeaderValues, key: "", want: ""},
		{fn: abi.FuncParamNames, want: string(list("slug", "rest", "opt"))},
		{fn: abi.FuncParamValues, key: "slug", want: string(list("hello world"))},
		{fn: abi.FuncParamValues, key: "rest", want: string(list("a", "b/c", "%zz"))},
		{fn: abi.FuncParamValues, key: "opt", want: ""},
		{fn: abi.FuncParamValues, key: "SLUG", want: ""},
		{fn: abi.FuncParamValues, key: "nope", want: ""},
	}
	for _, tc := range tests {
		n := uint32(len(tc.want))
		buffers := []struct {
			name     string
			buf, len uint32
		}{
			{"fits exactly", 0x100, n},
			{"larger", 0x100, n + 3},
			{"too small", 0x100, n - 1},
			{"empty", 0x100, 0},
			{"ends at memory end", memSize - n, n},
			{"empty at memory end", memSize, 0},
		}
		for _, b := range buffers {
			if b.name == "too small" && n == 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s(%s)/%s", tc.fn, tc.key, b.name), func(t *testing.T) {
				f := fnByName(tc.fn)
				r, params := testRequest()
				ctx := WithExchange(context.Background(), NewExchange(httptest.NewRecorder(), r, params))
				key := region{keyAt, []byte(tc.key)}
				args := []uint32{b.buf, b.len}
				if len(f.params) == 4 {
					args = []uint32{keyAt, uint32(len(tc.key)), b.buf, b.len}
				}
				wantMem := []region{key}
				if n <= b.len {
					wantMem = append(wantMem, region{b.buf, []byte(tc.want)})
				}
				reset(mod, key)
				got, err := call(ctx, f.fn, mod, args...)
				if err != nil {
					t.Fatal(err)
				}
				if got != int32(n) {
					t.Errorf("returned %d, want %d", got, n)
				}
				checkMemory(t, mod, wantMem...)

				// The guest's second call, as after a too-small buffer.
				reset(mod, key)
				if got, _ := call(ctx, f.fn, mod, args...); got != int32(n) {
					t.Errorf("second call returned %d, want %d", got, n)
				}
				checkMemory(t, mod, wantMem...)
			})
		}
	}
}

// TestValuesCache asks for several names in a row on one Exchange: the
// cached list must follow the name.
func TestValuesCache(t *testing.T) {
	mod := newGuest(t)
	r, params := testRequest()
	ctx := WithExchange(context.Background(), NewExchange(httptest.NewRecorder(), r, params))
	for _, tc := range []struct {
		fn, key string
		want    []byte
	}{
		{abi.FuncHeaderValues, "accept", list("text/html", "*/*")},
		{abi.FuncHeaderValues, "host", list("example.com")},
		{abi.FuncHeaderValues, "hosT", list("example.com")},
		{abi.FuncHeaderValues, "accept", list("text/html", "*/*")},
		{abi.FuncHeaderValues, "acc", nil},
		{abi.FuncParamValues, "slug", list("hello world")},
		{abi.FuncParamValues, "rest", list("a", "b/c", "%zz")},
		{abi.FuncParamValues, "slug", list("hello world")},
	} {
		reset(mod, region{0, []byte(tc.key)})
		got, err := call(ctx, fnByName(tc.fn).fn, mod, 0, uint32(len(tc.key)), 0x100, 0x100)
		if err != nil {
			t.Fatal(err)
		}
		if got != int32(len(tc.want)) {
			t.Errorf("%s(%q) returned %d, want %d", tc.fn, tc.key, got, len(tc.want))
		}
		checkMemory(t, mod, region{0, []byte(tc.key)}, region{0x100, tc.want})
	}
}

// pointerPairs returns the stack indexes of fn's (ptr, len) parameters:
// a parameter x followed by x_len. (fetch_poll's handles and count are
// tested in TestFetchPollOutOfBounds.)
func pointerPairs(f hostFunc) []int {
	var pairs []int
	for i := 0; i+1 < len(f.params); i++ {
		if f.params[i+1] == f.params[i]+"_len" {
			pairs = append(pairs, i)
		}
	}
	return pairs
}

func TestOutOfBounds(t *testing.T) {
	mod := newGuest(t)
	bad := []struct{ ptr, n uint32 }{
		{memSize, 1},
		{memSize - 1, 2},
		{memSize + 1, 0},
		{0, memSize + 1},
		{0xFFFFFFFF, 1},
		{1, 0xFFFFFFFF},
		{0xFFFFFFF0, 0x20}, // ptr+len overflows uint32 to 0x10
		{0xFFFFFFFF, 0xFFFFFFFF},
	}
	good := []struct{ ptr, n uint32 }{
		{memSize, 0},
		{memSize - 1, 1},
		{0, memSize},
	}
	for _, f := range hostFuncs {
		for _, at := range pointerPairs(f) {
			for _, b := range bad {
				t.Run(fmt.Sprintf("%s/%s=%#x,%#x", f.name, f.params[at], b.ptr, b.n), func(t *testing.T) {
					rec := httptest.NewRecorder()
					r, params := testRequest()
					e := NewExchange(rec, r, params)
					body := strings.NewReader("hello")
					e.Body = body
					args := make([]uint32, len(f.params)) // other arguments 0: kv_incr's inout is valid
					for _, i := range pointerPairs(f) {
						args[i], args[i+1] = 0x10, 4 // a valid range
					}
					args[at], args[at+1] = b.ptr, b.n
					reset(mod)
					_, err := call(WithExchange(context.Background(), e), f.fn, mod, args...)
					want := fmt.Sprintf("wasmroute_v1.%s: %s [%d, +%d) is outside memory (65536 bytes)", f.name, f.params[at], b.ptr, b.n)
					if err == nil || err.Error() != want {
						t.Fatalf("got error %v, want trap %q", err, want)
					}
					checkMemory(t, mod)
					if e.HeadSent() || rec.Body.Len() != 0 || len(rec.Header()) != 0 || body.Len() != 5 {
						t.Errorf("a trapping call changed the exchange: head sent %v, body %q, headers %v, %d request bytes left",
							e.HeadSent(), rec.Body, rec.Header(), body.Len())
					}
				})
			}
			for _, g := range good {
				t.Run(fmt.Sprintf("%s/%s=%#x,%#x", f.name, f.params[at], g.ptr, g.n), func(t *testing.T) {
					r, params := testRequest()
					args := make([]uint32, len(f.params))
					args[at], args[at+1] = g.ptr, g.n
					if _, err := call(WithExchange(context.Background(), NewExchange(httptest.NewRecorder(), r, params)), f.fn, mod, args...); err != nil {
						t.Fatalf("range inside memory trapped: %v", err)
					}
				})
			}
		}
	}
}

func TestTrapOutsideRequest(t *testing.T) {
	mod := newGuest(t)
	for _, f := range hostFuncs {
		t.Run(f.name, func(t *testing.T) {
			for _, ctx := range []context.Context{context.Background(), WithExchange(context.Background(), nil)} {
				_, err := call(ctx, f.fn, mod, make([]uint32, len(f.params))...)
				want := "wasmroute_v1." + f.name + ": called outside a request (the context carries no host.Exchange)"
				if err == nil || err.Error() != want {
					t.Errorf("got error %v, want trap %q", err, want)
				}
			}
		})
	}
}

// TestStoppedRequest checks that once a request's Done is closed, every host
// function ends the guest's call with the exit code of the request's end.
func TestStoppedRequest(t *testing.T) {
	mod := newGuest(t)
	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		code uint32
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, sys.ExitCodeDeadlineExceeded},
		{"client gone", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, sys.ExitCodeContextCanceled},
	} {
		for _, f := range hostFuncs {
			t.Run(tt.name+"/"+f.name, func(t *testing.T) {
				ctx, cancel := tt.ctx()
				defer cancel()
				r, params := testRequest()
				e := NewExchange(httptest.NewRecorder(), r, params)
				e.Done = ctx.Done()
				var got any
				func() {
					defer func() { got = recover() }()
					f.fn(WithExchange(ctx, e), mod, make([]uint64, max(len(f.params), 1)))
				}()
				exit, ok := got.(*sys.ExitError)
				if !ok || exit.ExitCode() != tt.code {
					t.Errorf("got %v, want exit code %#x", got, tt.code)
				}
			})
		}
	}
}

func TestTrapWithoutMemory(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, memoryModule[:8]) // (module)
	if err != nil {
		t.Fatal(err)
	}
	req, params := testRequest()
	ctx = WithExchange(ctx, NewExchange(httptest.NewRecorder(), req, params))
	_, err = call(ctx, methodFn, mod, 0, 0)
	if want := `wasmroute_v1.method: the module does not export "memory"`; err == nil || err.Error() != want {
		t.Errorf("got error %v, want trap %q", err, want)
	}
}

// step is one host function call in a response test. A string argument
// stands for the (ptr, len) of its bytes, laid out in guest memory.
type step struct {
	fn   string
	args []any
	want int32
}

func run(t *testing.T, mod api.Module, e *Exchange, steps []step) {
	t.Helper()
	ctx := WithExchange(context.Background(), e)
	for i, s := range steps {
		var args []uint32
		var strs []region
		at := uint32(0)
		for _, a := range s.args {
			switch a := a.(type) {
			case string:
				strs = append(strs, region{at, []byte(a)})
				args = append(args, at, uint32(len(a)))
				at += uint32(len(a))
			case int:
				args = append(args, uint32(a))
			}
		}
		reset(mod, strs...)
		got, err := call(ctx, fnByName(s.fn).fn, mod, args...)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != s.want {
			t.Errorf("step %d: %s%q returned %d, want %d", i, s.fn, s.args, got, s.want)
		}
	}
}

type response struct {
	Status  int
	Header  http.Header
	Body    string
	Flushed bool
}

func TestResponse(t *testing.T) {
	const (
		ok          = abi.OK
		invalid     = abi.ErrInvalid
		headersSent = abi.ErrHeadersSent
		noBody      = abi.ErrBodyNotAllowed
		tooLarge    = abi.ErrTooLarge
	)
	tests := []struct {
		name     string
		maxBytes int64
		steps    []step
		want     response
		headSent bool // before Finish
	}{
		{
			name: "nothing: Finish sends 200",
			want: response{Status: 200, Header: http.Header{}},
		},
		{
			name: "status, headers, cookies, body",
			steps: []step{
				{abi.FuncSetStatus, []any{201}, ok},
				{abi.FuncHeaderSet, []any{"content-type", "text/plain"}, ok},
				{abi.FuncHeaderAdd, []any{"Set-Cookie", "a=1"}, ok},
				{abi.FuncHeaderAdd, []any{"set-cookie", "b=2"}, ok},
				{abi.FuncHeaderAdd, []any{"X-A", "1"}, ok},
				{abi.FuncHeaderSet, []any{"x-a", "2"}, ok},
				{abi.FuncHeaderSet, []any{"X-Gone", "1"}, ok},
				{abi.FuncHeaderDel, []any{"x-gone"}, ok},
				{abi.FuncHeaderDel, []any{"x-never"}, ok},
				{abi.FuncBodyWrite, []any{"hel"}, ok},
				{abi.FuncBodyWrite, []any{""}, ok},
				{abi.FuncBodyWrite, []any{"lo"}, ok},
			},
			headSent: true,
			want: response{Status: 201, Body: "hello", Header: http.Header{
				"Content-Type": {"text/plain"},
				"Set-Cookie":   {"a=1", "b=2"},
				"X-A":          {"2"},
			}},
		},
		{
			name: "changes after the body started",
			steps: []step{
				{abi.FuncBodyWrite, []any{"x"}, ok},
				{abi.FuncSetStatus, []any{404}, headersSent},
				{abi.FuncHeaderSet, []any{"X-A", "1"}, headersSent},
				{abi.FuncHeaderAdd, []any{"X-A", "1"}, headersSent},
				{abi.FuncHeaderDel, []any{"X-A"}, headersSent},
				{abi.FuncSetStatus, []any{99}, invalid},
				{abi.FuncHeaderSet, []any{"X A", "1"}, invalid},
			},
			headSent: true,
			want:     response{Status: 200, Body: "x", Header: http.Header{}},
		},
		{
			name: "empty write sends the head",
			steps: []step{
				{abi.FuncBodyWrite, []any{""}, ok},
				{abi.FuncSetStatus, []any{404}, headersSent},
			},
			headSent: true,
			want:     response{Status: 200, Header: http.Header{}},
		},
		{
			name: "statuses",
			steps: []step{
				{abi.FuncSetStatus, []any{0}, invalid},
				{abi.FuncSetStatus, []any{100}, invalid},
				{abi.FuncSetStatus, []any{199}, invalid},
				{abi.FuncSetStatus, []any{1000}, invalid},
				{abi.FuncSetStatus, []any{0xFFFFFFFF}, invalid},
				{abi.FuncSetStatus, []any{-200}, invalid},
				{abi.FuncSetStatus, []any{200}, ok},
				{abi.FuncSetStatus, []any{999}, ok},
			},
			want: response{Status: 999, Header: http.Header{}},
		},
		{
			name: "header names and values",
			steps: []step{
				{abi.FuncHeaderSet, []any{"", "v"}, invalid},
				{abi.FuncHeaderSet, []any{"a b", "v"}, invalid},
				{abi.FuncHeaderSet, []any{"a:b", "v"}, invalid},
				{abi.FuncHeaderSet, []any{"a\x00", "v"}, invalid},
				{abi.FuncHeaderSet, []any{"caf\xc3\xa9", "v"}, invalid},
				{abi.FuncHeaderSet, []any{"(a)", "v"}, invalid},
				{abi.FuncHeaderAdd, []any{"X", "a\r\nb"}, invalid},
				{abi.FuncHeaderAdd, []any{"X", "a\nb"}, invalid},
				{abi.FuncHeaderAdd, []any{"X", "a\rb"}, invalid},
				{abi.FuncHeaderAdd, []any{"X", "a\x00"}, invalid},
				{abi.FuncHeaderAdd, []any{"X", "\x7f"}, invalid},
				{abi.FuncHeaderDel, []any{"a b"}, invalid},
				{abi.FuncHeaderAdd, []any{"!#$%&'*+-.^_`|~09azAZ", "ok"}, ok},
				{abi.FuncHeaderAdd, []any{"X", "tab\tand caf\xc3\xa9"}, ok},
				{abi.FuncHeaderAdd, []any{"X", ""}, ok},
			},
			want: response{Status: 200, Header: http.Header{
				"!#$%&'*+-.^_`|~09azaz": {"ok"},
				"X":                     {"tab\tand caf\xc3\xa9", ""},
			}},
		},
		{
			name: "204 has no body",
			steps: []step{
				{abi.FuncSetStatus, []any{204}, ok},
				{abi.FuncBodyWrite, []any{"x"}, noBody},
				{abi.FuncBodyWrite, []any{""}, ok},
				{abi.FuncBodyWrite, []any{"x"}, noBody},
			},
			headSent: true,
			want:     response{Status: 204, Header: http.Header{}},
		},
		{
			name: "304 has no body, head not sent by the refused write",
			steps: []step{
				{abi.FuncSetStatus, []any{304}, ok},
				{abi.FuncBodyWrite, []any{"x"}, noBody},
				{abi.FuncSetStatus, []any{200}, ok},
				{abi.FuncBodyWrite, []any{"x"}, ok},
			},
			headSent: true,
			want:     response{Status: 200, Body: "x", Header: http.Header{}},
		},
		{
			name:     "response limit",
			maxBytes: 5,
			steps: []step{
				{abi.FuncBodyWrite, []any{"abc"}, ok},
				{abi.FuncBodyWrite, []any{"def"}, tooLarge},
				{abi.FuncBodyWrite, []any{"de"}, ok},
				{abi.FuncBodyWrite, []any{""}, ok},
				{abi.FuncBodyWrite, []any{"f"}, tooLarge},
			},
			headSent: true,
			want:     response{Status: 200, Body: "abcde", Header: http.Header{}},
		},
		{
			name:     "response limit on the first write: head not sent",
			maxBytes: 2,
			steps: []step{
				{abi.FuncBodyWrite, []any{"abc"}, tooLarge},
				{abi.FuncSetStatus, []any{500}, ok},
			},
			want: response{Status: 500, Header: http.Header{}},
		},
		{
			name: "flush sends the head",
			steps: []step{
				{abi.FuncSetStatus, []any{202}, ok},
				{abi.FuncFlush, nil, ok},
				{abi.FuncHeaderSet, []any{"X", "1"}, headersSent},
				{abi.FuncBodyWrite, []any{"data: 1\n\n"}, ok},
				{abi.FuncFlush, nil, ok},
			},
			headSent: true,
			want:     response{Status: 202, Body: "data: 1\n\n", Header: http.Header{}, Flushed: true},
		},
	}
	mod := newGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r, params := testRequest()
			e := NewExchange(rec, r, params)
			e.MaxResponseBytes = tc.maxBytes
			run(t, mod, e, tc.steps)
			if got := e.HeadSent(); got != tc.headSent {
				t.Errorf("HeadSent() = %v before Finish, want %v", got, tc.headSent)
			}
			if err := e.Finish(); err != nil {
				t.Errorf("Finish: %v", err)
			}
			if err := e.Finish(); err != nil {
				t.Errorf("second Finish: %v", err)
			}
			got := response{rec.Code, rec.Result().Header, rec.Body.String(), rec.Flushed}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHeaderLimits checks MaxHeaders and MaxHeaderBytes at their boundaries:
// a refused change changes nothing, and deletions and replacements give
// their room back.
func TestHeaderLimits(t *testing.T) {
	const (
		ok       = abi.OK
		tooLarge = abi.ErrTooLarge
	)
	tests := []struct {
		name       string
		preset     http.Header // what the ResponseWriter holds before the guest runs
		maxHeaders int
		maxBytes   int
		steps      []step
		want       http.Header
	}{
		{
			name:       "count: add up to the limit",
			maxHeaders: 3,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"A", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"b", "2"}, ok},
				{abi.FuncHeaderAdd, []any{"a", "3"}, ok},
				{abi.FuncHeaderAdd, []any{"C", "4"}, tooLarge},
				{abi.FuncHeaderAdd, []any{"a", "4"}, tooLarge},
				{abi.FuncHeaderSet, []any{"C", "4"}, tooLarge},
				{abi.FuncHeaderSet, []any{"B", "5"}, ok}, // replaces one value
			},
			want: http.Header{"A": {"1", "3"}, "B": {"5"}},
		},
		{
			name:       "count: set replaces every value",
			maxHeaders: 3,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"Set-Cookie", "a=1"}, ok},
				{abi.FuncHeaderAdd, []any{"set-cookie", "b=2"}, ok},
				{abi.FuncHeaderAdd, []any{"SET-COOKIE", "c=3"}, ok},
				{abi.FuncHeaderAdd, []any{"X", "1"}, tooLarge},
				{abi.FuncHeaderSet, []any{"set-cookie", "d=4"}, ok}, // 3 values -> 1
				{abi.FuncHeaderAdd, []any{"X", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"Y", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"Z", "1"}, tooLarge},
			},
			want: http.Header{"Set-Cookie": {"d=4"}, "X": {"1"}, "Y": {"1"}},
		},
		{
			name:       "count: del gives room back",
			maxHeaders: 2,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"A", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"B", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"C", "1"}, tooLarge},
				{abi.FuncHeaderDel, []any{"a"}, ok},
				{abi.FuncHeaderDel, []any{"never"}, ok},
				{abi.FuncHeaderAdd, []any{"C", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"D", "1"}, tooLarge},
				{abi.FuncHeaderDel, []any{"b"}, ok},
				{abi.FuncHeaderDel, []any{"c"}, ok},
				{abi.FuncHeaderAdd, []any{"D", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"D", "2"}, ok},
				{abi.FuncHeaderAdd, []any{"D", "3"}, tooLarge},
			},
			want: http.Header{"D": {"1", "2"}},
		},
		{
			name:     "bytes: exactly at the limit, then one past",
			maxBytes: 10,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"ab", "12345678"}, ok}, // 2+8
				{abi.FuncHeaderAdd, []any{"A", ""}, tooLarge},    // 11
				{abi.FuncHeaderSet, []any{"AB", "123456789"}, tooLarge},
				{abi.FuncHeaderSet, []any{"Ab", "1234567"}, ok}, // 9
				{abi.FuncHeaderAdd, []any{"A", ""}, ok},         // 10
				{abi.FuncHeaderAdd, []any{"A", ""}, tooLarge},
				{abi.FuncHeaderDel, []any{"a"}, ok}, // 9
				{abi.FuncHeaderAdd, []any{"ab", "x"}, tooLarge},
				{abi.FuncHeaderAdd, []any{"C", ""}, ok}, // 10
			},
			want: http.Header{"Ab": {"1234567"}, "C": {""}},
		},
		{
			name:     "bytes: a name counts once per value",
			maxBytes: 10,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"Abc", "1"}, ok},       // 4
				{abi.FuncHeaderAdd, []any{"abc", "2"}, ok},       // 8
				{abi.FuncHeaderAdd, []any{"ABC", "3"}, tooLarge}, // 12
				{abi.FuncHeaderAdd, []any{"D", "2"}, ok},         // 10
				{abi.FuncHeaderSet, []any{"abc", "12"}, ok},      // 8 -> 5: 7
				{abi.FuncHeaderAdd, []any{"E", "12"}, ok},        // 10
				{abi.FuncHeaderAdd, []any{"F", ""}, tooLarge},    // 11
			},
			want: http.Header{"Abc": {"12"}, "D": {"2"}, "E": {"12"}},
		},
		{
			name:       "either limit refuses",
			maxHeaders: 2,
			maxBytes:   4,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"A", "123"}, ok},
				{abi.FuncHeaderAdd, []any{"B", ""}, tooLarge}, // 5 bytes
				{abi.FuncHeaderSet, []any{"A", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"B", ""}, ok},
				{abi.FuncHeaderAdd, []any{"C", ""}, tooLarge}, // 3 values
			},
			want: http.Header{"A": {"1"}, "B": {""}},
		},
		{
			name:       "headers the writer held count, under any key",
			preset:     http.Header{"Server": {"x"}, "x-raw": {"12"}}, // x-raw is not canonical
			maxHeaders: 3,
			maxBytes:   20, // 7 + 7 held
			steps: []step{
				{abi.FuncHeaderAdd, []any{"A", "12345"}, ok}, // 3 values, 20 bytes
				{abi.FuncHeaderAdd, []any{"B", ""}, tooLarge},
				{abi.FuncHeaderDel, []any{"x-raw"}, ok}, // deletes X-Raw, which is absent, as http.Header.Del
				{abi.FuncHeaderAdd, []any{"B", ""}, tooLarge},
				{abi.FuncHeaderDel, []any{"server"}, ok},             // 2 values, 13 bytes
				{abi.FuncHeaderAdd, []any{"B", "1234567"}, tooLarge}, // 21 bytes
				{abi.FuncHeaderAdd, []any{"B", "123456"}, ok},        // 20 bytes
			},
			want: http.Header{"x-raw": {"12"}, "A": {"12345"}, "B": {"123456"}},
		},
		{
			name:       "ErrInvalid, then ErrHeadersSent, win over ErrTooLarge",
			maxHeaders: 1,
			steps: []step{
				{abi.FuncHeaderAdd, []any{"A", "1"}, ok},
				{abi.FuncHeaderAdd, []any{"B C", "1"}, abi.ErrInvalid},
				{abi.FuncBodyWrite, []any{""}, ok},
				{abi.FuncHeaderAdd, []any{"B", "1"}, abi.ErrHeadersSent},
			},
			want: http.Header{"A": {"1"}},
		},
	}
	mod := newGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tc.preset {
				rec.Header()[k] = v
			}
			r, params := testRequest()
			e := NewExchange(rec, r, params)
			e.MaxHeaders, e.MaxHeaderBytes = tc.maxHeaders, tc.maxBytes
			run(t, mod, e, tc.steps)
			if diff := cmp.Diff(tc.want, rec.Header()); diff != "" {
				t.Errorf("response header (-want +got):\n%s", diff)
			}
		})
	}
}

// brokenWriter is a ResponseWriter whose Write and FlushError fail.
type brokenWriter struct {
	err, flushErr error
	statuses      []int
}

func (w *brokenWriter) Header() http.Header         { return http.Header{} }
func (w *brokenWriter) Write(b []byte) (int, error) { return 0, w.err }
func (w *brokenWriter) WriteHeader(status int)      { w.statuses = append(w.statuses, status) }
func (w *brokenWriter) FlushError() error           { return w.flushErr }

// plainWriter cannot flush.
type plainWriter struct{ http.ResponseWriter }

func TestWriterErrors(t *testing.T) {
	gone := errors.New("write: broken pipe")
	tests := []struct {
		name    string
		w       http.ResponseWriter
		steps   []step
		finish  error
		headers []int
	}{
		{
			name:   "client gone",
			w:      &brokenWriter{err: gone},
			steps:  []step{{abi.FuncBodyWrite, []any{"x"}, abi.ErrClosed}, {abi.FuncBodyWrite, []any{"y"}, abi.ErrClosed}},
			finish: gone,
		},
		{
			name:   "writer refuses a body",
			w:      &brokenWriter{err: fmt.Errorf("wrapped: %w", http.ErrBodyNotAllowed)},
			steps:  []step{{abi.FuncBodyWrite, []any{"x"}, abi.ErrBodyNotAllowed}},
			finish: http.ErrBodyNotAllowed,
		},
		{
			name:   "flush fails",
			w:      &brokenWriter{flushErr: gone},
			steps:  []step{{abi.FuncFlush, nil, abi.ErrClosed}},
			finish: gone,
		},
		{
			name:  "flush not supported",
			w:     plainWriter{httptest.NewRecorder()},
			steps: []step{{abi.FuncFlush, nil, abi.OK}},
		},
	}
	mod := newGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, params := testRequest()
			e := NewExchange(tc.w, r, params)
			run(t, mod, e, tc.steps)
			if err := e.Finish(); !errors.Is(err, tc.finish) {
				t.Errorf("Finish() = %v, want %v", err, tc.finish)
			}
			if w, ok := tc.w.(*brokenWriter); ok {
				if diff := cmp.Diff([]int{200}, w.statuses); diff != "" {
					t.Errorf("WriteHeader calls (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// stallReader returns (0, nil) stalls times before each read of r.
type stallReader struct {
	r      io.Reader
	stalls int
	n      int
	asked  []int // len(p) of each call
}

func (s *stallReader) Read(p []byte) (int, error) {
	s.asked = append(s.asked, len(p))
	if s.n < s.stalls {
		s.n++
		return 0, nil
	}
	s.n = 0
	return s.r.Read(p)
}

func TestBodyRead(t *testing.T) {
	errReset := errors.New("connection reset")
	type read struct {
		bufLen uint32
		want   int32
		data   string
	}
	tests := []struct {
		name     string
		body     func(w http.ResponseWriter) io.Reader
		reads    []read
		tooLarge bool
	}{
		{
			name:  "nil body",
			body:  func(http.ResponseWriter) io.Reader { return nil },
			reads: []read{{10, 0, ""}, {0, 0, ""}},
		},
		{
			name:  "in pieces",
			body:  func(http.ResponseWriter) io.Reader { return strings.NewReader("hello") },
			reads: []read{{0, 0, ""}, {3, 3, "hel"}, {3, 2, "lo"}, {3, 0, ""}, {3, 0, ""}},
		},
		{
			name:  "data with EOF",
			body:  func(http.ResponseWriter) io.Reader { return iotest.DataErrReader(strings.NewReader("hi")) },
			reads: []read{{10, 2, "hi"}, {10, 0, ""}},
		},
		{
			name:  "one byte at a time",
			body:  func(http.ResponseWriter) io.Reader { return iotest.OneByteReader(strings.NewReader("hi")) },
			reads: []read{{10, 1, "h"}, {10, 1, "i"}, {10, 0, ""}},
		},
		{
			name:  "empty reads are retried",
			body:  func(http.ResponseWriter) io.Reader { return &stallReader{r: strings.NewReader("hi"), stalls: 5} },
			reads: []read{{10, 2, "hi"}, {10, 0, ""}},
		},
		{
			name:  "a reader that never progresses",
			body:  func(http.ResponseWriter) io.Reader { return &stallReader{r: strings.NewReader("hi"), stalls: 1000} },
			reads: []read{{10, abi.ErrClosed, ""}, {10, abi.ErrClosed, ""}},
		},
		{
			name:  "read error",
			body:  func(http.ResponseWriter) io.Reader { return iotest.ErrReader(errReset) },
			reads: []read{{10, abi.ErrClosed, ""}, {10, abi.ErrClosed, ""}, {0, 0, ""}},
		},
		{
			name: "data, then read error",
			body: func(http.ResponseWriter) io.Reader {
				return io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(errReset))
			},
			reads: []read{{10, 2, "ab"}, {10, abi.ErrClosed, ""}},
		},
		{
			name: "over the body limit",
			body: func(w http.ResponseWriter) io.Reader {
				return http.MaxBytesReader(w, io.NopCloser(strings.NewReader("hello")), 4)
			},
			reads:    []read{{3, 3, "hel"}, {3, 1, "l"}, {3, abi.ErrTooLarge, ""}, {3, abi.ErrTooLarge, ""}},
			tooLarge: true,
		},
		{
			name: "at the body limit",
			body: func(w http.ResponseWriter) io.Reader {
				return http.MaxBytesReader(w, io.NopCloser(strings.NewReader("hello")), 5)
			},
			reads: []read{{10, 5, "hello"}, {10, 0, ""}},
		},
	}
	mod := newGuest(t)
	const buf = 0x100
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r, params := testRequest()
			e := NewExchange(rec, r, params)
			e.Body = tc.body(rec)
			ctx := WithExchange(context.Background(), e)
			for i, rd := range tc.reads {
				reset(mod)
				got, err := call(ctx, bodyReadFn, mod, buf, rd.bufLen)
				if err != nil {
					t.Fatal(err)
				}
				if got != rd.want {
					t.Errorf("read %d returned %d, want %d", i, got, rd.want)
				}
				// A reader may use all of buf as scratch (MaxBytesReader
				// does): only buf[:n] is defined, nothing after buf changes.
				scratch, _ := mod.Memory().Read(buf+uint32(len(rd.data)), rd.bufLen-uint32(len(rd.data)))
				for i := range scratch {
					scratch[i] = marker
				}
				checkMemory(t, mod, region{buf, []byte(rd.data)})
			}
			if got := e.BodyTooLarge(); got != tc.tooLarge {
				t.Errorf("BodyTooLarge() = %v, want %v", got, tc.tooLarge)
			}
			if sr, ok := e.Body.(*stallReader); ok {
				for _, n := range sr.asked {
					if n != 10 {
						t.Fatalf("Read asked for %d bytes, want the buffer's 10", n)
					}
				}
			}
		})
	}
}

// TestAllocs holds the promise that body_write and the getters, once their
// value is cached, allocate nothing.
func TestAllocs(t *testing.T) {
	mod := newGuest(t)
	reset(mod, region{0, []byte("accept")})
	r, params := testRequest()
	rec := httptest.NewRecorder()
	rec.Body = nil // discard
	e := NewExchange(rec, r, params)
	e.Body = strings.NewReader(strings.Repeat("x", 1<<20))
	ctx := WithExchange(context.Background(), e)
	stack := make([]uint64, 4)
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{abi.FuncMethod, []uint64{0x100, 0x100}},
		{abi.FuncPath, []uint64{0x100, 0x100}},
		{abi.FuncQuery, []uint64{0x100, 0x100}},
		{abi.FuncHeaderNames, []uint64{0x100, 0x100}},
		{abi.FuncHeaderValues, []uint64{0, 6, 0x100, 0x100}},
		{abi.FuncParamNames, []uint64{0x100, 0x100}},
		{abi.FuncParamValues, []uint64{0, 4, 0x100, 0x100}},
		{abi.FuncBodyRead, []uint64{0x100, 0x10}},
		{abi.FuncBodyWrite, []uint64{0x100, 0x10}},
		{abi.FuncSetStatus, []uint64{200}},
		{abi.FuncFlush, nil},
	} {
		fn := fnByName(tc.fn).fn
		fn(ctx, mod, stack) // fills the caches
		allocs := testing.AllocsPerRun(100, func() {
			copy(stack, tc.args)
			fn(ctx, mod, stack)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.fn, allocs)
		}
	}
}

// TestReset reuses an Exchange for a second request: nothing of the first
// may show, cached encodings included.
func TestReset(t *testing.T) {
	mod := newGuest(t)
	r1, params1 := testRequest()
	e := NewExchange(httptest.NewRecorder(), r1, params1)
	e.Body = iotest.ErrReader(http.ErrHandlerTimeout)
	e.MaxResponseBytes = 1
	e.MaxHeaders, e.MaxHeaderBytes = 1, 100
	e.Done = make(chan struct{})
	run(t, mod, e, []step{
		{abi.FuncHeaderAdd, []any{"A", "1"}, abi.OK}, // counts the header: 1 value
		{abi.FuncHeaderValues, []any{"accept", 0, 0}, int32(len(list("text/html", "*/*")))},
		{abi.FuncParamValues, []any{"slug", 0, 0}, int32(len(list("hello world")))},
		{abi.FuncHeaderNames, []any{0, 0}, int32(len(list("accept", "host", "x-empty", "x-lower")))},
		{abi.FuncParamNames, []any{0, 0}, int32(len(list("slug", "rest", "opt")))},
		{abi.FuncPath, []any{0, 0}, int32(len("/blog/hello%20world"))},
		{abi.FuncBodyRead, []any{0, 10}, abi.ErrClosed},
		{abi.FuncSetStatus, []any{404}, abi.OK},
		{abi.FuncBodyWrite, []any{"x"}, abi.OK},
	})

	rec := httptest.NewRecorder()
	r2 := httptest.NewRequest("GET", "/a", strings.NewReader("body"))
	r2.Header.Set("Accept", "*/*")
	e.Reset(rec, r2, []routes.Param{{Name: "slug", Value: "other"}})
	if e.HeadSent() || e.BodyTooLarge() || e.Body != nil || e.MaxResponseBytes != 0 || e.MaxHeaders != 0 || e.MaxHeaderBytes != 0 || e.Done != nil {
		t.Errorf("after Reset: HeadSent %v, BodyTooLarge %v, Body %v, MaxResponseBytes %d, MaxHeaders %d, MaxHeaderBytes %d, Done %v",
			e.HeadSent(), e.BodyTooLarge(), e.Body, e.MaxResponseBytes, e.MaxHeaders, e.MaxHeaderBytes, e.Done)
	}
	e.MaxHeaders = 1 // the count starts again from rec's empty header
	run(t, mod, e, []step{{abi.FuncHeaderAdd, []any{"B", "1"}, abi.OK}})
	e.Body = r2.Body
	ctx := WithExchange(context.Background(), e)
	for _, tc := range []struct {
		fn, key string
		want    []byte
	}{
		{abi.FuncHeaderValues, "accept", list("*/*")},
		{abi.FuncParamValues, "slug", list("other")},
		{abi.FuncHeaderNames, "", list("accept", "host")},
		{abi.FuncParamNames, "", list("slug")},
		{abi.FuncPath, "", []byte("/a")},
		{abi.FuncBodyRead, "", []byte("body")},
	} {
		reset(mod, region{0, []byte(tc.key)})
		args := []uint32{0x100, 0x100}
		if tc.key != "" {
			args = []uint32{0, uint32(len(tc.key)), 0x100, 0x100}
		}
		if got, err := call(ctx, fnByName(tc.fn).fn, mod, args...); err != nil || got != int32(len(tc.want)) {
			t.Errorf("%s(%q) = %d, %v; want %d", tc.fn, tc.key, got, err, len(tc.want))
		}
		checkMemory(t, mod, region{0, []byte(tc.key)}, region{0x100, tc.want})
	}
	if err := e.Finish(); err != nil || rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("B") != "1" {
		t.Errorf("Finish() = %v, response %d %v %q; want 200, B: 1 and no body", err, rec.Code, rec.Header(), rec.Body)
	}
}

// TestHeaderStringsInterned checks that an Exchange reused from request to
// request (Reset) makes the strings of a header it set before only once,
// and that its caches stay bounded.
func TestHeaderStringsInterned(t *testing.T) {
	mod := newGuest(t)
	reset(mod, region{0, []byte("content-typetext/plain")})
	r, params := testRequest()
	e := NewExchange(httptest.NewRecorder(), r, params)
	set := fnByName(abi.FuncHeaderSet).fn
	stack := make([]uint64, 4)
	ctx := WithExchange(context.Background(), e)
	call := func() {
		copy(stack, []uint64{0, 12, 12, 10})
		set(ctx, mod, stack)
		if got := int32(stack[0]); got != abi.OK {
			t.Fatalf("header_set = %d", got)
		}
	}
	call()
	rec := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() {
		clear(rec.Header())
		e.Reset(rec, r, params)
		call()
	})
	if allocs > 1 { // the []string value of the header map
		t.Errorf("%v allocations per header_set on a reused Exchange, want at most 1", allocs)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type = %q", got)
	}
	for i := range 3 * maxInterned {
		v := []byte(fmt.Sprint(i))
		intern(&e.values, v, nil)
	}
	if len(e.values) > maxInterned {
		t.Errorf("%d interned values, want at most %d", len(e.values), maxInterned)
	}
	// A long value is not kept: an idle instance holds at most
	// maxInterned short strings per cache, whatever its guest sent.
	clear(e.values)
	long := bytes.Repeat([]byte("x"), maxInternedLen+1)
	if got := intern(&e.values, long, nil); got != string(long) || len(e.values) != 0 {
		t.Errorf("intern of a %d-byte value: %d bytes back, %d kept; want it back and none kept", len(long), len(got), len(e.values))
	}
}
