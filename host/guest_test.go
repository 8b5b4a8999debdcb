package host_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/host"
)

// guest assembles a route module that imports the host functions named in
// imports (function i is imports[i]), has one page of memory exported as
// "memory" holding data at offset 0, and exports "GET" running code, e.g.
//
//	guest([]string{"body_write"}, "hi", i32(0), i32(2), call(0), drop)
func guest(imports []string, data string, code ...[]byte) []byte {
	imps := make([]imported, len(imports))
	for i, name := range imports {
		f := abi.Funcs[slices.IndexFunc(abi.Funcs[:], func(f abi.Func) bool { return f.Name == name })]
		imps[i] = imported{abi.ModuleName, name, slices.Repeat([]byte{i32Type}, f.Params), slices.Repeat([]byte{i32Type}, f.Results)}
	}
	return guestImporting(imps, data, code...)
}

// imported is a function a test module imports: its module, its name and
// the value types of its parameters and results.
type imported struct {
	module, name    string
	params, results []byte
}

// Value types.
const (
	i32Type = 0x7f
	i64Type = 0x7e
)

// wasiFunc is the import of a WASI function with the given parameter types:
// its result is an i32 errno.
func wasiFunc(name string, params ...byte) imported {
	return imported{wasi_snapshot_preview1.ModuleName, name, params, []byte{i32Type}}
}

// guestImporting is guest with imports of any module and type.
func guestImporting(imports []imported, data string, code ...[]byte) []byte {
	var types, imps [][]byte
	for i, f := range imports {
		types = append(types, funcType(f.params, f.results))
		imps = append(imps, cat(str(f.module), str(f.name), []byte{0x00}, uleb(i)))
	}
	get := len(imports)
	types = append(types, funcType(nil, nil))
	body := cat(uleb(0), cat(code...), []byte{0x0b}) // no locals, code, end
	return cat(
		[]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00},
		section(1, vec(types...)),
		section(2, vec(imps...)),
		section(3, vec(uleb(get))),
		section(5, vec([]byte{0x00, 0x01})), // min 1 page
		section(7, vec(
			cat(str(abi.ExportMemory), []byte{0x02, 0x00}),
			cat(str("GET"), []byte{0x00}, uleb(get)),
		)),
		section(10, vec(cat(uleb(len(body)), body))),
		section(11, vec(cat([]byte{0x00}, i32(0), []byte{0x0b}, str(data)))),
	)
}

// Instructions.
var drop = []byte{0x1a}

func i32(v int32) []byte { return append([]byte{0x41}, sleb(int64(v))...) }
func i64(v int64) []byte { return append([]byte{0x42}, sleb(v)...) }
func call(f int) []byte  { return append([]byte{0x10}, uleb(f)...) }

// store pops an i32 and stores it at addr: "i32.const addr, <code>, i32.store".
func store(addr int32, code ...[]byte) []byte {
	return cat(i32(addr), cat(code...), []byte{0x36, 0x02, 0x00})
}

func funcType(params, results []byte) []byte {
	return cat([]byte{0x60}, uleb(len(params)), params, uleb(len(results)), results)
}

func section(id byte, content []byte) []byte { return cat([]byte{id}, uleb(len(content)), content) }
func vec(items ...[]byte) []byte             { return cat(uleb(len(items)), cat(items...)) }
func str(s string) []byte                    { return cat(uleb(len(s)), []byte(s)) }
func cat(bs ...[]byte) []byte                { return slices.Concat(bs...) }

func uleb(v int) []byte {
	var b []byte
	for ; v >= 0x80; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// instantiate returns the GET export of guest bin in a runtime with the
// host module.
func instantiate(t testing.TB, bin []byte) (api.Module, api.Function) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	if _, err := host.Instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	mod, err := r.Instantiate(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	return mod, mod.ExportedFunction("GET")
}

func TestInstantiate(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := host.Instantiate(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if mod.Name() != abi.ModuleName {
		t.Errorf("module name %q, want %q", mod.Name(), abi.ModuleName)
	}
	defs := mod.ExportedFunctionDefinitions()
	got := make([]abi.Func, len(defs))
	for name, d := range defs {
		for _, p := range slices.Concat(d.ParamTypes(), d.ResultTypes()) {
			if p != api.ValueTypeI32 {
				t.Errorf("%s has a %s parameter or result, want only i32", name, api.ValueTypeName(p))
			}
		}
		if len(d.ParamNames()) != len(d.ParamTypes()) {
			t.Errorf("%s names %d of its %d parameters", name, len(d.ParamNames()), len(d.ParamTypes()))
		}
		got[d.Index()] = abi.Func{Name: name, Params: len(d.ParamTypes()), Results: len(d.ResultTypes())}
	}
	if diff := cmp.Diff(abi.Funcs[:], got); diff != "" {
		t.Errorf("registered functions, in order (-want +got):\n%s", diff)
	}
	if _, err := host.Instantiate(ctx, r); err == nil {
		t.Errorf("a second Instantiate in one runtime succeeded")
	}
}

func TestGuest(t *testing.T) {
	imports := []string{abi.FuncSetStatus, abi.FuncHeaderAdd, abi.FuncBodyWrite, abi.FuncBodyRead, abi.FuncMethod}
	const setStatus, headerAdd, bodyWrite, bodyRead, method = 0, 1, 2, 3, 4
	const data = "set-cookiea=1b=2hello, " // name 0+10, values 10+3 and 13+3, body 16+7
	type response struct {
		Status int
		Header http.Header
		Body   string
	}
	tests := []struct {
		name    string
		ctx     func(*host.Exchange) context.Context
		code    [][]byte
		want    response
		results []int32 // i32s the guest stored at 0x100, 0x104, ...
		err     string  // the call's error, a trap
	}{
		{
			name: "status, cookies, body",
			code: [][]byte{
				store(0x100, i32(201), call(setStatus)),
				store(0x104, i32(0), i32(10), i32(10), i32(3), call(headerAdd)),
				store(0x108, i32(0), i32(10), i32(13), i32(3), call(headerAdd)),
				store(0x10c, i32(16), i32(7), call(bodyWrite)),
				store(0x110, i32(0x200), i32(0x100), call(method)), // writes "GET" at 0x200
				store(0x114, i32(0x200), i32(3), call(bodyWrite)),
				store(0x118, i32(404), call(setStatus)),
			},
			want:    response{Status: 201, Header: http.Header{"Set-Cookie": {"a=1", "b=2"}}, Body: "hello, GET"},
			results: []int32{0, 0, 0, 0, 3, 0, abi.ErrHeadersSent},
		},
		{
			name: "echo the body",
			code: [][]byte{
				// body_write(0x200, body_read(0x200, 0x100))
				store(0x100, i32(0x200), i32(0x200), i32(0x100), call(bodyRead), call(bodyWrite)),
			},
			want:    response{Status: 200, Header: http.Header{}, Body: "ping"},
			results: []int32{0},
		},
		{
			name: "out-of-bounds pointer traps",
			code: [][]byte{
				store(0x100, i32(16), i32(7), call(bodyWrite)),
				i32(-16), i32(32), call(bodyWrite), drop,
			},
			err:     "wasmroute_v1.body_write: buf [4294967280, +32) is outside memory (65536 bytes) (recovered by wazero)",
			want:    response{Status: 200, Header: http.Header{}, Body: "hello, "},
			results: []int32{0},
		},
		{
			name: "a call outside a request traps",
			ctx:  func(*host.Exchange) context.Context { return context.Background() },
			code: [][]byte{store(0x100, i32(201), call(setStatus))},
			err:  "wasmroute_v1.set_status: called outside a request (the context carries no host.Exchange) (recovered by wazero)",
			want: response{Status: 200, Header: http.Header{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod, get := instantiate(t, guest(imports, data, tc.code...))
			rec := httptest.NewRecorder()
			e := host.NewExchange(rec, httptest.NewRequest("GET", "/", nil), nil)
			e.Body = strings.NewReader("ping")
			ctx := host.WithExchange(context.Background(), e)
			if tc.ctx != nil {
				ctx = tc.ctx(e)
			}
			_, err := get.Call(ctx)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("GET: %v", err)
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Fatalf("GET returned error %v, want one starting with %q", err, tc.err)
			}
			if err := e.Finish(); err != nil {
				t.Errorf("Finish: %v", err)
			}
			got := response{rec.Code, rec.Result().Header, rec.Body.String()}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			for i, want := range tc.results {
				if got, _ := mod.Memory().ReadUint32Le(0x100 + 4*uint32(i)); int32(got) != want {
					t.Errorf("host call %d returned %d, want %d", i, int32(got), want)
				}
			}
		})
	}
}

// A guest whose GET writes "hello, world" and answers 201.
func ExampleInstantiate() {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := host.Instantiate(ctx, r); err != nil {
		panic(err)
	}
	// (module
	//   (import "wasmroute_v1" "set_status" (func $set_status (param i32) (result i32)))
	//   (import "wasmroute_v1" "body_write" (func $body_write (param i32 i32) (result i32)))
	//   (memory (export "memory") 1)
	//   (data (i32.const 0) "hello, world")
	//   (func (export "GET")
	//     (drop (call $set_status (i32.const 201)))
	//     (drop (call $body_write (i32.const 0) (i32.const 12)))))
	bin := guest([]string{abi.FuncSetStatus, abi.FuncBodyWrite}, "hello, world",
		i32(201), call(0), drop,
		i32(0), i32(12), call(1), drop)
	mod, err := r.Instantiate(ctx, bin)
	if err != nil {
		panic(err)
	}
	get := mod.ExportedFunction("GET") // look up once, call per request

	w := httptest.NewRecorder()
	e := host.NewExchange(w, httptest.NewRequest("GET", "/", nil), nil)
	if _, err := get.Call(host.WithExchange(ctx, e)); err != nil {
		panic(err)
	}
	if err := e.Finish(); err != nil {
		panic(err)
	}
	fmt.Println(w.Code, w.Body)
	// Output: 201 hello, world
}

// BenchmarkGuest serves one request through a guest whose GET sets the
// status and writes a body, against a native handler writing the same.
func BenchmarkGuest(b *testing.B) {
	const body = "hello, world"
	rec := httptest.NewRecorder()
	rec.Body = nil // discard
	req := httptest.NewRequest("GET", "/", nil)
	b.Run("native", func(b *testing.B) {
		body := []byte(body)
		b.ReportAllocs()
		for b.Loop() {
			rec.WriteHeader(201)
			rec.Write(body)
		}
	})
	b.Run("guest", func(b *testing.B) {
		_, get := instantiate(b, guest([]string{abi.FuncSetStatus, abi.FuncBodyWrite}, body,
			i32(201), call(0), drop,
			i32(0), i32(int32(len(body))), call(1), drop))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			e := host.NewExchange(rec, req, nil)
			if err := get.CallWithStack(host.WithExchange(ctx, e), nil); err != nil {
				b.Fatal(err)
			}
			e.Finish()
		}
	})
	b.Run("guest/reused exchange", func(b *testing.B) {
		_, get := instantiate(b, guest([]string{abi.FuncSetStatus, abi.FuncBodyWrite}, body,
			i32(201), call(0), drop,
			i32(0), i32(int32(len(body))), call(1), drop))
		ctx := context.Background()
		e := host.NewExchange(rec, req, nil)
		b.ReportAllocs()
		for b.Loop() {
			e.Reset(rec, req, nil)
			if err := get.CallWithStack(host.WithExchange(ctx, e), nil); err != nil {
				b.Fatal(err)
			}
			e.Finish()
		}
	})
}

// clockSubscription is a WASI subscription to a relative monotonic clock.
func clockSubscription(userdata string, timeout time.Duration) string {
	b := make([]byte, 48)
	copy(b, userdata)
	binary.LittleEndian.PutUint32(b[16:], 1) // monotonic
	binary.LittleEndian.PutUint64(b[24:], uint64(timeout))
	return string(b)
}

// TestWASISleep runs a guest whose GET sleeps with poll_oneoff (as Go's
// time.Sleep does), then writes "woke": a cancelled request stops it at once.
func TestWASISleep(t *testing.T) {
	imports := []imported{
		wasiFunc("poll_oneoff", i32Type, i32Type, i32Type, i32Type),
		{abi.ModuleName, abi.FuncBodyWrite, []byte{i32Type, i32Type}, []byte{i32Type}},
	}
	sleepThenWrite := func(timeout time.Duration) []byte {
		return guestImporting(imports, clockSubscription("sleeper!", timeout)+"woke",
			// poll_oneoff(in=0, out=0x200, nsubscriptions=1, result.nevents=0x104)
			store(0x100, i32(0), i32(0x200), i32(1), i32(0x104), call(0)),
			i32(48), i32(4), call(1), drop)
	}
	tests := []struct {
		name        string
		bin         []byte
		closeOnDone bool          // the runtime's WithCloseOnContextDone
		done        time.Duration // Exchange.Done is closed after this
		closeFirst  bool          // ... right after module.CloseWithExitCode
		noExchange  time.Duration // no Exchange: the context's deadline
		err         error         // want errors.Is
		body        string
	}{
		{
			name: "Done closed during a one-hour sleep",
			bin:  sleepThenWrite(time.Hour),
			done: 50 * time.Millisecond,
			err:  context.Canceled,
		},
		{
			name:        "the runtime's way: close the module, then Done",
			bin:         sleepThenWrite(time.Hour),
			closeOnDone: true,
			done:        50 * time.Millisecond,
			closeFirst:  true,
			err:         context.Canceled,
		},
		{
			name:       "no Exchange: the context's deadline, as during _initialize",
			bin:        guestImporting(imports[:1], clockSubscription("sleeper!", time.Hour), store(0x100, i32(0), i32(0x200), i32(1), i32(0x104), call(0))),
			noExchange: 50 * time.Millisecond,
			err:        context.DeadlineExceeded,
		},
		{
			name: "a short sleep",
			bin:  sleepThenWrite(time.Millisecond),
			done: time.Hour,
			body: "woke",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(tc.closeOnDone))
			defer r.Close(ctx)
			if _, err := host.InstantiateWASI(ctx, r); err != nil {
				t.Fatal(err)
			}
			if _, err := host.Instantiate(ctx, r); err != nil {
				t.Fatal(err)
			}
			mod, err := r.Instantiate(ctx, tc.bin)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			e := host.NewExchange(rec, httptest.NewRequest("GET", "/", nil), nil)
			callCtx := host.WithExchange(ctx, e)
			if tc.noExchange > 0 {
				var cancel context.CancelFunc
				callCtx, cancel = context.WithTimeout(ctx, tc.noExchange)
				defer cancel()
			} else {
				done := make(chan struct{})
				e.Done = done
				defer time.AfterFunc(tc.done, func() {
					if tc.closeFirst {
						mod.CloseWithExitCode(ctx, 99)
					}
					close(done)
				}).Stop()
			}

			start := time.Now()
			_, err = mod.ExportedFunction("GET").Call(callCtx)
			// A behaviour check with a huge margin: not cancelled, the
			// call lasts an hour.
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("GET returned after %v", elapsed)
			}
			var exit *sys.ExitError
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("GET: %v", err)
			case tc.err != nil && (!errors.As(err, &exit) || !errors.Is(err, tc.err)):
				t.Fatalf("GET returned error %v, want a *sys.ExitError matching %v", err, tc.err)
			}
			if got := rec.Body.String(); got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			// The guest stored poll_oneoff's errno at 0x100 and the count
			// of events at 0x104; the event is at 0x200.
			var wantMem []byte // untouched: the call ended inside poll_oneoff
			if tc.err == nil {
				wantMem = binary.LittleEndian.AppendUint32(nil, 0) // ESUCCESS
				wantMem = binary.LittleEndian.AppendUint32(wantMem, 1)
			}
			if got, _ := mod.Memory().Read(0x100, uint32(len(wantMem))); !bytes.Equal(got, wantMem) {
				t.Errorf("memory at 0x100: % x, want % x", got, wantMem)
			}
			if tc.err == nil {
				got, _ := mod.Memory().Read(0x200, 16)
				if want := "sleeper!\x00\x00\x00\x00\x00\x00\x00\x00"; string(got) != want { // userdata, errno 0, clock
					t.Errorf("event %q, want %q", got, want)
				}
			}
		})
	}
}

// TestWASIFunctions calls WASI functions other than poll_oneoff through a
// guest: they are wazero's, configured by the module's config.
func TestWASIFunctions(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := host.InstantiateWASI(ctx, r); err != nil {
		t.Fatal(err)
	}
	bin := guestImporting([]imported{
		wasiFunc("random_get", i32Type, i32Type),
		wasiFunc("clock_time_get", i32Type, i64Type, i32Type),
	}, "",
		store(0x100, i32(0x200), i32(16), call(0)),        // random_get(buf, buf_len)
		store(0x104, i32(0), i64(1), i32(0x210), call(1)), // clock_time_get(realtime, precision, result.timestamp)
		store(0x108, i32(2), i64(1), i32(0x220), call(1)), // process CPU time: EINVAL
	)
	const random = "0123456789abcdef"
	config := wazero.NewModuleConfig().WithSysWalltime().WithRandSource(strings.NewReader(random))
	mod, err := r.InstantiateWithConfig(ctx, bin, config)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := mod.ExportedFunction("GET").Call(ctx); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	mem := mod.Memory()
	var errnos [3]uint32
	for i := range errnos {
		errnos[i], _ = mem.ReadUint32Le(0x100 + 4*uint32(i))
	}
	if want := [3]uint32{0, 0, 28}; errnos != want {
		t.Errorf("errnos %v, want %v", errnos, want)
	}
	if got, _ := mem.Read(0x200, 16); string(got) != random {
		t.Errorf("random_get wrote %q, want %q from the module's random source", got, random)
	}
	ns, _ := mem.ReadUint64Le(0x210)
	if now := time.Unix(0, int64(ns)); now.Before(before.Truncate(time.Microsecond)) || now.After(after) {
		t.Errorf("clock_time_get(realtime) = %v, want between %v and %v", now, before, after)
	}
}
