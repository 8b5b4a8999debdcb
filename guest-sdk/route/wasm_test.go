package route_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmroute/wasmroute/abi"
	"github.com/wasmroute/wasmroute/guest-sdk/route"
	"github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin"
	"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"
)

// goTool returns the go command, or skips the test without one.
func goTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	return path
}

// goWasip1 runs the go command for GOOS=wasip1 GOARCH=wasm and returns its
// output.
func goWasip1(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool(t), args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestLean checks that neither the SDK nor a guest using it links net/http,
// or the native stand-in, when built for wasip1.
func TestLean(t *testing.T) {
	const sdk = "github.com/wasmroute/wasmroute/guest-sdk/route"
	for _, tt := range []struct{ pkg, sdk string }{
		{".", sdk},
		{"./kv", sdk + "/kv"},
		{"./testdata/guest/route.go", sdk + "/kv"},
	} {
		pkg := tt.pkg
		deps := strings.Fields(goWasip1(t, "list", "-deps", pkg))
		if !slices.Contains(deps, tt.sdk) {
			t.Fatalf("go list -deps %s (wasip1) does not list %s:\n%s", pkg, tt.sdk, deps)
		}
		for _, banned := range []string{"net/http", "github.com/wasmroute/wasmroute/guest-sdk/route/internal/standin",
			"github.com/wasmroute/wasmroute/guest-sdk/route/routetest"} {
			if slices.Contains(deps, banned) {
				t.Errorf("go list -deps %s (wasip1): has %s", pkg, banned)
			}
		}
	}
}

// TestWasmGuest builds testdata/guest/route.go for wasip1 with the real
// toolchain, checks its imports and exports, and serves requests with it
// through a minimal wazero host that answers the wasmroute_v1 functions
// from the same in-memory stand-in as routetest. It covers host_wasip1.go,
// which native tests never compile.
func TestWasmGuest(t *testing.T) {
	goTool(t)
	if testing.Short() {
		t.Skip("builds a wasm module")
	}
	wasmPath := filepath.Join(t.TempDir(), "route.wasm")
	goWasip1(t, "build", "-buildmode=c-shared", "-o", wasmPath, "./testdata/guest/route.go")
	bin, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guest: %d bytes", len(bin))

	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("imports", func(t *testing.T) {
		want := map[string]abi.Func{}
		for _, f := range hostFuncs() {
			want[f.Name] = f
		}
		imported := map[string]bool{}
		for _, def := range compiled.ImportedFunctions() {
			mod, name, _ := def.Import()
			if mod != abi.ModuleName {
				continue
			}
			imported[name] = true
			f, ok := want[name]
			if !ok {
				t.Errorf("imports %s.%s, which abi does not define", mod, name)
				continue
			}
			got := abi.Func{Name: name, Params: len(def.ParamTypes()), Results: len(def.ResultTypes())}
			if got != f || slices.ContainsFunc(append(def.ParamTypes(), def.ResultTypes()...), func(v api.ValueType) bool { return v != api.ValueTypeI32 }) {
				t.Errorf("import %s: %v %v, want %d i32 params and %d i32 results",
					name, def.ParamTypes(), def.ResultTypes(), f.Params, f.Results)
			}
		}
		// The guest exercises every service function through its import.
		for _, f := range serviceFuncs {
			if !imported[f.Name] {
				t.Errorf("the test guest does not import %s", f.Name)
			}
		}
		var exports []string
		for name := range compiled.ExportedFunctions() {
			if slices.Contains(abi.Methods[:], name) || name == abi.ExportInitialize {
				exports = append(exports, name)
			}
		}
		slices.Sort(exports)
		if diff := cmp.Diff([]string{"GET", "POST", "_initialize"}, exports); diff != "" {
			t.Errorf("exports (-want +got):\n%s", diff)
		}
	})

	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if err := instantiateTestHost(ctx, rt); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().
		WithStartFunctions(abi.ExportInitialize).WithSysWalltime().WithSysNanotime().
		WithSysNanosleep().WithRandSource(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	call := func(t *testing.T, x *standin.Exchange) error {
		t.Helper()
		var err error
		standin.Run(x, func() { _, err = mod.ExportedFunction(x.Method).Call(ctx) })
		return err
	}

	t.Run("request", func(t *testing.T) {
		x := &standin.Exchange{
			Method: "GET", Path: "/blog/hello%20world/a/b", Query: "tag=a&tag=b&x=%3D",
			Protocol: "HTTP/2.0", RemoteAddr: "192.0.2.7:4711",
			Header: fields("Host", "example.com", "X-Multi", "1", "x-multi", "2",
				"Cookie", "session=abc; other=x", "X-Long", strings.Repeat("L", 5000)),
			Params: []standin.Param{
				{Name: "slug", Values: []string{"hello world"}},
				{Name: "rest", Values: []string{"a", "b"}},
			},
		}
		if err := call(t, x); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(x.RespBody, &got); err != nil {
			t.Fatalf("%v: %s", err, x.RespBody)
		}
		want := map[string]any{
			"method": "GET", "path": "/blog/hello%20world/a/b", "rawQuery": "tag=a&tag=b&x=%3D",
			"query":    map[string]any{"tag": []any{"a", "b"}, "x": []any{"="}},
			"protocol": "HTTP/2.0", "remoteAddr": "192.0.2.7:4711",
			"headerNames": []any{"cookie", "host", "x-long", "x-multi"},
			"x-multi":     []any{"1", "2"}, "x-absent": nil, "x-long": 5000.0,
			"paramNames": []any{"slug", "rest"}, "slug": "hello world", "rest": []any{"a", "b"},
			"session": "abc",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
		if x.Status != 201 {
			t.Errorf("status %d, want 201", x.Status)
		}
		wantHeader := fields("Set-Cookie", "a=1", "Set-Cookie", "b=2", "Content-Type", "application/json")
		if diff := cmp.Diff(wantHeader, x.RespHeader); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
	})

	t.Run("echo 1 MiB", func(t *testing.T) {
		body := make([]byte, 1<<20)
		rand.Read(body)
		x := &standin.Exchange{
			Method: "POST", Path: "/echo",
			Header: fields("Content-Type", "application/octet-stream"),
			Body:   bytes.NewReader(body),
		}
		if err := call(t, x); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.RespBody, body) {
			t.Errorf("echoed %d bytes, not the %d sent", len(x.RespBody), len(body))
		}
	})

	t.Run("stream", func(t *testing.T) {
		x := &standin.Exchange{Method: "GET", Path: "/", Query: "op=stream"}
		if err := call(t, x); err != nil {
			t.Fatal(err)
		}
		if got, want := string(x.RespBody), "data: 0\n\ndata: 1\n\ndata: 2\n\n"; got != want {
			t.Errorf("body %q, want %q", got, want)
		}
		if diff := cmp.Diff([]int{9, 18, 27}, x.Flushes); diff != "" {
			t.Errorf("flushes (-want +got):\n%s", diff)
		}
	})

	t.Run("crash", func(t *testing.T) {
		if err := call(t, &standin.Exchange{Method: "GET", Path: "/", Query: "op=crash"}); err == nil {
			t.Error("a panicking guest returned no error")
		}
	})

	t.Run("fetch", func(t *testing.T) {
		// The head and each chunk of the body arrive only after the guest
		// was told ErrPending, so that it must wait in fetch_poll.
		release := make(chan struct{})
		var sent http.Header
		x := &standin.Exchange{
			Method: "GET", Path: "/", Query: "op=fetch&url=" + url.QueryEscape("https://api.test/data"),
			Fetch: func(r *http.Request) (*http.Response, error) {
				sent = r.Header
				<-release
				return &http.Response{StatusCode: 203, Header: http.Header{"Content-Type": {"text/x-test"}},
					Body: &slowBody{parts: []string{"hello ", "from ", "upstream"}, release: release}}, nil
			},
			OnCall: func(call string) {
				if strings.HasSuffix(call, "-> ErrPending") {
					release <- struct{}{}
				}
			},
		}
		if err := call(t, x); err != nil {
			t.Fatal(err)
		}
		if x.Status != 203 || string(x.RespBody) != "hello from upstream" {
			t.Errorf("answered %d %q", x.Status, x.RespBody)
		}
		if diff := cmp.Diff(fields("Content-Type", "text/x-test"), x.RespHeader); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
		if got := sent.Get("X-From"); got != "guest" {
			t.Errorf("the upstream got X-From %q", got)
		}
		pending, polls, reads := 0, 0, 0
		for _, c := range x.Trace {
			switch {
			case strings.HasSuffix(c, "-> ErrPending"):
				pending++
			case strings.HasPrefix(c, "fetch_poll [1] -1 -> 0"):
				polls++
			case strings.HasPrefix(c, "fetch_body_read 1 -> "):
				reads++
			}
		}
		// The head, 3 chunks and the end each waited once; 3-byte reads.
		if pending != 5 || polls != 5 || reads < 7 {
			t.Errorf("%d ErrPending, %d polls, %d reads; trace:\n%s", pending, polls, reads, strings.Join(x.Trace, "\n"))
		}
		if last := x.Trace[len(x.Trace)-1]; last != "fetch_close 1 -> 0" {
			t.Errorf("last call %q, want the handle closed", last)
		}
	})

	t.Run("fetch denied", func(t *testing.T) {
		x := &standin.Exchange{Method: "GET", Path: "/", Query: "op=fetch&url=" + url.QueryEscape("https://api.test/x")}
		if err := call(t, x); err != nil {
			t.Fatal(err)
		}
		want := `denied=true fetch https://api.test/x: denied: add "https://api.test" to allowedOutboundHosts (in a test: set routetest.Request.Fetch)`
		if x.Status != 502 || string(x.RespBody) != want {
			t.Errorf("answered %d %q, want 502 %q", x.Status, x.RespBody, want)
		}
	})

	t.Run("fetchall", func(t *testing.T) {
		bCalled := make(chan struct{})
		x := &standin.Exchange{
			Method: "GET", Path: "/", Query: "op=fetchall&url=https://a.test/&url=https://b.test/",
			Fetch: func(r *http.Request) (*http.Response, error) {
				if r.URL.Host == "a.test" {
					<-bCalled // both in flight at once, or this never returns
				} else {
					close(bCalled)
				}
				return &http.Response{StatusCode: 200 + len(r.URL.Host), Header: http.Header{},
					Body: io.NopCloser(strings.NewReader(r.URL.Host))}, nil
			},
		}
		if err := call(t, x); err != nil {
			t.Fatal(err)
		}
		if want := `{"bodies":["a.test","b.test"],"statuses":[206,206]}`; string(x.RespBody) != want {
			t.Errorf("answered %d %s, want %s", x.Status, x.RespBody, want)
		}
		if len(x.Trace) < 3 || !strings.HasPrefix(x.Trace[2], "fetch_poll [1 2] -1 -> ") {
			t.Errorf("trace does not start both, then poll both:\n%s", strings.Join(x.Trace, "\n"))
		}
	})

	t.Run("kv", func(t *testing.T) {
		// The guest is called from a handler run by routetest, whose
		// exchange, with store as its namespace, answers the guest's calls.
		store := &routetest.KV{}
		req := routetest.NewRequest("GET", "/?op=kv", nil)
		req.KV = store
		var err error
		res := routetest.Run(func(*route.Response, *route.Request) {
			_, err = mod.ExportedFunction("GET").Call(ctx)
		}, req)
		if err != nil {
			t.Fatal(err)
		}
		var got []any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatalf("%v: %s", err, res.Body)
		}
		want := []any{
			nil, "hello", nil, true, 41.0, 42.0, []any{"big", "count", "greeting"},
			nil, map[string]any{"a": []any{1.0, 2.0}}, nil, true,
			`error: kv incr "big": not an integer: the value is "` + string(alphabet(3000)) + `"`, true,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"big", "count", "json"}, store.Keys()); diff != "" {
			t.Errorf("keys left (-want +got):\n%s", diff)
		}
	})
}

// instantiateTestHost registers every abi function (hostFuncs), answered by
// package standin over the guest's memory. A range outside memory panics, which
// wazero turns into an error for the call, as the real host traps.
func instantiateTestHost(ctx context.Context, rt wazero.Runtime) error {
	mem := func(m api.Module, ptr, n uint64) []byte {
		b, ok := m.Memory().Read(uint32(ptr), uint32(n))
		if !ok {
			panic("out of range")
		}
		return b
	}
	str := func(m api.Module, ptr, n uint64) string { return string(mem(m, ptr, n)) }
	getter := func(f func([]byte) uint32) api.GoModuleFunc {
		return func(_ context.Context, m api.Module, s []uint64) { s[0] = uint64(f(mem(m, s[0], s[1]))) }
	}
	named := func(f func(string, []byte) uint32) api.GoModuleFunc {
		return func(_ context.Context, m api.Module, s []uint64) {
			s[0] = uint64(f(str(m, s[0], s[1]), mem(m, s[2], s[3])))
		}
	}
	pair := func(f func(string, string) int32) api.GoModuleFunc {
		return func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(f(str(m, s[0], s[1]), str(m, s[2], s[3])))
		}
	}
	fns := map[string]api.GoModuleFunc{
		abi.FuncMethod:       getter(standin.Method),
		abi.FuncPath:         getter(standin.Path),
		abi.FuncQuery:        getter(standin.Query),
		abi.FuncProtocol:     getter(standin.Protocol),
		abi.FuncRemoteAddr:   getter(standin.RemoteAddr),
		abi.FuncHeaderNames:  getter(standin.HeaderNames),
		abi.FuncHeaderValues: named(standin.HeaderValues),
		abi.FuncParamNames:   getter(standin.ParamNames),
		abi.FuncParamValues:  named(standin.ParamValues),
		abi.FuncBodyRead: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.BodyRead(mem(m, s[0], s[1])))
		},
		abi.FuncSetStatus: func(_ context.Context, _ api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.SetStatus(api.DecodeI32(s[0])))
		},
		abi.FuncHeaderSet: pair(standin.HeaderSet),
		abi.FuncHeaderAdd: pair(standin.HeaderAdd),
		abi.FuncHeaderDel: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.HeaderDel(str(m, s[0], s[1])))
		},
		abi.FuncBodyWrite: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.BodyWrite(mem(m, s[0], s[1])))
		},
		abi.FuncFlush: func(_ context.Context, _ api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.Flush())
		},
		abi.FuncRespond: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.Respond(api.DecodeI32(s[0]), mem(m, s[1], s[2]), mem(m, s[3], s[4])))
		},
		abi.FuncErrorMessage: getter(standin.ErrorMessage),
		abi.FuncFetchStart: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.FetchStart(mem(m, s[0], s[1]), mem(m, s[2], s[3]), api.DecodeI32(s[4])))
		},
		abi.FuncFetchPoll: func(_ context.Context, m api.Module, s []uint64) {
			count := api.DecodeU32(s[1])
			if count > 1<<20 {
				panic("out of range")
			}
			raw := mem(m, s[0], uint64(count)*4)
			handles := make([]uint32, count)
			for i := range handles {
				handles[i] = binary.LittleEndian.Uint32(raw[4*i:])
			}
			s[0] = api.EncodeI32(standin.FetchPoll(handles, api.DecodeI32(s[2])))
		},
		abi.FuncFetchHead: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.FetchHead(api.DecodeI32(s[0]), mem(m, s[1], s[2])))
		},
		abi.FuncFetchBodyRead: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.FetchBodyRead(api.DecodeI32(s[0]), mem(m, s[1], s[2])))
		},
		abi.FuncFetchClose: func(_ context.Context, _ api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.FetchClose(api.DecodeI32(s[0])))
		},
		abi.FuncKVGet: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.KVGet(str(m, s[0], s[1]), mem(m, s[2], s[3])))
		},
		abi.FuncKVSet: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.KVSet(str(m, s[0], s[1]), mem(m, s[2], s[3]), api.DecodeI32(s[4])))
		},
		abi.FuncKVDelete: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.KVDelete(str(m, s[0], s[1])))
		},
		abi.FuncKVList: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.KVList(str(m, s[0], s[1]), mem(m, s[2], s[3])))
		},
		abi.FuncKVIncr: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.KVIncr(str(m, s[0], s[1]), mem(m, s[2], 8)))
		},
		abi.FuncCacheRevalidate: func(_ context.Context, m api.Module, s []uint64) {
			s[0] = api.EncodeI32(standin.CacheRevalidate(str(m, s[0], s[1])))
		},
	}
	b := rt.NewHostModuleBuilder(abi.ModuleName)
	for _, f := range hostFuncs() {
		fn, ok := fns[f.Name]
		if !ok {
			return fmt.Errorf("the test host has no stand-in for %s", f.Name)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(fn, i32s(f.Params), i32s(f.Results)).
			Export(f.Name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func i32s(n int) []api.ValueType {
	return slices.Repeat([]api.ValueType{api.ValueTypeI32}, n)
}

// serviceFuncs are the functions abi.Services lists until the host serves
// them and they join abi.Funcs. The test names them from their constants, so
// that it keeps building when abi.Services is merged into abi.Funcs and
// removed.
var serviceFuncs = []abi.Func{
	{Name: abi.FuncErrorMessage, Params: 2, Results: 1},
	{Name: abi.FuncFetchStart, Params: 5, Results: 1},
	{Name: abi.FuncFetchPoll, Params: 3, Results: 1},
	{Name: abi.FuncFetchHead, Params: 3, Results: 1},
	{Name: abi.FuncFetchBodyRead, Params: 3, Results: 1},
	{Name: abi.FuncFetchClose, Params: 1, Results: 1},
	{Name: abi.FuncKVGet, Params: 4, Results: 1},
	{Name: abi.FuncKVSet, Params: 5, Results: 1},
	{Name: abi.FuncKVDelete, Params: 2, Results: 1},
	{Name: abi.FuncKVList, Params: 4, Results: 1},
	{Name: abi.FuncKVIncr, Params: 3, Results: 1},
}

// hostFuncs returns abi.Funcs and the serviceFuncs it does not list yet.
func hostFuncs() []abi.Func {
	all := slices.Clone(abi.Funcs[:])
	for _, f := range serviceFuncs {
		if !slices.ContainsFunc(all, func(g abi.Func) bool { return g.Name == f.Name }) {
			all = append(all, f)
		}
	}
	return all
}

// slowBody is an upstream body that gives one part per Read, then io.EOF,
// each only once release says so.
type slowBody struct {
	parts   []string
	release <-chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	<-b.release
	if len(b.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.parts[0])
	b.parts = b.parts[1:]
	return n, nil
}

func (b *slowBody) Close() error { return nil }

// alphabet returns n bytes of a..z repeated, as the test guest stores.
func alphabet(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// fields makes header fields from name, value pairs.
func fields(kv ...string) []standin.Field {
	var fs []standin.Field
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, standin.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}
